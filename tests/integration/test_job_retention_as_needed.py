"""Job retention beside its calendar (seed 000, section 10: "szükség szerinti gyakorisággal"; docs/processes.md):
extra visits recorded as needed, on the visit's own form, and the follow-up ended early because the job was lost —
its timers visibly cancelled and never fired, the case closed, and the declared report counting both — on SQLite
and PostgreSQL.

The data set (S = first day of employment; both at Példa Kft., the entry of timer_helpers):

- X (client i=0): S 2026-01-31, 6 months standard. Extra visit 02-03 client + 2 lay helpers; visit 1 02-07 client
  + employer; extra 02-10 client + institutions (labour office); visit 2 (02-14) issued, never recorded. The job
  was lost on 02-13 (probation), recorded on 02-16.
- Y (client i=1): S 2026-01-31, 1 month standard. Visit 1 02-07 client + employer; extra 03-05 client +
  employer; visits 2–4 issued, never recorded. Day-180 check on 07-30: employed.

By hand, for 2026: O1 2 clients; O2 5 visits (3 of them extra); O3 1 employer; O4 3 consultations with the
employer (X's visit 1, Y's two); O5 2 lay helpers, O6 1 consultation with them; O7 1 institution; R1 2 outcomes
(X's early end on 02-13, Y's check on 07-30), R2 1 employed (Y), R3 50 %, R4 1 ended early (probation).
Q1 alone: O1 2, O2 5, R1 1, R2 0, R3 0 %, R4 1. Q2: O1 1 (X left the report on 02-13), R1 0. Q3: R1 1, R2 1,
R3 100 %, R4 0.
"""
from __future__ import annotations

import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from engine.reports import run
from engine.reports.request import parse_request
from engine.store import clock
from engine.timers import timers

from .timer_helpers import VISIT, complete, events, json_payloads, local, ready_tasks, start_follow_up, timer_rows

LAY = {"contacts": ["client", "lay_helpers"], "client_notes": "Nehezen kel fel.", "lay_helpers_involved": 2,
       "still_employed": True}
INSTITUTIONS = {"contacts": ["client", "institutions"], "client_notes": "Munkaügyi ügyintézés.",
                "institution_kinds": ["labour_office"], "still_employed": True}
JOB_LOST = {"job_lost_on": "2026-02-13", "job_lost_reason": "probation",
            "job_lost_details": "A próbaidő alatt a munkáltató megszüntette a munkaviszonyt.",
            "satisfaction_sheet": False}


def _figures(runtime, actor, date_from: str, date_to: str) -> dict:
    result = run.report(runtime, actor, "job_retention", parse_request(date_from, date_to, None))
    return {i["id"]: i["value"] for i in result["indicators"]} | {
        "jobs_lost": {r["key"]: r["follow_ups"] for r in result["tables"]["jobs_lost"]}}


def _extra_visit(runtime, case_id: int, day: str, data: dict, actor) -> None:
    clock.freeze(local(day, 14))
    complete(runtime, case_id, "jr_extra_visit", {**data, "visit_date": day}, actor)


@pytest.fixture
def two_follow_ups(runtime, people):
    """X ended early on 02-16 (job lost on 02-13), Y checked on 07-30; the clock ends on 2026-08-01."""
    clock.freeze(local("2026-01-28", 10))
    x = start_follow_up(runtime, people.anna, i=0)
    y = start_follow_up(runtime, people.anna, months=1, i=1)
    _extra_visit(runtime, x, "2026-02-03", LAY, people.anna)
    clock.freeze(local("2026-02-07", 9))
    assert timers.fire_due(runtime, "w") == 2  # the first planned visit of each
    complete(runtime, x, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, people.anna)
    complete(runtime, y, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, people.anna)
    _extra_visit(runtime, x, "2026-02-10", INSTITUTIONS, people.anna)
    clock.freeze(local("2026-02-14", 9))
    assert timers.fire_due(runtime, "w") == 2  # visit 2 of each, left unrecorded
    clock.freeze(local("2026-02-16", 11))
    complete(runtime, x, "jr_job_lost", JOB_LOST, people.anna)
    _extra_visit(runtime, y, "2026-03-05", VISIT, people.anna)
    clock.freeze(local("2026-07-30", 9))
    timers.fire_due(runtime, "w")
    complete(runtime, y, "jr_day_180_check", {"check_date": "2026-07-30", "employed_on_day_180": True,
                                              "employer_certificate": True, "certificate_date": "2026-07-30",
                                              "satisfaction_sheet": True}, people.anna)
    clock.freeze(local("2026-08-01", 9))
    return x, y


def test_an_extra_visit_is_available_all_along_and_opens_empty_each_time(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    [waiting] = [t for t in timer_rows(runtime, case_id, "scheduled") if t.bpmn_id == "visit_due"]
    [extra] = ready_tasks(runtime, case_id, "jr_extra_visit")
    shown = tasks.get_task(runtime, extra.id, people.anna)
    assert (shown["form_file"], shown["step"], extra.due_at) == ("visit.json", "4.2", None)
    # The same visit form, with its checks: a visit before the first day of work is refused, naming the field.
    clock.freeze(local("2026-02-03", 14))
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, extra.id, {**LAY, "visit_date": "2026-01-20"}, people.anna)
    assert [d["field"] for d in refused.value.details] == ["visit_date"]
    complete(runtime, case_id, "jr_extra_visit", {**LAY, "visit_date": "2026-02-03"}, people.anna)
    # Another extra visit can be recorded at once, on an empty sheet (not the last one's answers) …
    [again] = ready_tasks(runtime, case_id, "jr_extra_visit")
    assert again.id != extra.id
    values = tasks.get_task(runtime, again.id, people.anna)["values"]
    assert not {"visit_date", "contacts", "lay_helpers_involved", "client_notes"} & set(values)
    # … and the planned calendar is untouched: the same visit timer waits for the same day.
    assert [t.id for t in timer_rows(runtime, case_id, "scheduled") if t.bpmn_id == "visit_due"] == [waiting.id]
    recorded = [e for e in cases.history(runtime, case_id, people.anna)
                if e["kind"] == "task_completed" and e["payload"]["bpmn_id"] == "jr_extra_visit"]
    assert [(e["payload"]["step"], e["payload"]["after"]["visit_date"]) for e in recorded] == [("4.2", "2026-02-03")]


