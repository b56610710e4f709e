"""Form data on the server: computed fields 39/40, every kind of bad input, drafts."""
from __future__ import annotations

import copy

import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from tests import demo_data

from .helpers import do, new_family_case, review, snapshot, task_of, waiting_steps


def test_total_and_per_capita_income_are_computed_over_every_member_and_row(runtime, people):
    case_id = new_family_case(runtime, people)
    data = demo_data.assessment_data()
    data["household_size"] = 4
    data["household_members"].append(
        {"name": "Kovács Anna", "kinship": "parent", "residence_status": "same_household",
         "income_types": ["pension_like_benefit", "municipal_labour", "other"],
         "pension_incomes": [{"kind": "regular_social_annuity", "amount": 40000}],
         "municipal_incomes": [{"kind": "carers_fee", "amount": 35000}],
         "other_revenues": [{"kind": "other", "kind_other": "alkalmi ajándék", "amount": 5000}]})
    data["client_income_types"] = ["pension", "other"]
    data["client_income_types_other"] = "családi segítség"
    data["client_other_revenues"] = [{"kind": "family_support", "amount": 20000}]
    do(runtime, case_id, "step_3_1", data, people.anna)
    stored = cases.get_case(runtime, case_id, people.anna)["data"]
    expected_total = 180000 + 12200 + 30000 + 40000 + 35000 + 5000 + 95000 + 20000
    assert stored["total_income"] == expected_total
    assert stored["per_capita_income"] == round(expected_total / 4, 2)


@pytest.mark.parametrize("size", [0, None])
def test_field_7_counts_the_client_so_it_is_at_least_one(runtime, people, size):
    case_id = new_family_case(runtime, people)
    data = demo_data.assessment_data()
    if size is None:
        data.pop("household_size")
    else:
        data["household_size"] = size
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_1", data, people.anna)
    assert [(d["field"], d["kind"]) for d in err.value.details] == [
        ("household_size", "required" if size is None else "minimum")]
    data["household_size"] = 1
    data["household_members"] = []
    do(runtime, case_id, "step_3_1", data, people.anna)
    stored = cases.get_case(runtime, case_id, people.anna)["data"]
    assert stored["per_capita_income"] == stored["total_income"] == 95000


def _bad(mutate):
    data = demo_data.assessment_data()
    mutate(data)
    return data


BAD_INPUT = {
    "wrong type": (lambda d: d.update(household_size="három"), "household_size", "not of type"),
    "missing required": (lambda d: d.pop("taken_into_care_date"), "taken_into_care_date", "is required"),
    "unknown field": (lambda d: d.update(favourite_colour="kék"), "favourite_colour", "not a field of this form"),
    "option not in list": (lambda d: d.update(problem_types=["financial", "astrology"]), "problem_types/1",
                           "not one of the options"),
    "negative amount": (lambda d: d["household_members"][0]["work_incomes"][0].update(amount=-5),
                        "household_members/0/work_incomes/0/amount", "minimum"),
    "impossible date": (lambda d: d.update(taken_into_care_date="2026-02-30"), "taken_into_care_date",
                        "not a valid date"),
    "impossible dotted date": (lambda d: d.update(status_assessment_date="2026.13.01"), "status_assessment_date",
                               "not a valid date"),
    "oversized text": (lambda d: d.update(presented_problem="x" * 10001), "presented_problem", "longer than"),
    "computed field set by the client": (lambda d: d.update(total_income=1), "total_income", "computed"),
    "hidden income block": (lambda d: d["household_members"][0].update(
        pension_incomes=[{"kind": "old_age_pension", "amount": 1}]), "household_members/0/pension_incomes",
                            "applies only when"),
    "other without its text": (lambda d: d.update(problem_types=["other"]), "problem_types_other", "required"),
    "none with another income type": (lambda d: d.update(client_income_types=["none", "pension"]),
                                      "client_income_types", "cannot be combined"),
    "ticked income type without rows": (lambda d: d["household_members"][1].pop("child_incomes"),
                                        "household_members/1/child_incomes", "required"),
    "not an object": (lambda d: None, "(form)", "JSON object"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUT))
def test_bad_input_is_refused_by_field_and_changes_nothing(runtime, people, kind):
    mutate, field, message = BAD_INPUT[kind]
    case_id = new_family_case(runtime, people)
    before = snapshot(runtime, case_id)
    data = ["not", "an", "object"] if kind == "not an object" else _bad(mutate)
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_1", data, people.anna)
    details = err.value.details
    assert any(d["field"] == field and message in d["message"] for d in details), details
    if field not in ("(form)", "favourite_colour") and "/" not in field:
        assert any("seed_field" in d for d in details if d["field"] == field)
    assert snapshot(runtime, case_id) == before
    assert waiting_steps(runtime, case_id) == ["3.1"]


def test_all_errors_are_reported_at_once(runtime, people):
    case_id = new_family_case(runtime, people)
    data = demo_data.assessment_data()
    data.update(household_size=-1, taken_into_care_date="tegnap", problem_types=[])
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_1", data, people.anna)
    fields = {d["field"] for d in err.value.details}
    assert {"household_size", "taken_into_care_date"} <= fields


def test_a_draft_is_saved_resumed_and_cleared_on_completion(runtime, people):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    half = {"taken_into_care_date": "2026-03-02", "household_size": 2}
    tasks.save_draft(runtime, task_id, half, people.anna)
    assert tasks.get_task(runtime, task_id, people.anna)["values"] == half
    with pytest.raises(ValidationFailed, match="nonsense"):
        tasks.save_draft(runtime, task_id, {"nonsense": 1}, people.anna)
    assert tasks.get_task(runtime, task_id, people.anna)["values"] == half
    tasks.complete(runtime, task_id, demo_data.assessment_data(), people.anna)
    history = cases.history(runtime, case_id, people.anna)
    assert [e["kind"] for e in history].count("draft_saved") == 1


def test_completed_task_records_before_and_after_in_the_history(runtime, people):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, False, people.anna)
    do(runtime, case_id, "step_3_9", demo_data.further_service_data(), people.anna)
    amended = {"needs_other_helpers": True, "other_helpers": "Családterapeuta", "action_plan": "Családterápia."}
    do(runtime, case_id, "step_3_7", amended, people.anna)
    history = cases.history(runtime, case_id, people.anna)
    completed = [e for e in history if e["kind"] == "task_completed" and e["payload"]["step"] == "3.7"][0]
    assert completed["actor"] == "anna"
    assert completed["payload"]["before"]["needs_other_helpers"] is False
    assert completed["payload"]["after"]["needs_other_helpers"] is True
    assert completed["payload"]["before"]["other_helpers"] is None
    decisions = [e for e in history if e["kind"] == "decision_taken"]
    assert {"step": "3.6", "answers": {"commitments_met": False}} in [e["payload"] for e in decisions]
    kinds = [e["kind"] for e in history]
    assert kinds[0] == "case_started" and "task_created" in kinds


def test_deepcopy_of_input_is_not_mutated(runtime, people):
    case_id = new_family_case(runtime, people)
    data = demo_data.assessment_data()
    original = copy.deepcopy(data)
    do(runtime, case_id, "step_3_1", data, people.anna)
    assert data == original
