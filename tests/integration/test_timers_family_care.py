"""Family care 3.10 (docs/timers.md): the follow-up contacts agreed at closure (field 54 yes, field 55's frequency and
duration) are scheduled from the closure date (field 52) and appear on their days."""
from __future__ import annotations

from engine.cases import cases
from engine.store import clock
from engine.timers import timers
from tests import demo_data

from .helpers import do, new_family_case, review, through_agreement, waiting
from .timer_helpers import end_of_local_day, local, ready_tasks, timer_rows


def _closed(runtime, people, closure: dict) -> int:
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    do(runtime, case_id, "step_3_8", closure, people.anna)
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    return case_id


def test_fortnightly_for_two_months_from_the_closure_date(runtime, people):
    closure = {**demo_data.closure_data(True), "closure_date": "2026-06-30", "follow_up_frequency": "fortnightly",
               "follow_up_months": 2}
    case_id = _closed(runtime, people, closure)
    days = ["2026-07-14", "2026-07-28", "2026-08-11", "2026-08-25"]  # every 14 days while ≤ 30 August
    rows = timer_rows(runtime, case_id, "scheduled")
    assert [(r.bpmn_id, r.purpose, r.due_at) for r in rows] == [("follow_up_3_10_due", "visit", local(x))
                                                                for x in days]
    assert rows[0].label == "1. utánkövetés / follow-up contact 1"
    assert [t.bpmn_id for t in waiting(runtime, case_id)] == ["step_3_10_manage"]  # extra contact or end
    # The worker was down all summer: the four contacts appear at once, once each, in due order.
    clock.freeze(local("2026-09-01", 8))
    assert timers.fire_due(runtime, "w") == 4
    contacts = ready_tasks(runtime, case_id, "step_3_10")
    assert [(t.step, t.assignee_id, t.due_at) for t in contacts] == [
        ("3.10", people.anna.id, end_of_local_day(x)) for x in days]
    contacts = []  # one case log (x-append-only): each contact sends the earlier rows unchanged, then its own
    for day in days:
        contacts.append({"date": day, "state_found": "Rendben."})
        do(runtime, case_id, "step_3_10", {"follow_up_contacts": list(contacts)}, people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"


def test_without_follow_up_nothing_is_scheduled(runtime, people):
    case_id = _closed(runtime, people, demo_data.closure_data(False))
    assert [(r.purpose, r.state) for r in timer_rows(runtime, case_id)] == [("review", "cancelled")]  # 3.6's
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"
