"""The default run's demo data: the packages' demo scripts (bpmn/<service>/demo/, docs/services.md "Demo data")
played through the engine's commands on a fresh database, checked at deploy with every problem's file and line,
and a script that cannot be played named by its file and line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import demo, packages, setup
from engine.cases.clients import identity as register_identity
from engine.errors import PackageInvalid
from engine.packages import demo_scripts
from engine.store import audit, clock
from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent, Case, Client, HumanTask, PackageVersion, User

# What the default run shows: (process, client, started by, status, the steps it waits at).
DEMO_CASES = sorted([
    ("intake", "Kovács Éva", "anna", "completed", ()),
    ("intake", "Szabó Péter", "anna", "completed", ()),
    ("intake", "Horváth Zsófia", "anna", "completed", ()),
    ("intake", "Varga Gábor", "anna", "completed", ()),
    ("intake", "Farkas Péter", "bela", "completed", ()),
    ("intake", "Kovács Zsófia", "anna", "completed", ()),
    ("intake", None, "anna", "running", ("intake_registration",)),
    ("family_care", "Kovács Éva", "anna", "running", ("step_3_1",)),
    ("family_care", "Szabó Péter", "anna", "running", ("step_3_6",)),
    ("family_care", "Horváth Zsófia", "anna", "running", ("agree_closure_success",)),
    ("family_care", "Varga Gábor", "anna", "completed", ()),
    ("family_care", "Farkas Péter", "bela", "running", ("step_3_3",)),
    ("job_retention", "Kovács Zsófia", "anna", "running",
     ("jr_extra_visit", "jr_job_lost", "jr_plan_change", "jr_visit")),
    ("case_management", "Varga Gábor", "anna", "running", ("cm_meeting",)),
    ("case_management", "Szabó Péter", "anna", "running", ("cm_log_certification",)),
    ("case_management", "Horváth Zsófia", "anna", "completed", ()),
    ("ips", "Horváth Zsófia", "anna", "running", ("ips_follow_along",)),
    ("ips", "Farkas Péter", "bela", "running", ("ips_job_search",)),
    ("ips", "Varga Gábor", "anna", "running", ("ips_first_contact_late", "ips_first_search")),
    ("ips", "Szabó Péter", "anna", "running", ("ips_profile",)),
    ("ips_fidelity_review", None, "lea", "completed", ()),
    # A self-help group (a case with members, no single client): its first meeting today, the three members'
    # start questionnaires recorded.
    ("self_help_groups", None, "anna", "running", ("shg_first_meeting",)),
], key=str)


def _cases(runtime) -> list[tuple]:
    with runtime.db.reading() as session:
        names = {c.id: "{family_name} {given_name}".format(**register_identity(session, c))
                 for c in session.execute(select(Client)).scalars()}
        found = []
        for case in session.execute(select(Case)).scalars():
            waiting = session.execute(select(HumanTask.bpmn_id).where(
                HumanTask.case_id == case.id, HumanTask.state == "ready")).scalars().all()
            found.append((case.process_key, names.get(case.client_id), case.started_by, case.status,
                          tuple(sorted(waiting))))
    return sorted(found, key=str)


def test_a_fresh_database_gets_the_demo_users_and_cases_each_step_audited(runtime):
    demo.ensure(runtime)
    with runtime.db.reading() as session:
        people = {u.username: (u.display_name, sorted(r.role for r in u.roles))
                  for u in session.execute(select(User)).scalars()}
        completed = session.execute(select(HumanTask.id, HumanTask.bpmn_id, HumanTask.completed_by)
                                    .where(HumanTask.state == "completed")).all()
        audited = {(e.task_id, e.actor) for e in session.execute(
            select(AuditEvent).where(AuditEvent.kind == "task_completed")).scalars()}
        entry = session.execute(select(AuditEvent.payload).join(HumanTask, HumanTask.id == AuditEvent.task_id).where(
            AuditEvent.kind == "task_completed", HumanTask.bpmn_id == "jr_entry")).scalar_one()
        entry = audit.readable(session, entry)  # sealed under the case's key
    assert people == {name: (display, sorted(roles)) for name, display, roles in setup.DEMO_USERS}
    assert _cases(runtime) == DEMO_CASES
    # Every scripted step went through tasks.complete as its demo user: 6 intakes, 22 family-care steps, 2 jobs,
    # 14 IPS steps, 3 of a fidelity review, 12 case-management steps, 4 self-help group steps (the group
    # composed, three anonymous questionnaires).
    assert len(completed) == 63
    assert {(t.id, t.completed_by) for t in completed} <= audited
    assert {t.completed_by for t in completed if t.bpmn_id == "agree_closure_success"} == {"lea"}
    # "${today-10d}": ten days before the (frozen) day the demo was played, 2 March 2026.
    assert entry["after"]["employment_start"] == entry["after"]["development_plan_date"] == "2026-02-20"
    demo.ensure(runtime)
    assert len(_cases(runtime)) == len(DEMO_CASES), "a database with cases gets no second demo"


def _copy(tmp_path: Path, *services: str) -> Path:
    for service in services:
        shutil.copytree(BPMN_DIR / service, tmp_path / service)
    return tmp_path


BAD_SCRIPT = """\
format: 1
data:
  agreed: {agreement_date: "2026-03-05"}
