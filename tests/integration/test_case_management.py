"""Case management (seed 001, bpmn/case_management): entry routes, consent before personal data, the individual
plan with goals, sub-goals and actions, meetings writing the case log (both parties' confirmation) and the service
log, plan reviews certified by the professional lead, closure with the anonymous satisfaction survey, and the
limits: 35 clients per case manager, 2 hours a week per client."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from engine.reports import anonymous
from engine.store import audit, clock
from engine.store.models import AnonymousAnswer, AuditEvent
from engine.timers import caseload
from tests import case_management_data as cm
from tests import demo_data

from .helpers import do, task_of, waiting_steps

MONDAY = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.timezone.utc)


def carried(runtime, case_id: int, bpmn_id: str, actor) -> dict:
    shown = tasks.get_task(runtime, task_of(runtime, case_id, bpmn_id), actor)["carried"]
    return {field: [e["row"] for e in rows] for field, rows in shown.items()}


def new_case(runtime, people, i: int = 0, actor=None) -> int:
    actor = actor or people.anna
    code = demo_data.run_intake(runtime, actor, i)
    return cases.start_case(runtime, "case_management", actor, code)["case_id"]


def through_assessment(runtime, people, i: int = 0, route: str = "labour_office", **assessment) -> int:
    case_id = new_case(runtime, people, i)
    do(runtime, case_id, "cm_entry", cm.entry(route), people.anna)
    do(runtime, case_id, "cm_assessment", cm.assessment(**assessment), people.anna)
    return case_id


@pytest.fixture(autouse=True)
def _monday():
    clock.freeze(MONDAY)


@pytest.mark.parametrize("route", ["labour_office", "other_organisation", "own_register"])
def test_each_entry_route_starts_from_the_client_code_of_intake(runtime, people, route):
    case_id = new_case(runtime, people)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["data"]["client_code"].startswith("K-") and waiting_steps(runtime, case_id) == ["3"]
    if route != "own_register":
        data = cm.entry(route)
        del data["referring_organisation"]
        with pytest.raises(ValidationFailed, match="referring_organisation"):
            do(runtime, case_id, "cm_entry", data, people.anna)
    do(runtime, case_id, "cm_entry", cm.entry(route), people.anna)
    assert waiting_steps(runtime, case_id) == ["4.2"]
    assert cases.get_case(runtime, case_id, people.anna)["data"]["entry_route"] == route


def test_without_consent_the_case_closes_before_any_personal_data(runtime, people):
    case_id = new_case(runtime, people)
    with pytest.raises(ValidationFailed, match="consent_date"):  # a signed statement has its date
        do(runtime, case_id, "cm_entry", {**cm.entry(), "consent_date": None} | {"consent_date": ""}, people.anna)
    do(runtime, case_id, "cm_entry", cm.entry(consent=False), people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed" and waiting_steps(runtime, case_id) == []
    assert not {"sex", "education", "prior_status", "plan_goals"} & set(case["data"])


def test_the_plan_meetings_review_closure_and_anonymous_survey(runtime, people):
    case_id = through_assessment(runtime, people)
    assert waiting_steps(runtime, case_id) == ["5"]
    # A service not used needs the reasons explored together and what to do next.
    bad = cm.meeting({}, "2026-03-16", results=[{"action_no": "1", "date": "2026-03-16", "status": "not_used"}])
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "cm_meeting", bad, people.anna)
    assert {d["field"] for d in refused.value.details} >= {"action_results/0/reasons",
                                                           "action_results/0/further_steps"}
    # The case manager's confirmation cannot be "no"; the client's needs its date.
    unsigned = cm.meeting({}, "2026-03-16")
    unsigned["case_log"][0]["case_manager_signed"] = False
    with pytest.raises(ValidationFailed, match="case_manager_signed"):
        do(runtime, case_id, "cm_meeting", unsigned, people.anna)
    no_date = cm.meeting({}, "2026-03-16")
    del no_date["case_log"][0]["client_signed_on"]
    with pytest.raises(ValidationFailed, match="client_signed_on"):
        do(runtime, case_id, "cm_meeting", no_date, people.anna)

    do(runtime, case_id, "cm_meeting", cm.meeting({}, "2026-03-16", results=[
        cm.result("1", "not_adequate", "2026-03-16")], next_step="plan_review"), people.anna)
    assert waiting_steps(runtime, case_id) == ["5.4"]
    do(runtime, case_id, "cm_plan_review", cm.plan_review(
        carried(runtime, case_id, "cm_plan_review", people.anna), "2026-03-16",
        [{"goal_no": "1.1", "status": "reached"}], goals=[cm.goal("1.2", "training_entry", "2026-03-16")],
        actions=[cm.action("3", "1.2", "training", "2026-04-01")]), people.anna)
    assert waiting_steps(runtime, case_id) == ["8.2"]
    lead_task = tasks.get_task(runtime, task_of(runtime, case_id, "cm_log_certification"), people.lea)
    assert lead_task["role"] == "professional_lead"
    do(runtime, case_id, "cm_log_certification", {"certified": True, "certified_on": "2026-03-16"}, people.lea)

    # The next meeting carries the case log: each row with who recorded (confirmed) it and when.
    shown = tasks.get_task(runtime, task_of(runtime, case_id, "cm_meeting"), people.anna)["carried"]
    [first] = shown["case_log"]
    assert first["recorded_by"] == "anna" and first["recorded_at"].startswith("2026-03-16")
    assert first["row"]["client_signed"] is True and first["row"]["client_signed_on"] == "2026-03-16"
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert [g["goal_no"] for g in data["plan_goals"]] == ["1", "1.1", "1.2"]
    assert [a["action_no"] for a in data["plan_actions"]] == ["1", "2", "3"]
    clock.freeze(MONDAY + dt.timedelta(days=7))
    do(runtime, case_id, "cm_meeting", cm.meeting(carried(runtime, case_id, "cm_meeting", people.anna),
                                                  "2026-03-23", results=[cm.result("3", "realised", "2026-03-23")],
                                                  events=[{"date": "2026-03-23", "event": "training_entered"}],
                                                  next_step="closure"), people.anna)
    do(runtime, case_id, "cm_closure", cm.closure({}, "2026-03-23"), people.anna)
    assert waiting_steps(runtime, case_id) == ["8.1"]
    survey = task_of(runtime, case_id, "cm_satisfaction")
    assert tasks.get_task(runtime, survey, people.anna)["anonymous"] is True
    tasks.complete(runtime, survey, cm.satisfaction(4, 5, 3), people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed"
    assert not {"overall", "case_manager_help", "plan_progress", "would_recommend"} & set(case["data"])
    with runtime.db.reading() as session:
        [answer] = session.execute(select(AnonymousAnswer)).scalars().all()
        assert (answer.package_key, answer.questionnaire, answer.answers["overall"]) == (
            "case_management", "satisfaction", 4)
        kinds = [e.kind for e in session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                                 .order_by(AuditEvent.id)).scalars()]
        assert "task_completed" in kinds
    figures = anonymous.figures(runtime, people.mark, "case_management", "satisfaction", dt.date(2026, 1, 1),
                                dt.date(2026, 3, 31))
    assert figures["answers"] == 1 and figures["withheld"] and figures["questions"] == []


def test_more_than_two_hours_a_week_with_a_client_warns_and_shows_on_the_caseload_page(runtime, people):
    case_id = through_assessment(runtime, people)
    first = do(runtime, case_id, "cm_meeting", cm.meeting({}, "2026-03-16", minutes=70), people.anna)
    assert "warnings" not in first
    clock.freeze(MONDAY + dt.timedelta(days=2))
    second = do(runtime, case_id, "cm_meeting", cm.meeting(carried(runtime, case_id, "cm_meeting", people.anna),
                                                           "2026-03-18", minutes=60), people.anna)
    [warning] = second["warnings"]
    assert warning == {"code": "time_limit_exceeded", "caseload": "case_management", "week_start": "2026-03-16",
                       "week_end": "2026-03-22", "minutes": 130, "limit": 120,
                       "label": {"hu": "egy ügyfélre fordított idő", "en": "time with one client"}}
    with runtime.db.reading() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id,
                                                           AuditEvent.kind == "time_limit_exceeded")).scalars().all()
        assert audit.readable(session, event.payload) == {
            "caseload": "case_management", "week_start": "2026-03-16", "minutes": 130, "limit": 120,
            "caseworker_id": people.anna.id}
    [load] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "case_management"]
    assert load["limit"] == 35 and load["time"]["per_week_minutes"] == 120
    code = cases.get_case(runtime, case_id, people.anna)["data"]["client_code"]
    rows = {r["username"]: r for r in load["rows"]}
    assert rows["anna"]["over_time"] == [{"client_code": code, "minutes": 130}] and rows["bela"]["over_time"] == []
    # The next week starts afresh: 30 minutes is within the limit, and last week is not this week's.
    clock.freeze(MONDAY + dt.timedelta(days=7))
    third = do(runtime, case_id, "cm_meeting", cm.meeting(carried(runtime, case_id, "cm_meeting", people.anna),
                                                          "2026-03-23", minutes=30), people.anna)
    assert "warnings" not in third
    [load] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "case_management"]
    assert {r["username"]: r["over_time"] for r in load["rows"]}["anna"] == []
    # Exactly the limit is allowed: another 90 minutes makes 120 this week.
    clock.freeze(MONDAY + dt.timedelta(days=8))
    fourth = do(runtime, case_id, "cm_meeting", cm.meeting(carried(runtime, case_id, "cm_meeting", people.anna),
                                                           "2026-03-24", minutes=90), people.anna)
    assert "warnings" not in fourth


def test_the_36th_active_client_of_a_case_manager_warns(runtime, people):
    for i in range(35):
        started = cases.start_case(runtime, "case_management", people.anna,
                                   demo_data.run_intake(runtime, people.anna, i))
        assert "warnings" not in started, i
    code = demo_data.run_intake(runtime, people.anna, 35)
    started = cases.start_case(runtime, "case_management", people.anna, code)
    [warning] = started["warnings"]
    assert (warning["code"], warning["active"], warning["limit"]) == ("caseload_limit_exceeded", 36, 35)
    assert warning["label"]["hu"] == "aktív esetmenedzselt ügyfél"
    [load] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "case_management"]
    assert {r["username"]: (r["active"], r["over"]) for r in load["rows"]}["anna"] == (36, True)
