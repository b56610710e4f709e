"""Test runs (engine/studio/test_runs.py; docs/studio.md, "Test runs"): every bundled package's test runs pass
in CI, every flow out of family care's gateways is taken by some path, and a path that cannot go on is reported
stuck with where and why — with no database touched."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine import packages, setup
from engine.store import clock
from engine.store.config import BPMN_DIR
from engine.studio import test_runs
from engine.test_run_cli import test_run_command as command


@pytest.fixture(scope="module", autouse=True)
def _wired():
    setup.wire()


@pytest.mark.parametrize("package", packages.bundled(BPMN_DIR), ids=lambda p: p.folder_name)
def test_every_bundled_package_passes_its_test_runs(package):
    report = test_runs.run(package)
    assert report["problems"] == [] and report["passed"], _summary(report)
    for run in report["runs"]:
        assert run["stuck"] == 0 and run["unused_data_sets"] == []
        # Every flow out of every gateway is taken by some path (docs/studio.md, "Coverage of the bundled packages").
        assert [f for f in run["gateway_flows"] if not f["taken"]] == [], run["file"]
    # Every process of the package has its test runs beside it.
    assert sorted(r["process"] for r in report["runs"]) == sorted(package.manifest["processes"]), package.key


def test_runs_take_every_flow_out_of_family_cares_gateways():
    [run] = test_runs.run(packages.from_folder(BPMN_DIR / "family_care"))["runs"]
    assert run["ended"] == len(run["paths"]) > 10
    assert [f for f in run["gateway_flows"] if not f["taken"]] == []
    assert all(f["flow"] for f in run["gateway_flows"])
    # The review day's timer is a path of its own: casework left waiting, the review comes when it is due.
    assert any({"timer": "review_due_3_6"} in p["steps"] for p in run["paths"])


def _with_tests(text: str) -> packages.Package:
    package = packages.from_folder(BPMN_DIR / "family_care")
    package.files["tests/paths.yaml"] = text.encode("utf-8")
    return package


def test_a_path_stops_where_its_data_is_refused_or_missing():
    source = (BPMN_DIR / "family_care" / "tests" / "paths.yaml").read_text(encoding="utf-8")
    # The case conference's data set loses its required date; the further service has no data at all.
    broken = (source.replace("  - conference_date: '2026-02-25'\n    invitation_date", "  - invitation_date")
              .replace("  step_3_9:", "  unused_step:"))
    report = test_runs.run(_with_tests(broken))
    [run] = report["runs"]
    stuck = {tuple(p["where"]): p["why"] for p in run["paths"] if p["outcome"] == "stuck"}
    assert "conference_date" in stuck[("step_3_5",)] and "refused by its form" in stuck[("step_3_5",)]
    assert stuck[("step_3_9",)] == "no sample data for this task"
    assert not report["passed"]
    assert {"gateway": "gw_3_9", "to": "step_3_7", "flow": "flow_gw_3_9_step_3_7", "taken": False} \
        in run["gateway_flows"]


def test_a_malformed_file_is_a_problem_with_its_line():
    report = test_runs.run(_with_tests("format: 1\nprocess: family_care\ntasks:\n  step_3_1: {}\n"))
    assert report["runs"] == [] and not report["passed"]
    [problem] = report["problems"]
    assert problem["file"] == "tests/paths.yaml" and problem["line"] == 4 and "step_3_1" in problem["message"]


def test_the_command_prints_the_report_and_fails_on_a_stuck_path(tmp_path):
    ok = CliRunner().invoke(command, [str(BPMN_DIR / "family_care")])
    assert ok.exit_code == 0, ok.output
    assert "13 paths, 13 ended, 0 stuck; gateway flows taken 17/17" in ok.output
    folder = tmp_path / "family_care"
    package = _with_tests((BPMN_DIR / "family_care" / "tests" / "paths.yaml").read_text(encoding="utf-8")
                          .replace("  step_3_9:", "  unused_step:"))
    for path, data in package.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    failed = CliRunner().invoke(command, [str(folder)])
    assert failed.exit_code == 1
    assert "at step_3_9: no sample data for this task" in failed.output and "FAILED" in failed.output


def _summary(report: dict) -> str:
    from engine.test_run_cli import summary

    return "\n".join(summary(report))


def test_the_command_runs_a_stored_draft_for_a_designer(runtime, people, database_url):
    # The draft's sample data names no registration task: its one path gets stuck (version 1's passes).
    source = packages.files_of(runtime, "intake", 1)["tests/paths.yaml"].decode("utf-8")
    packages.save_draft(runtime, "intake", 1, {"tests/paths.yaml": source.replace("intake_registration:",
                                                                                   "someone_else:")},
                        "dora", clock.now())
    env = {"DATABASE_URL": database_url, "SEGITO_USER": None}
    draft = CliRunner().invoke(command, ["intake", "--as", "dora"], env=env)
    assert draft.exit_code == 1 and "at intake_registration: no sample data for this task" in draft.output
    first = CliRunner().invoke(command, ["intake", "--version", "1", "--as", "dora", "--json"], env=env)
    assert first.exit_code == 0 and '"passed": true' in first.output
    assert CliRunner().invoke(command, ["intake", "--as", "anna"], env=env).exit_code != 0
    assert CliRunner().invoke(command, ["intake"], env=env).exit_code == 2  # a stored version needs --as
