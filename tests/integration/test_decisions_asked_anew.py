"""A step that comes again opens with what the case holds, except its decisions (x-seed-step, docs/forms.md):
the last round's routing is asked anew, so a caseworker who only adds the new entries cannot repeat it unawares."""
from __future__ import annotations

from engine.cases import tasks
from tests import demo_data

from .helpers import do, new_family_case, task_of


def _opened(runtime, people, case_id: int, bpmn_id: str) -> dict:
    return tasks.get_task(runtime, task_of(runtime, case_id, bpmn_id), people.anna)["values"]


def test_casework_and_the_review_open_again_without_the_last_rounds_decisions(runtime, people):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    do(runtime, case_id, "step_3_6", demo_data.review_data(True, goal_reached=False), people.anna)

    casework = _opened(runtime, people, case_id, "step_3_3")
    assert "casework_next" not in casework  # the last round chose "review": not chosen again for her
    assert casework["meetings"] == [demo_data.meeting(6)]  # what was recorded is still shown

    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    review = _opened(runtime, people, case_id, "step_3_6")
    assert "commitments_met" not in review and "goal_reached" not in review
    assert review["review_checks"] == demo_data.review_checks()  # the payments checked before are carried
