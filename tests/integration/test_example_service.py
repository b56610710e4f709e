"""The example service of docs/services.md — a folder only (one process, two forms, one report) — deployed, run
and counted, with no change to engine/: what a new service needs is its package."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine import packages
from engine.cases import cases
from engine.store import clock
from engine.store.config import BPMN_DIR
from engine.timers import caseload
from tests import demo_data

from .helpers import do, waiting_steps

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "self_help_group"


def test_the_example_is_not_bundled():
    assert EXAMPLE.name not in {p.key for p in packages.bundled(BPMN_DIR)}


def test_the_example_service_is_deployed_run_and_counted(runtime, people):
    [deployed] = packages.deploy(runtime, [packages.from_folder(EXAMPLE)], "dora", clock.now())
    assert (deployed["package"], deployed["version"], deployed["created"]) == ("self_help_group", 1, True)
    intake = demo_data.intake_data(0)
    code = demo_data.run_intake(runtime, people.anna, 0)
    startable = {p["process_key"]: p for p in cases.startable(runtime, people.anna)}
    assert startable["self_help_group"]["starts_from"] == "intake"
    assert "self_help_group" not in {p["process_key"] for p in cases.startable(runtime, people.lea)}

    started = cases.start_case(runtime, "self_help_group", people.anna, code)
    case_id = started["case_id"]
    case = cases.get_case(runtime, case_id, people.anna)
    # start.data: the client's code and the problem recorded at intake, under this service's own field names.
    assert case["data"] == {"client_code": code, "group_problem": intake["intake_problem"]}
    # The BPMN lane 'group_leader' is the engine's role 'caseworker' (roles.caseworker.lane).
    assert [(t["bpmn_id"], t["role"]) for t in case["current_tasks"]] == [("group_joining", "caseworker")]
    do(runtime, case_id, "group_joining", {"group_name": "Szerdai csoport", "joined_on": "2026-03-02"}, people.anna)
    do(runtime, case_id, "group_session", {"session_date": "2026-03-02", "attended": True, "stays_in_group": True},
       people.anna)
    assert waiting_steps(runtime, case_id) == ["session"]

    [load] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "group_members"]
    assert (load["role"], load["limit"], load["label"]["en"]) == ("caseworker", 12, "group members")
    assert {r["username"]: r["active"] for r in load["rows"]} == {"anna": 1, "bela": 0}
    [follow_up] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "follow_up"]
    assert follow_up["limit"] == 30 and {r["username"]: r["active"] for r in follow_up["rows"]}["anna"] == 0

    clock.freeze(clock.now() + dt.timedelta(days=7))
    do(runtime, case_id, "group_session", {"session_date": "2026-03-09", "attended": False,
                                           "stays_in_group": False}, people.anna)
    assert cases.get_case(runtime, case_id, people.anna, with_data=False)["status"] == "completed"
    [load] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "group_members"]
    assert {r["username"]: r["active"] for r in load["rows"]}["anna"] == 0, "a closed case no longer counts"


def test_the_example_report_is_declared_deployed_and_computed(runtime, people):
    """reports/attendance.yaml: facts from the forms' fields, figures over them, drill-down: no engine code."""
    from engine.reports import run
    from engine.reports.request import parse_request

    packages.deploy(runtime, [packages.from_folder(EXAMPLE)], "dora", clock.now())
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = cases.start_case(runtime, "self_help_group", people.anna, code)["case_id"]
    do(runtime, case_id, "group_joining", {"group_name": "Szerdai csoport", "joined_on": "2026-03-02"}, people.anna)
    do(runtime, case_id, "group_session", {"session_date": "2026-03-02", "attended": True, "stays_in_group": True},
       people.anna)
    clock.freeze(clock.now() + dt.timedelta(days=7))
    do(runtime, case_id, "group_session", {"session_date": "2026-03-09", "attended": False, "stays_in_group": True},
       people.anna)
    req = lambda: parse_request("2026-01-01", "2026-12-31")  # noqa: E731
    result = run.report(runtime, people.mark, "attendance", req())
    values = {i["id"]: i["value"] for i in result["indicators"]}
    assert values == {"members": 1, "sessions_attended": 1, "attendance_rate": 50.0, "sessions_held": 2}
    assert [(r["key"], r["members"], r["attended"]) for r in result["tables"]["groups"]] == [
        ("Szerdai csoport", 1, 1)]
    march = next(r for r in result["tables"]["months"] if r["key"] == "2026-03")
    assert (march["joined"], march["sessions"]) == (1, 2)
    behind = run.cases_behind(runtime, people.mark, "attendance", req(), "sessions_attended")
    assert [(i["case_id"], i["entries"]) for i in behind["items"]] == [(case_id, 1)]
    assert run.report(runtime, people.anna, "attendance", req())["caseworker_id"] == people.anna.id
    assert values == {i["id"]: i["value"] for i in run.report(
        runtime, people.mark, "attendance", parse_request("2026-03-01", "2026-03-31"))["indicators"]}
