"""Family care 3.10, follow-up as agreed: field 55's frequency and duration drive the contacts, with no 6-month
cap (6 months stays the default offered); the caseworker can add a contact when needed and end the follow-up
early with a reason (docs/processes.md, "follow-up as agreed")."""
from __future__ import annotations

import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from engine.store import clock
from engine.timers import caseload, timers
from tests import demo_data

from .helpers import do, new_family_case, review, task_of, through_agreement, waiting_steps
from .timer_helpers import local, timer_rows


def _at_closure(runtime, people) -> int:
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    return case_id


def _closed(runtime, people, frequency: str, months: int) -> int:
    case_id = _at_closure(runtime, people)
    do(runtime, case_id, "step_3_8", {**demo_data.closure_data(True), "closure_date": "2026-06-30",
                                      "follow_up_frequency": frequency, "follow_up_months": months}, people.anna)
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    return case_id


def _contacts(runtime, case_id: int) -> list[str]:
    return [r.due_at for r in timer_rows(runtime, case_id, "scheduled") if r.purpose == "visit"]


def test_six_months_is_only_the_default_offered(runtime, people):
    case_id = _at_closure(runtime, people)
    shown = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_8"), people.anna)
    assert shown["values"]["follow_up_months"] == 6


def test_a_year_of_monthly_contacts_as_agreed(runtime, people):
    case_id = _closed(runtime, people, "monthly", 12)
    expected = [f"2026-{m:02d}-30" for m in range(7, 13)] + ["2027-01-30", "2027-02-28"] + [
        f"2027-{m:02d}-30" for m in range(3, 7)]
    assert _contacts(runtime, case_id) == [local(day) for day in expected]
    assert sorted(waiting_steps(runtime, case_id)) == ["3.10"]  # an extra contact or ending, at any time


def test_a_family_follow_up_counts_in_its_own_caseload_not_in_job_retentions(runtime, people):
    _closed(runtime, people, "monthly", 3)
    loads = {c["caseload"]: {r["username"]: r["active"] for r in c["rows"]}
             for c in caseload.overview(runtime, people.mark)}
    assert loads["family_follow_up"]["anna"] == 1
    assert loads["follow_up"]["anna"] == 0  # job retention's 30 clients per mentor (seed 000, 7.1)


def test_more_than_24_months_is_refused(runtime, people):
    case_id = _at_closure(runtime, people)
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_8"),
                       {**demo_data.closure_data(True), "follow_up_months": 25}, people.anna)
    assert [(d["field"], d["kind"]) for d in refused.value.details] == [("follow_up_months", "maximum")]


def test_an_extra_contact_joins_the_log_and_ending_early_closes_the_case(runtime, people):
    case_id = _closed(runtime, people, "monthly", 3)
    extra = {"date": "2026-07-10", "state_found": "A család telefonon jelezte: új számlatartozás."}
    do(runtime, case_id, "step_3_10_manage", {"follow_up_action": "contact", "follow_up_contacts": [extra]},
       people.anna)
    assert waiting_steps(runtime, case_id) == ["3.10"]  # the task waits again for the next need
    clock.freeze(local("2026-07-30", 8))
    assert timers.fire_due(runtime, "w") == 1
    # The scheduled contact shows the extra one (one log, x-append-only) and adds its own after it.
    scheduled = task_of(runtime, case_id, "step_3_10")
    carried = tasks.get_task(runtime, scheduled, people.anna)["carried"]["follow_up_contacts"]
    assert [(e["row"]["date"], e["step"]) for e in carried] == [("2026-07-10", "3.10")]
    do(runtime, case_id, "step_3_10", {"follow_up_contacts": [extra, {"date": "2026-07-30",
                                                                       "state_found": "Rendezett."}]}, people.anna)
    with pytest.raises(ValidationFailed) as refused:  # ending needs its date and reason
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_10_manage"), {"follow_up_action": "end"},
                       people.anna)
    assert {d["field"] for d in refused.value.details} == {"follow_up_end_date", "follow_up_end_reason"}
    do(runtime, case_id, "step_3_10_manage", {"follow_up_action": "end", "follow_up_end_date": "2026-07-30",
                                              "follow_up_end_reason": "A helyzet rendeződött, nem kér több "
                                                                      "kapcsolatot."}, people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed"
    assert [e["date"] for e in case["data"]["follow_up_contacts"]] == ["2026-07-10", "2026-07-30"]
    assert _contacts(runtime, case_id) == []  # the contacts of August and September are cancelled
    assert [r.due_at for r in timer_rows(runtime, case_id, "cancelled") if r.purpose == "visit"] == [
        local("2026-08-30"), local("2026-09-30")]


def test_the_last_scheduled_contact_closes_the_case_and_the_task_for_extra_contacts(runtime, people):
    case_id = _closed(runtime, people, "monthly", 1)
    clock.freeze(local("2026-07-30", 8))
    assert timers.fire_due(runtime, "w") == 1
    do(runtime, case_id, "step_3_10", {"follow_up_contacts": [{"date": "2026-07-30", "state_found": "Jól vannak."}]},
       people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"
    assert waiting_steps(runtime, case_id) == []
