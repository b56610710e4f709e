"""The job-retention follow-up (seed 000, DOMAIN.md 5): its visit calendar, plan changes and the day-180 check,
driven by a moving clock and the timer worker, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

from engine.cases import agenda, cases, tasks
from engine.definitions import definitions
from engine.runtime.runtime import Runtime
from engine.store import audit, clock
from engine.store.db import Database
from engine.store.models import Case, Client
from engine.timers import caseload, timers
from tests import demo_data

from .timer_helpers import (
    VISIT,
    complete,
    end_of_local_day,
    events,
    json_payloads,
    local,
    ready_tasks,
    start_follow_up,
    timer_rows,
)

# S = 31 January 2026: month ends clamp (31 Jan + 3 months = 30 April) and DST starts on 29 March in between.
STANDARD_VISITS = ["2026-02-07", "2026-02-14", "2026-02-21", "2026-02-28", "2026-03-14", "2026-03-28",
                   "2026-04-30", "2026-05-31", "2026-06-30"]
CHECK_DAY = "2026-07-30"


def restarted(runtime) -> Runtime:
    """A new process: no workflow cache, no parsed specs — only the database survives."""
    return Runtime(Database(runtime.db.url))


def test_the_whole_six_month_schedule_with_a_moving_clock_and_a_restart_before_every_timer(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    # Only the next visit waits as a timer (and the day-180 check); the calendar holds the whole plan.
    assert [(t.bpmn_id, t.due_at) for t in timer_rows(runtime, case_id, "scheduled")] == [
        ("visit_due", local(STANDARD_VISITS[0])), ("day_180_due", local(CHECK_DAY))]
    assert [(c["date"], c["kind"]) for c in agenda.case_calendar(runtime, case_id)] == [
        (d, "visit") for d in STANDARD_VISITS] + [(CHECK_DAY, "check")]
    assert [c["label"] for c in agenda.case_calendar(runtime, case_id)][:2] == [
        "1. utókövetési látogatás / follow-up visit 1", "2. utókövetési látogatás / follow-up visit 2"]
    utc = {}

    for n, day in enumerate(STANDARD_VISITS, start=1):
        [waiting] = [t for t in timer_rows(runtime, case_id, "scheduled") if t.bpmn_id == "visit_due"]
        assert (waiting.due_at, waiting.label) == (local(day), f"{n}. utókövetési látogatás / follow-up visit {n}")
        utc[n] = waiting.due_at.isoformat()
        clock.freeze(local(day) - dt.timedelta(minutes=1))  # the evening before: nothing yet
        assert timers.fire_due(restarted(runtime), "worker-a") == 0
        assert ready_tasks(runtime, case_id, "jr_visit") == []
        clock.freeze(local(day, 0, 1))
        assert timers.fire_due(restarted(runtime), "worker-a") == 1
        [visit] = ready_tasks(runtime, case_id, "jr_visit")
        assert (visit.step, visit.assignee_id, visit.due_at) == ("4.2", people.anna.id, end_of_local_day(day))
        clock.freeze(local(day, 15))
        complete(restarted(runtime), case_id, "jr_visit", {**VISIT, "visit_date": day}, people.anna)

    # Stored in UTC: midnight in Budapest is 23:00 UTC in winter and 22:00 UTC in summer.
    assert (utc[6], utc[7]) == ("2026-03-27T23:00:00+00:00", "2026-04-29T22:00:00+00:00")
    assert [t.bpmn_id for t in timer_rows(runtime, case_id, "scheduled")] == ["day_180_due"]  # no visit left
    clock.freeze(local(CHECK_DAY, 0, 1))
    assert timers.fire_due(restarted(runtime), "worker-a") == 1
    [check] = ready_tasks(runtime, case_id, "jr_day_180_check")
    assert (check.step, check.due_at) == ("6", end_of_local_day(CHECK_DAY))
    complete(restarted(runtime), case_id, "jr_day_180_check",
             {"check_date": CHECK_DAY, "employed_on_day_180": True, "employer_certificate": True,
              "certificate_date": CHECK_DAY, "satisfaction_sheet": True}, people.anna)

    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed"
    assert case["data"]["employed_on_day_180"] is True
    assert [s["step"] for s in case["steps_taken"]] == ["3", "4.1"] + ["4.2"] * 9 + ["6"]
    assert [t.state for t in timer_rows(runtime, case_id) if t.purpose] == ["fired"] * 10
    # The reminders of a late plan / late check were scheduled and cancelled as the mentor was on time.
    assert {(t.bpmn_id, t.state) for t in timer_rows(runtime, case_id) if not t.purpose} == {
        ("plan_overdue", "cancelled"), ("check_overdue", "cancelled")}
    assert len(events(runtime, "timer_fired", case_id)) == 10
    # The plan-change task, open all along, ends with the case.
    assert ready_tasks(runtime, case_id) == []


def test_a_plan_change_midway_replaces_the_visits_still_to_come_and_keeps_the_day_180_check(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    check_timer = [t for t in timer_rows(runtime, case_id) if t.bpmn_id == "day_180_due"][0]
    for day in STANDARD_VISITS[:2]:
        clock.freeze(local(day, 8))
        timers.fire_due(runtime, "w")
    complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, people.anna)
    [pending] = ready_tasks(runtime, case_id, "jr_visit")  # visit 2 (14 Feb) is in the inbox, not yet recorded

    clock.freeze(local("2026-02-14", 11))
    done = complete(runtime, case_id, "jr_plan_change",
                    {"change_reason": "Jól beilleszkedett, ritkább kapcsolat elég.", "follow_up_months": 3,
                     "intensity": "light"}, people.anna)
    assert done["case_status"] == "running"
    scheduled = [t for t in timer_rows(runtime, case_id, "scheduled") if t.bpmn_id == "visit_due"]
    # Light intensity for 3 months: S+14, S+28 days, S+2, S+3 months; what is still to come of it remains:
    # the next visit waits as a timer, the calendar shows the rest of the new plan.
    assert [t.due_at for t in scheduled] == [local("2026-02-28")]
    assert [c["date"] for c in agenda.case_calendar(runtime, case_id) if c["kind"] == "visit"] == [
        "2026-02-28", "2026-03-31", "2026-04-30"]
    [still] = ready_tasks(runtime, case_id, "jr_visit")  # the visit already due stays in the inbox, same day
    assert still.id == pending.id and still.due_at == end_of_local_day("2026-02-14")
    cancelled = [t.due_at for t in timer_rows(runtime, case_id, "cancelled") if t.bpmn_id == "visit_due"]
    assert cancelled == [local(STANDARD_VISITS[2])]  # the old plan's waiting visit
    assert [t.id for t in timer_rows(runtime, case_id, "scheduled") if t.bpmn_id == "day_180_due"] == [check_timer.id]

    history = {e["kind"]: e for e in cases.history(runtime, case_id, people.anna)}
    change = [e for e in cases.history(runtime, case_id, people.anna)
              if e["kind"] == "task_completed" and e["payload"]["bpmn_id"] == "jr_plan_change"][0]
    assert change["payload"]["before"]["follow_up_months"] == 6 and change["payload"]["after"] == {
        "change_reason": "Jól beilleszkedett, ritkább kapcsolat elég.", "follow_up_months": 3, "intensity": "light"}
    assert {"timers_cancelled", "timers_scheduled"} <= set(history)

    complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": "2026-02-14"}, people.anna)
    for day in ("2026-02-28", "2026-03-31", "2026-04-30"):
        clock.freeze(local(day, 9))
        assert timers.fire_due(runtime, "w") == 1
        [visit] = ready_tasks(runtime, case_id, "jr_visit")
        assert visit.due_at == end_of_local_day(day)
        complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": day}, people.anna)

    # After the last visit the plan can still be lengthened: the visits still to come of the new plan appear.
    clock.freeze(local("2026-05-05", 10))
    complete(runtime, case_id, "jr_plan_change", {"change_reason": "Új munkakör, újra sűrűbben.",
                                                  "follow_up_months": 6, "intensity": "standard"}, people.anna)
    assert [t.due_at for t in timer_rows(runtime, case_id, "scheduled")] == [local("2026-05-31"), local(CHECK_DAY)]
    assert [c["date"] for c in agenda.case_calendar(runtime, case_id)] == ["2026-05-31", "2026-06-30", CHECK_DAY]


def test_the_day_180_check_closes_the_case_and_a_late_check_reaches_the_professional_lead(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna, months=1)
    assert [c["date"] for c in agenda.case_calendar(runtime, case_id) if c["kind"] == "visit"] == STANDARD_VISITS[:4]
    clock.freeze(local(CHECK_DAY, 7))
    assert timers.fire_due(runtime, "w") == 5  # four visits missed during downtime and the check, each once
    assert [t.due_at for t in ready_tasks(runtime, case_id, "jr_visit")] == [
        end_of_local_day(d) for d in STANDARD_VISITS[:4]]  # created in due order
    clock.freeze(local(CHECK_DAY, 7) + dt.timedelta(days=14, minutes=1))
    assert timers.fire_due(runtime, "w") == 1  # the check has waited two weeks: the lead is told (non-interrupting)
    [late] = ready_tasks(runtime, case_id, "jr_check_overdue_review")
    assert (late.role, late.assignee_id) == ("professional_lead", None)
    complete(runtime, case_id, "jr_day_180_check",
             {"check_date": "2026-08-13", "employed_on_day_180": False,
              "not_employed_reason": "A próbaidő alatt felmondott.", "satisfaction_sheet": False}, people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed" and case["data"]["employed_on_day_180"] is False
    assert ready_tasks(runtime, case_id) == []  # the terminate end closes the visits and the lead's task too
    assert timer_rows(runtime, case_id, "scheduled") == []


def test_a_late_plan_reminds_the_lead_every_two_weeks_twice_and_downtime_does_not_repeat_it(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = cases.start_case(runtime, "job_retention", people.anna, code)["case_id"]
    complete(runtime, case_id, "jr_entry", {"entry_route": "development_plan", "development_plan_date": "2026-01-20",
                                            "employer_name": "Kft.", "employment_start": "2026-02-02"}, people.anna)
    [cycle] = timer_rows(runtime, case_id, "scheduled")
    assert (cycle.bpmn_id, cycle.event_kind, cycle.due_at) == ("plan_overdue", "cycle",
                                                              local("2026-01-28", 10) + dt.timedelta(days=14))
    # Down for 30 days: both reminder intervals were missed, the cycle fires once (no burst of reminders).
    clock.freeze(local("2026-01-28", 10) + dt.timedelta(days=30))
    assert timers.fire_due(runtime, "w") == 1
    assert len(ready_tasks(runtime, case_id, "jr_plan_overdue_review")) == 1
    assert timer_rows(runtime, case_id, "scheduled") == []  # R2: both cycles are used up
    assert len(events(runtime, "timer_fired", case_id)) == 1


def _bulk_follow_up_clients(runtime, mentor_id: int, n: int) -> None:
    """n running job-retention cases of one mentor, each with a client of its own (rows only, for counting)."""
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        definition_id = definitions.latest_definition(session, "job_retention").id
        for i in range(n):
            client = Client(client_code=f"K-LOAD{i:04d}", dedup_key=f"load-{i}", family_name="Teszt",
                            given_name=f"Ügyfél {i}", birth_date="1990-01-01", birth_year=1990, mother_name="Anya",
                            registered_at=at, registered_by="test")
            session.add(client)
            session.flush()
            session.add(Case(definition_id=definition_id, process_key="job_retention", client_id=client.id,
                             status="running", state=b"", lock_version=1, caseworker_id=mentor_id, started_at=at,
                             started_by="test", audit_head="", audit_seq=0))


def test_a_mentor_is_warned_when_taking_a_31st_follow_up_client_and_the_manager_sees_it(runtime, people):
    _bulk_follow_up_clients(runtime, people.anna.id, 29)
    code = demo_data.run_intake(runtime, people.anna, 0)
    thirtieth = cases.start_case(runtime, "job_retention", people.anna, code)
    assert "warnings" not in thirtieth
    code = demo_data.run_intake(runtime, people.anna, 1)
    thirty_first = cases.start_case(runtime, "job_retention", people.anna, code)
    # The code and the figures (the reader's app words them, web/limit_warnings.py), the label in both languages.
    assert thirty_first["warnings"] == [
        {"code": "caseload_limit_exceeded", "caseload": "follow_up", "active": 31, "limit": 30,
         "label": {"hu": "aktív utókövetett kliens", "en": "active follow-up clients"}}]
    [warned] = events(runtime, caseload.CASELOAD_EXCEEDED, thirty_first["case_id"])
    assert json_payloads([warned])[0] == {"caseworker_id": people.anna.id, "caseload": "follow_up", "active": 31,
                                         "limit": 30}
    listed = {r["username"]: r for r in _follow_up(caseload.overview(runtime, people.mark))["rows"]}
    assert (listed["anna"]["active"], listed["anna"]["over"]) == (31, True)
    assert (listed["bela"]["active"], listed["bela"]["over"]) == (0, False)
    # A family-care case in follow-up counts too; a closed case no longer does.
    with runtime.db.unit_of_work() as session:
        session.get(Case, thirtieth["case_id"]).status = "completed"
    rows = _follow_up(caseload.overview(runtime, people.lea))["rows"]
    assert {r["username"]: r["active"] for r in rows}["anna"] == 30


def test_a_plan_change_before_the_worker_reached_a_due_visit_issues_it_once_on_its_own_day(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-07", 8))
    assert timers.fire_due(runtime, "w") == 1
    complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, people.anna)
    # 14 February, 10:00: visit 2 is due since midnight but no worker has fired it yet (downtime).
    clock.freeze(local("2026-02-14", 10))
    complete(runtime, case_id, "jr_plan_change", {"change_reason": "Sűrűbb kapcsolat kell.", "follow_up_months": 6,
                                                  "intensity": "intensive"}, people.anna)
    [visit] = ready_tasks(runtime, case_id, "jr_visit")  # the due visit is issued at once, on its own day
    assert visit.due_at == end_of_local_day("2026-02-14")
    rows = [(t.due_at, t.state) for t in timer_rows(runtime, case_id) if t.bpmn_id == "visit_due"]
    # The command first fires what is overdue (visit 2, in due order, as the worker would), then the change
    # replaces what waits after it (the new plan's next visit: 21 February).
    assert rows == [(local("2026-02-07"), "fired"), (local("2026-02-14"), "fired"), (local("2026-02-21"), "scheduled")]
    fired = json_payloads(events(runtime, "timer_fired", case_id))
    assert [(f["bpmn_id"], f["due_at"]) for f in fired] == [("visit_due", local("2026-02-07").isoformat()),
                                                            ("visit_due", local("2026-02-14").isoformat())]
    # The second deadline was reached by the clock, inside anna's command: it is the scheduler's event, the
    # plan change is hers, and the case's chain verifies with the actor each event names.
    assert {e.actor for e in events(runtime, "timer_fired", case_id)} == {timers.SCHEDULER}
    assert events(runtime, "task_completed", case_id)[-1].actor == people.anna.username
    with runtime.db.reading() as session:
        assert audit.verify_case_chain(session, session.get(Case, case_id)) == []
    assert timers.fire_due(runtime, "w") == 0  # nothing left due: the visit was issued exactly once
    assert len(ready_tasks(runtime, case_id, "jr_visit")) == 1
    # Intensive: weekly for two months, so after 14 February come 21 and 28 February, 7 March ...
    assert [c["date"] for c in agenda.case_calendar(runtime, case_id) if c["kind"] == "visit"][:3] == [
        "2026-02-21", "2026-02-28", "2026-03-07"]


def test_finished_rounds_of_the_visit_loop_leave_the_state_and_unrecorded_visits_stay_workable(runtime, people):
    from engine.runtime import finished_rounds

    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    sizes = []
    for n, day in enumerate(STANDARD_VISITS[:8], start=1):
        clock.freeze(local(day, 8))
        assert timers.fire_due(restarted(runtime), "w") == 1
        if n in (2, 5):  # these two stay unrecorded while later visits come and go
            continue
        _record(runtime, case_id, day, people.anna)
        with runtime.db.reading() as session:
            workflow = restarted(runtime).workflow(session, session.get(Case, case_id))
        sizes.append(len(workflow.tasks))
        rounds = [t for t in workflow.tasks.values() if t.task_spec.name == "jr_next_visit"]
        assert len(rounds) == finished_rounds.KEEP_ROUNDS  # the older rounds are gone, live visits or not
    # The loop no longer grows the state with every visit (it grew by about ten tasks per visit).
    assert sizes[-1] - sizes[2] <= 8, sizes
    # The visits left in the inbox in forgotten rounds' place are recorded normally, late and out of order.
    waiting = ready_tasks(runtime, case_id, "jr_visit")
    assert [t.due_at for t in waiting] == [end_of_local_day(STANDARD_VISITS[1]), end_of_local_day(STANDARD_VISITS[4])]
    _record(runtime, case_id, STANDARD_VISITS[4], people.anna)
    _record(runtime, case_id, STANDARD_VISITS[1], people.anna)
    clock.freeze(local(STANDARD_VISITS[8], 8))
    assert timers.fire_due(restarted(runtime), "w") == 1
    _record(runtime, case_id, STANDARD_VISITS[8], people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert [s["step"] for s in case["steps_taken"]].count("4.2") == 9
    assert sorted(e["payload"]["after"]["visit_date"] for e in cases.history(runtime, case_id, people.anna)
                  if e["kind"] == "task_completed" and e["payload"]["bpmn_id"] == "jr_visit") == STANDARD_VISITS


def _record(runtime, case_id: int, day: str, mentor) -> None:
    """Record the visit of ``day`` (not merely the oldest one waiting), from a freshly started process."""
    [task] = [t for t in ready_tasks(runtime, case_id, "jr_visit") if t.due_at == end_of_local_day(day)]
    tasks.complete(restarted(runtime), task.id, {**VISIT, "visit_date": day}, mentor)


def _follow_up(loads: list[dict]) -> dict:
    """The mentors' follow-up caseload among every caseload the packages declare."""
    return next(c for c in loads if c["caseload"] == "follow_up")