cases:
  - process: family_care
    by: anna
    client: "${kovacs_eva.client_code}"
    steps:
      - {task: step_3_1, data: {no_such_field: 1}}
      - {task: step_9_9}
      - {task: step_3_2, by: zoe, use: agreed}
      - {task: step_3_2, by: lea, use: agred}
      - {task: step_3_2, data: {agreement_date: "${yesterday}"}}
    stops_at: nowhere
  - process: intake
    by: anna
  - process: family_care
    by: dora
  - name: later
    process: family_care
    by: anna
    client: "${soon.client_code}"
  - name: soon
    process: family_care
    by: anna
    client: "${later.client_code}"
"""


def test_a_bad_demo_script_is_refused_at_deploy_naming_file_and_line(runtime, tmp_path):
    folder = _copy(tmp_path, "family_care") / "family_care"
    (folder / "demo" / "bad.yaml").write_text(BAD_SCRIPT, encoding="utf-8")
    (folder / "demo" / "typo.yaml").write_text("format: 1\ncases:\n  - process: family_care\n    by: anna\n"
                                               "    clinet: K-1\n", encoding="utf-8")
    (folder / "demo" / "broken.yaml").write_text("format: 1\ncases: [\n", encoding="utf-8")
    (folder / "demo" / "notes.txt").write_text("x", encoding="utf-8")
    with runtime.db.reading() as session:
        before = session.execute(select(func.count(PackageVersion.id))).scalar()
    with pytest.raises(PackageInvalid) as refused:
        packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    with runtime.db.reading() as session:
        assert session.execute(select(func.count(PackageVersion.id))).scalar() == before, "nothing is stored"
    found = {(d["file"], d["line"], d["message"]) for d in refused.value.details}
    bad = "demo/bad.yaml"
    assert {(f, line) for f, line, _m in found if f == bad} == {
        (bad, 9), (bad, 10), (bad, 11), (bad, 12), (bad, 13), (bad, 14), (bad, 15), (bad, 17), (bad, 22)}

    def at(line: int) -> str:
        return " | ".join(sorted(m for f, n, m in found if (f, n) == (bad, line)))

    assert at(9) == "the form of 'step_3_1' has no field(s) no_such_field"
    assert at(10) == "process 'family_care' has no user task 'step_9_9'"
    assert at(11) == "'zoe' is not a demo user (admin, anna, bela, dora, lea, mark)"
    assert at(12) == ("'lea' does not have the role 'caseworker' that does 'step_3_2' | cases.0.steps.3.use: no data "
                      "named 'agred' under 'data' (named: agreed)")
    assert at(13).startswith("'${yesterday}' is neither a date relative to the day the demo is played")
    assert at(14) == "process 'family_care' has no user task 'nowhere'"
    assert at(15) == "process 'intake' is not one of this package's processes (family_care)"
    assert at(17) == ("'dora' may not start 'family_care' (start.roles: caseworker) | process 'family_care' starts "
                      "from a client registered by 'intake': give 'client' (e.g. '${<case name>.client_code}')")
    assert at(22) == "case 'soon' (demo/bad.yaml:23) is played after this one: cases play in the order they are written"
    assert ("demo/typo.yaml", 5, "cases.0: unknown field(s) ('clinet' was unexpected)") in found
    assert ("demo/broken.yaml", 3, "not valid YAML: expected the node content, but found '<stream end>'") in found
    assert ("demo/notes.txt", None, "demo/ holds demo scripts (*.yaml) only, no subfolders") in found


def test_a_step_the_engine_refuses_stops_the_demo_naming_file_and_line(runtime, tmp_path):
    bpmn = _copy(tmp_path, "intake", "family_care")
    shutil.rmtree(bpmn / "family_care" / "demo")
    (bpmn / "family_care" / "demo").mkdir()
    (bpmn / "family_care" / "demo" / "cases.yaml").write_text(
        "format: 1\ncases:\n  - process: family_care\n    by: anna\n    client: \"${kovacs_eva.client_code}\"\n"
        "    steps:\n      - task: step_3_1\n        data: {persons_concerned: many}\n", encoding="utf-8")
    with pytest.raises(demo.DemoFailed) as failed:
        demo.ensure(runtime, bpmn)
    assert str(failed.value).startswith("family_care/demo/cases.yaml:7: 'step_3_1' as anna: ")
    assert failed.value.details, "what the form refused is passed on"


def test_relative_dates_and_produced_values():
    import datetime as dt

    today = dt.date(2026, 5, 31)
    produced = {"eva": {"client_code": "K-1", "case_id": 7}}.__getitem__
    value = {"a": "${today}", "b": "${ today-10d }", "c": ["${today+2w}", "${today-3m}"], "d": "${eva.case_id}",
             "e": "today", "f": "x ${today}"}
    assert demo_scripts.resolve(value, today, lambda name, what: produced(name)[what]) == {
        "a": "2026-05-31", "b": "2026-05-21", "c": ["2026-06-14", "2026-02-28"], "d": 7, "e": "today",
        "f": "x ${today}"}
    with pytest.raises(demo_scripts.DemoError):
        demo_scripts.resolve("${tomorrow}", today, lambda name, what: None)
