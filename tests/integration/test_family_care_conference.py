"""Family care 3.5, the case conference records who does what: participants (family members, other persons,
professionals with their organisations), the invitation, attendance, the tasks each took on with due dates that
later steps see, and the specialists or institutions brought in (docs/processes.md, "case conference")."""
from __future__ import annotations

import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from tests import demo_data

from .helpers import conference, do, new_family_case, review, task_of, through_agreement, waiting_steps


def _at_conference(runtime, people) -> int:
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "case_conference"}, people.anna)
    return case_id


def test_a_conference_records_its_participants_and_their_tasks(runtime, people):
    case_id = _at_conference(runtime, people)
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_5"), {"actions": [demo_data.action(25)]}, people.anna)
    assert {d["field"] for d in refused.value.details} == {
        "conference_date", "invitation_date", "conference_participants", "conference_tasks"}
    data = demo_data.conference_data([demo_data.action(25)])
    del data["conference_participants"][1]["organisation"]  # a professional comes with her organisation
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_5"), data, people.anna)
    assert [d["field"] for d in refused.value.details] == ["conference_participants/1/organisation"]
    conference(runtime, case_id, people.anna, [demo_data.action(25)])
    assert waiting_steps(runtime, case_id) == ["3.3"]
    recorded = cases.get_case(runtime, case_id, people.anna)["data"]
    assert [(p["name"], p["invited"], p["attended"]) for p in recorded["conference_participants"]] == [
        ("Kovács János", True, True), ("Szabó Ilona", True, False)]


def test_later_steps_see_the_tasks_with_their_due_dates_and_a_second_conference_adds_to_them(runtime, people):
    case_id = _at_conference(runtime, people)
    conference(runtime, case_id, people.anna, [demo_data.action(25)])
    for bpmn_id in ("step_3_3",):
        carried = tasks.get_task(runtime, task_of(runtime, case_id, bpmn_id), people.anna)["carried"]
        assert [(e["row"]["participant"], e["row"]["due_date"], e["step"]) for e in carried["conference_tasks"]] \
            == [("Kovács János", "2026-03-31", "3.5"), ("Szabó Ilona", "2026-03-15", "3.5")]
    do(runtime, case_id, "step_3_3", {"casework_next": "case_conference"}, people.anna)
    conference(runtime, case_id, people.anna, [demo_data.action(25), demo_data.action(26, "Második esetkonferencia.")])
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    carried = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_6"), people.anna)["carried"]
    assert len(carried["conference_tasks"]) == 4  # both conferences' tasks, at the review
    review(runtime, case_id, True, people.anna)
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert len(data["conference_tasks"]) == 4 and len(data["conference_participants"]) == 4
