"""Family care 3.8 evaluates before it closes: the results achieved, what the agreement held, the changes — then
fields 52–55; the caseworker sees what she evaluates, the professional lead sees the evaluation
(docs/processes.md, "3.8 evaluates")."""
from __future__ import annotations

import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from tests import demo_data
from tests.integration.web_client import browser, make_app

from .helpers import do, new_family_case, review, task_of, through_agreement


def _at_closure(runtime, people) -> int:
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    return case_id


def test_a_closure_without_its_evaluation_is_refused(runtime, people):
    case_id = _at_closure(runtime, people)
    closure = {k: v for k, v in demo_data.closure_data(False).items() if k not in demo_data.evaluation_data()}
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_8"), closure, people.anna)
    assert sorted(d["field"] for d in refused.value.details) == [
        "changes_recorded", "commitments_evaluation", "results_evaluation"]
    assert all(d["seed_field"] == "3.8" for d in refused.value.details)


def test_the_caseworker_sees_what_she_evaluates_and_the_lead_sees_the_evaluation(runtime, people):
    case_id = _at_closure(runtime, people)
    anna = browser(make_app(runtime), "anna")
    page = anna.get(f"/tasks/{task_of(runtime, case_id, 'step_3_8')}").get_data(as_text=True)
    panel = page[page.index('data-testid="review"'):]
    panel = panel[:panel.index("</section>")]
    # The action plan (45), the agreement and its rhythm, the payments checked at the review.
    assert "Adósságkezelési tanácsadás" in panel and "2026.03.05" in panel and "havonta" in panel
    assert "Lakbér" in panel
    assert page.index('id="f-results_evaluation"') < page.index('id="f-closure_date"')  # before 52–55
    do(runtime, case_id, "step_3_8", demo_data.closure_data(False), people.anna)
    lea = browser(make_app(runtime), "lea")
    page = lea.get(f"/tasks/{task_of(runtime, case_id, 'agree_closure_success')}").get_data(as_text=True)
    for text in demo_data.evaluation_data().values():
        assert text in page
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert {k: data[k] for k in demo_data.evaluation_data()} == demo_data.evaluation_data()
