"""Family care 3.6 at regular intervals: the cooperation agreement (3.2) sets the review rhythm, a timer on
casework puts 3.6 in the inbox when a review is due, and 3.6 records which payments were checked
(docs/processes.md, "Decision: the flow of process 3")."""
from __future__ import annotations

from engine.cases import cases, tasks
from engine.store import clock
from engine.timers import timers
from tests import demo_data

from .helpers import do, new_family_case, task_of, waiting_steps
from .timer_helpers import end_of_local_day, local, ready_tasks, timer_rows


def _agreed(runtime, people, frequency: str = "monthly", agreement_date: str = "2026-03-05") -> int:
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": agreement_date, "review_frequency": frequency},
       people.anna)
    return case_id


def _scheduled_reviews(runtime, case_id: int) -> list[tuple]:
    return [(r.bpmn_id, r.purpose, r.due_at, r.label) for r in timer_rows(runtime, case_id, "scheduled")]


def test_the_review_is_due_in_the_agreed_rhythm_and_comes_in_place_of_casework(runtime, people):
    case_id = _agreed(runtime, people)
    assert waiting_steps(runtime, case_id) == ["3.3"]
    assert _scheduled_reviews(runtime, case_id) == [
        ("review_due_3_6", "review", local("2026-04-05"), "1. felülvizsgálat (3.6) / review 1 (3.6)")]
    clock.freeze(local("2026-04-05", 8))
    assert timers.fire_due(runtime, "w") == 1
    (review,) = ready_tasks(runtime, case_id)
    assert (review.bpmn_id, review.assignee_id, review.due_at) == (
        "step_3_6", people.anna.id, end_of_local_day("2026-04-05"))
    # Commitments met, goal not reached: casework goes on, the next review a month after the review's day.
    do(runtime, case_id, "step_3_6", demo_data.review_data(True, goal_reached=False, on="2026-04-05"), people.anna)
    assert waiting_steps(runtime, case_id) == ["3.3"]
    assert _scheduled_reviews(runtime, case_id) == [
        ("review_due_3_6", "review", local("2026-05-05"), "2. felülvizsgálat (3.6) / review 2 (3.6)")]
    # The second review shows the payments checked at the first and adds its own (x-append-only).
    clock.freeze(local("2026-05-06", 9))
    assert timers.fire_due(runtime, "w") == 1
    carried = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_6"), people.anna)["carried"]
    assert [(e["row"]["name"], e["row"]["month"], e["step"]) for e in carried["review_checks"]] == [
        ("Lakbér", "2026-02", "3.6"), ("Adósságkezelési önrész", "2026-02", "3.6")]
    april = [{**row, "month": "2026-04", "shown": False} for row in demo_data.review_checks()]
    do(runtime, case_id, "step_3_6", {**demo_data.review_data(False, on="2026-05-06"),
                                      "review_checks": [e["row"] for e in carried["review_checks"]] + april},
       people.anna)
    assert waiting_steps(runtime, case_id) == ["3.9"]
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert [(r["month"], r["shown"]) for r in data["review_checks"]] == [
        ("2026-02", True), ("2026-02", True), ("2026-04", False), ("2026-04", False)]
    assert _scheduled_reviews(runtime, case_id) == []  # casework left: its timer is cancelled


def test_a_fortnightly_rhythm_and_a_review_held_from_casework_keep_the_agreed_days(runtime, people):
    case_id = _agreed(runtime, people, "fortnightly", agreement_date="2026-02-20")
    assert [r[2] for r in _scheduled_reviews(runtime, case_id)] == [local("2026-03-06")]
    # The caseworker holds a review before it is due (routing choice 'review'), the goal not yet reached:
    # the day agreed still comes, as the first day of the rhythm after the review's day.
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(25)], "casework_next": "review"}, people.anna)
    do(runtime, case_id, "step_3_6", demo_data.review_data(True, goal_reached=False), people.anna)
    assert [r[2] for r in _scheduled_reviews(runtime, case_id)] == [local("2026-03-06")]


def test_an_agreement_recorded_late_is_reviewed_from_the_next_day_of_its_rhythm(runtime, people):
    # Recorded on 2 March for an agreement of 2 February (weekly): the reviews of February are not
    # all due at once; the first is the rhythm's first day after the moment it is recorded.
    case_id = _agreed(runtime, people, "weekly", agreement_date="2026-02-02")
    assert [r[2] for r in _scheduled_reviews(runtime, case_id)] == [local("2026-03-09")]


def test_commitments_met_and_goal_reached_closes_the_case_as_before(runtime, people):
    case_id = _agreed(runtime, people)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    do(runtime, case_id, "step_3_6", demo_data.review_data(True), people.anna)
    assert waiting_steps(runtime, case_id) == ["3.8"]


def test_a_review_must_record_what_was_checked(runtime, people):
    from engine.errors import ValidationFailed

    case_id = _agreed(runtime, people)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    try:
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_6"), {"commitments_met": True}, people.anna)
    except ValidationFailed as err:
        assert {d["field"] for d in err.details} == {"review_date", "review_checks", "goal_reached"}
    else:
        raise AssertionError("a review without what was checked was accepted")


def test_casework_going_round_keeps_the_review_timer_row(runtime, people):
    """Each 3.3 round waits on a new casework task, and its boundary timer with it: the row moves to the new
    task (engine/timers/timer_sync.py, ``_rearm``), so no cancellation or rescheduling fills the history."""
    from sqlalchemy import select

    from engine.store.models import AuditEvent

    case_id = _agreed(runtime, people)
    (before,) = timer_rows(runtime, case_id)
    for n in range(3):
        do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6 + i) for i in range(n + 1)],
                                          "casework_next": "continue"}, people.anna)
    (after,) = timer_rows(runtime, case_id)
    assert (after.id, after.state, after.due_at) == (before.id, "scheduled", before.due_at)
    assert after.spiff_task_id != before.spiff_task_id
    with runtime.db.reading() as session:
        kinds = session.execute(select(AuditEvent.kind).where(AuditEvent.case_id == case_id)).scalars().all()
    assert "timers_cancelled" not in kinds and kinds.count("timers_scheduled") == 1
    clock.freeze(local("2026-04-05", 8))
    assert timers.fire_due(runtime, "w") == 1 and waiting_steps(runtime, case_id) == ["3.6"]


def test_an_amended_agreement_can_change_the_review_rhythm(runtime, people):
    case_id = _agreed(runtime, people)  # monthly from 5 March
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    do(runtime, case_id, "step_3_6", demo_data.review_data(False), people.anna)
    do(runtime, case_id, "step_3_9", demo_data.further_service_data(), people.anna)
    shown = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_7"), people.anna)
    assert shown["values"]["review_frequency"] == "monthly"  # the rhythm agreed so far
    do(runtime, case_id, "step_3_7", {"needs_other_helpers": False, "action_plan": "Sűrűbb ellenőrzés.",
                                      "agreement_date": "2026-03-02", "review_frequency": "weekly"}, people.anna)
    # Weekly from the amended agreement (2 March), the first day after the review and this moment: 9 March.
    assert [r[2] for r in _scheduled_reviews(runtime, case_id)] == [local("2026-03-09")]
