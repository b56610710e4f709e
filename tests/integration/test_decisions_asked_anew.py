"""A step that comes again opens with what the case holds, except its decisions (x-seed-step, docs/forms.md):
the last round's routing is asked anew, so a caseworker who only adds the new entries cannot repeat it unawares."""
from __future__ import annotations

import datetime as dt

from engine.cases import tasks
from engine.definitions.definitions import latest_definition_id
from engine.store import clock
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
    # The last review's day is not this one's (x-asked-anew); the day this review is due (5 April, a month after
    # the agreement) is still to come, so it is not offered either: it would be refused at submit.
    assert "review_date" not in review
    assert review["review_checks"] == demo_data.review_checks()  # the payments checked before are carried



def test_a_review_fired_by_its_timer_opens_on_its_own_day(runtime, people):
    clock.freeze(dt.datetime(2026, 4, 20, 9, tzinfo=dt.timezone.utc))
    with runtime.db.reading() as session:
        view = runtime.definition(session, latest_definition_id(session, "family_care"))
    review = view.forms["review.json"]
    last_round = {"review_date": "2026-03-20", "commitments_met": True}
    assert review.prefill(last_round, {"scheduled_day": "2026-04-20"})["review_date"] == "2026-04-20"
    opened = review.prefill(last_round, {"scheduled_day": None})  # chosen at 3.3: no day of its own
    assert "review_date" not in opened and "commitments_met" not in opened
    assert "review_date" not in review.prefill(last_round, {"scheduled_day": "2026-05-20"})  # not yet its day
