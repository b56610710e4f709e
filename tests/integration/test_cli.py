"""The `segito` command, in-process through click's CliRunner, against the test database of each backend."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import main
from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent, ProcessDefinition
from tests import demo_data

from .helpers import new_family_case, snapshot, task_of, waiting_steps

FAMILY = BPMN_DIR / "family_care" / "family_care.bpmn"


class Segito:
    """Runs `segito ARGS` with DATABASE_URL pointing at the test database (and no SEGITO_USER from outside)."""

    def __init__(self, database_url: str):
        self.env = {"DATABASE_URL": database_url, "SEGITO_USER": None}

    def __call__(self, *args, input: str | None = None, env: dict | None = None):
        runner = CliRunner()
        return runner.invoke(main, [str(a) for a in args], input=input, env={**self.env, **(env or {})},
                             catch_exceptions=False)

    def ok(self, *args, **kw):
        result = self(*args, **kw)
        assert result.exit_code == 0, f"segito {' '.join(map(str, args))} → {result.exit_code}: {result.output}"
        return json.loads(result.stdout)


@pytest.fixture
def segito(runtime, people, database_url):
    return Segito(database_url)


def _counts(runtime) -> tuple[int, int]:
    with runtime.db.reading() as session:
        return (session.execute(select(func.count(ProcessDefinition.id))).scalar(),
                session.execute(select(func.count(AuditEvent.id))).scalar())


def test_intake_and_family_care_from_the_command_line(runtime, segito, tmp_path):
    started = segito.ok("case", "start", "intake", "--as", "anna")
    case_id = started["case_id"]
    assert started["process_key"] == "intake" and [t["bpmn_id"] for t in started["tasks"]] == ["intake_registration"]

    inbox = segito.ok("inbox", "--as", "anna")
    mine = [t for t in inbox["items"] if t["case_id"] == case_id]
    assert inbox["total"] == 1 and len(mine) == 1 and mine[0]["step"] == "intake"
    task_id = mine[0]["task_id"]
    assert segito.ok("inbox", "--as", "bela")["total"] == 0, "anna's task is not in bela's inbox"

    shown = segito.ok("task", "show", task_id, "--as", "anna")
    assert shown["task_id"] == task_id and shown["state"] == "ready" and shown["form_file"] == "intake.json"
    assert {"family_name", "birth_date", "mother_name"} <= set(shown["form"]["properties"])

    data_file = tmp_path / "intake.json"
    data_file.write_text(json.dumps(demo_data.intake_data(1), ensure_ascii=False), encoding="utf-8")
    done = segito.ok("task", "complete", task_id, "--data", f"@{data_file}", "--as", "anna")
    assert done == {"task_id": task_id, "case_id": case_id, "case_status": "completed", "next_tasks": []}

    case = segito.ok("case", "show", case_id, "--as", "anna")
    assert case["status"] == "completed" and case["client"]["family_name"] == "Szabó"
    code = case["client"]["client_code"]
    assert re.fullmatch(r"K-[0-9A-Z]{8}", code)

    history = segito.ok("case", "history", case_id, "--as", "anna")
    kinds = [e["kind"] for e in history]
    assert kinds[0] == "case_started" and {"task_created", "task_completed", "client_registered"} <= set(kinds)
    completed = [e for e in history if e["kind"] == "task_completed"][0]
    assert completed["actor"] == "anna" and completed["task_id"] == task_id
    assert completed["payload"]["after"]["family_name"] == "Szabó"
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    with runtime.db.reading() as session:  # every look at the file from the command line is logged, as on the web
        looks = session.execute(select(AuditEvent.kind, AuditEvent.payload).where(
            AuditEvent.case_id == case_id, AuditEvent.kind.in_(["case_viewed", "task_viewed"]))
            .order_by(AuditEvent.seq)).all()
    assert [(k, p) for k, p in looks] == [("task_viewed", {"via": "cli"}), ("case_viewed", {"via": "cli"}),
                                          ("case_viewed", {"via": "cli", "what": "history"})]

    family = segito.ok("case", "start", "family_care", "--client", code, "--as", "anna")
    assert [t["bpmn_id"] for t in family["tasks"]] == ["step_3_1"]
    step = segito.ok("inbox", "--as", "anna", "--step", "3.1", "--client", code)["items"]
    assert [t["case_id"] for t in step] == [family["case_id"]]
    done = segito.ok("task", "complete", step[0]["task_id"], "--data", "-", "--as", "anna",
                     input=json.dumps(demo_data.assessment_data()))
    assert [t["step"] for t in done["next_tasks"]] == ["3.2"]
    assert waiting_steps(runtime, family["case_id"]) == ["3.2"]

    listed = segito.ok("case", "list", "--as", "anna")
    assert [c["case_id"] for c in listed] == [family["case_id"], case_id]


def test_the_acting_user_may_come_from_the_environment(segito):
    started = segito.ok("case", "start", "intake", env={"SEGITO_USER": "anna"})
    assert segito.ok("case", "show", started["case_id"], env={"SEGITO_USER": "anna"})["started_by"] == "anna"
    result = segito("case", "start", "intake")
    assert result.exit_code == 2 and "--as" in result.output, "without --as or SEGITO_USER the command refuses"


def test_an_unknown_user_is_refused(runtime, segito):
    before = _counts(runtime)
    result = segito("case", "start", "intake", "--as", "nobody")
    assert result.exit_code == 2 and "no active user 'nobody'" in result.stderr
    assert _counts(runtime) == before


def test_malformed_json_data_is_refused_with_its_line_and_column(runtime, people, segito, tmp_path):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    before = snapshot(runtime, case_id)
    result = segito("task", "complete", task_id, "--data", '{"household_size": 3,\n "phone": }', "--as", "anna")
    assert result.exit_code != 0
    assert "malformed JSON at line 2, column 11" in result.output, result.output
    bad_file = tmp_path / "bad.json"
    bad_file.write_text('{\n  "household_size": 3\n  "phone": "1"\n}', encoding="utf-8")
    result = segito("task", "complete", task_id, "--data", f"@{bad_file}", "--as", "anna")
    assert result.exit_code != 0 and "line 3, column 3" in result.output, result.output
    assert snapshot(runtime, case_id) == before


def test_invalid_data_is_refused_with_every_field_error(runtime, people, segito):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    before = snapshot(runtime, case_id)
    data = demo_data.assessment_data()
    data.update(household_size="három", taken_into_care_date="2026-02-30", problem_types=["astrology"])
    result = segito("task", "complete", task_id, "--data", json.dumps(data), "--as", "anna")
    assert result.exit_code == 2
    assert result.stdout == "", "nothing is printed as a result"
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: form 'assessment.json' has 3 error(s)")
    assert "  household_size: \"három\" is not of type integer" in lines
    assert any(line.startswith("  taken_into_care_date: ") and "not a valid date" in line for line in lines)
    assert any(line.startswith("  problem_types/0: ") and "not one of the options" in line for line in lines)
    assert snapshot(runtime, case_id) == before


def test_another_caseworkers_task_and_a_finished_task_are_refused(runtime, people, segito):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    before = snapshot(runtime, case_id)
    result = segito("task", "show", task_id, "--as", "bela")
    assert result.exit_code == 2 and f"task {task_id} is not yours to see" in result.stderr
    result = segito("case", "history", case_id, "--as", "bela")
    assert result.exit_code == 2 and f"case {case_id} is not yours to see" in result.stderr
    result = segito("task", "complete", task_id, "--data", json.dumps(demo_data.assessment_data()), "--as", "bela")
    assert result.exit_code == 2 and "not yours to work on" in result.stderr
    assert snapshot(runtime, case_id) == before
    segito.ok("task", "complete", task_id, "--data", json.dumps(demo_data.assessment_data()), "--as", "anna")
    after = snapshot(runtime, case_id)
    result = segito("task", "complete", task_id, "--data", json.dumps(demo_data.assessment_data()), "--as", "anna")
    assert result.exit_code == 2 and "already completed by anna" in result.stderr
    assert snapshot(runtime, case_id) == after


def test_definitions_are_listed(segito):
    listed = segito.ok("definitions")
    # Every process that a package in bpmn/ declares is deployed once, by the system, at start-up.
    declared = {key for manifest in BPMN_DIR.glob("*/service.yaml")
                for key in (yaml.safe_load(manifest.read_text(encoding="utf-8"))["processes"] or {})}
    assert {"intake", "family_care", "job_retention"} <= declared
    assert {(d["process_key"], d["version"], d["deployed_by"]) for d in listed} == {
        (key, 1, "system") for key in declared}
    assert all(re.fullmatch(r"[0-9a-f]{64}", d["content_hash"]) for d in listed)


def test_a_process_designer_deploys_a_new_version(runtime, segito, tmp_path):
    # A BPMN file in a package folder deploys its package (docs/services.md, "Deploying").
    [unchanged] = segito.ok("deploy", FAMILY, "--as", "dora")
    assert (unchanged["package"], unchanged["version"], unchanged["created"]) == ("family_care", 1, False)
    copy_dir = tmp_path / "family_care"
    shutil.copytree(FAMILY.parent, copy_dir)
    changed = copy_dir / "family_care.bpmn"
    changed.write_bytes(FAMILY.read_bytes().replace(b'name="3.3 Esetmunka"', b'name="3.3 Esetmunka (v2)"', 1))
    [deployed] = segito.ok("deploy", changed, "--as", "dora")
    assert (deployed["version"], deployed["created"], deployed["processes"]) == (
        2, True, [{"process_key": "family_care", "version": 2, "created": True}])
    assert segito.ok("deploy", copy_dir, "--as", "dora")[0]["created"] is False
    listed = segito.ok("definitions")
    assert [(d["version"], d["deployed_by"]) for d in listed if d["process_key"] == "family_care"] == [
        (1, "system"), (2, "dora")]
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(changed, alone / "family_care.bpmn")
    shutil.copytree(copy_dir / "forms", alone / "forms")
    text = (alone / "family_care.bpmn").read_bytes().replace(b"(v2)", b"(v3)", 1)
    (alone / "family_care.bpmn").write_bytes(text)
    # Outside any package folder a file is deployed on its own, and stays in its process's package.
    assert segito.ok("deploy", alone / "family_care.bpmn", "--as", "dora") == {
        "process_key": "family_care", "version": 3, "created": True}
    assert [p["processes"] for p in segito.ok("packages") if p["package"] == "family_care"] == [
        [{"process_key": "family_care", "version": 1}],
        [{"process_key": "family_care", "version": 2}, {"process_key": "family_care", "version": 3}]]


def test_deploying_is_refused_to_others_and_for_invalid_files(runtime, segito, tmp_path):
    before = _counts(runtime)
    result = segito("deploy", FAMILY, "--as", "anna")
    assert result.exit_code == 2 and "process_designer" in result.stderr
    copy_dir = tmp_path / "family_care"
    shutil.copytree(FAMILY.parent, copy_dir)
    broken = copy_dir / "family_care.bpmn"
    text = FAMILY.read_bytes().replace(b"</bpmn:process>", b"</bpmn:proces>", 1)
    broken.write_bytes(text)
    line = text[: text.index(b"</bpmn:proces>")].count(b"\n") + 1
    result = segito("deploy", broken, "--as", "dora")
    assert result.exit_code == 2
    assert f"  family_care.bpmn:{line}: malformed XML" in result.stderr, result.stderr
    assert _counts(runtime) == before


def test_case_startable_lists_what_the_user_may_start(segito):
    assert [p["process_key"] for p in segito.ok("case", "startable", "--as", "anna")] == \
        ["case_management", "family_care", "intake", "ips", "job_retention", "self_help_groups"]
    assert [p["process_key"] for p in segito.ok("case", "startable", "--as", "lea")] == ["ips_fidelity_review"]


def test_a_process_only_the_engine_starts_is_refused_by_hand_naming_it(runtime, people, segito):
    # The day-180 follow-up starts when a member leaves a group (start.manual: false), never from the command line.
    code = demo_data.run_intake(runtime, people.anna, 0)
    before = _counts(runtime)
    result = segito("case", "start", "self_help_follow_up", "--client", code, "--as", "anna")
    assert result.exit_code != 0
    assert "'self_help_follow_up' is not started by hand" in result.output
    assert _counts(runtime) == before