def test_losing_the_job_ends_the_follow_up_cancels_every_timer_and_none_fires_later(runtime, people,
                                                                                     two_follow_ups):
    x, _y = two_follow_ups
    case = cases.get_case(runtime, x, people.anna)
    assert case["status"] == "completed"
    assert (case["data"]["job_lost_on"], case["data"]["job_lost_reason"]) == ("2026-02-13", "probation")
    # The visit still waiting (02-21) and the day-180 check are cancelled rows, not deleted, never fired.
    assert {(t.bpmn_id, t.due_at, t.state) for t in timer_rows(runtime, x) if t.purpose} == {
        ("visit_due", local("2026-02-07"), "fired"), ("visit_due", local("2026-02-14"), "fired"),
        ("visit_due", local("2026-02-21"), "cancelled"), ("day_180_due", local("2026-07-30"), "cancelled")}
    assert timer_rows(runtime, x, "scheduled") == []
    assert len(events(runtime, "timer_fired", x)) == 2  # the two visits before the job was lost, nothing after
    # The history says which timers the early end cancelled, in the same command as the step.
    [ended] = [e for e in cases.history(runtime, x, people.anna)
               if e["kind"] == "task_completed" and e["payload"]["bpmn_id"] == "jr_job_lost"]
    cancelled = json_payloads(events(runtime, "timers_cancelled", x))
    assert {t["bpmn_id"] for p in cancelled for t in p["timers"]} >= {"visit_due", "day_180_due"}
    assert ended["payload"]["after"]["job_lost_reason"] == "probation"
    # The unrecorded visit, the plan change and the extra visit ended with the case.
    assert ready_tasks(runtime, x) == []
    # Later firings reach only the other case.
    clock.freeze(local("2027-01-01", 9))
    assert timers.fire_due(runtime, "w") == 0
    assert len(events(runtime, "timer_fired", x)) == 2


def test_the_end_needs_a_date_within_the_employment_and_a_reason(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-16", 11))
    [end] = ready_tasks(runtime, case_id, "jr_job_lost")
    for bad, field in (({**JOB_LOST, "job_lost_on": "2026-01-30"}, "job_lost_on"),  # before the first day of work
                       ({**JOB_LOST, "job_lost_on": "2026-03-01"}, "job_lost_on"),  # not yet
                       ({**JOB_LOST, "job_lost_reason": "bored"}, "job_lost_reason"),
                       ({k: v for k, v in JOB_LOST.items() if k != "job_lost_details"}, "job_lost_details")):
        with pytest.raises(ValidationFailed) as refused:
            tasks.complete(runtime, end.id, bad, people.anna)
        assert [d["field"] for d in refused.value.details] == [field]
    # Nothing was changed by the refusals: the follow-up runs on with its timers.
    assert cases.get_case(runtime, case_id, people.anna, with_data=False)["status"] == "running"
    assert {t.bpmn_id for t in timer_rows(runtime, case_id, "scheduled")} == {"visit_due", "day_180_due"}


def test_the_report_counts_extra_visits_as_visits_and_an_early_end_as_not_employed_on_day_180(runtime, people,
                                                                                                two_follow_ups):
    year = _figures(runtime, people.mark, "2026-01-01", "2026-12-31")
    assert {k: year[k] for k in ("O1", "O2", "O3", "O4", "O5", "O6", "O7", "R1", "R2", "R3", "R4")} == {
        "O1": 2, "O2": 5, "O3": 1, "O4": 3, "O5": 2, "O6": 1, "O7": 1, "R1": 2, "R2": 1, "R3": 50.0, "R4": 1}
    assert year["jobs_lost"] == {"probation": 1}
    q1 = _figures(runtime, people.mark, "2026-01-01", "2026-03-31")
    assert {k: q1[k] for k in ("O1", "O2", "R1", "R2", "R3", "R4")} == {
        "O1": 2, "O2": 5, "R1": 1, "R2": 0, "R3": 0.0, "R4": 1}
    q2 = _figures(runtime, people.mark, "2026-04-01", "2026-06-30")
    assert {k: q2[k] for k in ("O1", "O2", "R1", "R4")} == {"O1": 1, "O2": 0, "R1": 0, "R4": 0}
    assert q2["jobs_lost"] == {}  # the empty reason rows are left out
    q3 = _figures(runtime, people.mark, "2026-07-01", "2026-09-30")
    assert {k: q3[k] for k in ("R1", "R2", "R3", "R4")} == {"R1": 1, "R2": 1, "R3": 100.0, "R4": 0}
    # The cases behind R4 and behind R1's not-employed outcome: X, whose job was lost.
    x, y = two_follow_ups
    request = parse_request("2026-01-01", "2026-12-31", None)
    behind = run.cases_behind(runtime, people.mark, "job_retention", request, "R4")
    assert [(c["case_id"], c["end"], c["employed_on_day_180"]) for c in behind["items"]] == [(x, "2026-02-13", False)]
    checked = run.cases_behind(runtime, people.mark, "job_retention", request, "R1")
    assert [(c["case_id"], c["outcome_date"]) for c in checked["items"]] == [(x, "2026-02-13"), (y, "2026-07-30")]
