"""Every path through intake and family care (steps 3.1–3.11), on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.cases import cases
from engine.sandbox import calendar_helpers
from engine.store import clock
from engine.timers import timers
from tests import demo_data

from .helpers import conference, do, new_family_case, review, through_agreement, waiting, waiting_steps


def test_intake_registers_a_new_client_with_a_stable_code(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    assert code.startswith("K-") and len(code) == 10
    history = cases.list_cases(runtime, people.anna)
    intake_case = [c for c in history if c["process_key"] == "intake"][0]
    assert intake_case["status"] == "completed" and intake_case["client_code"] == code


def test_intake_recognises_a_returning_client_despite_accents_and_case(runtime, people):
    first = demo_data.run_intake(runtime, people.anna, 0)
    again = demo_data.intake_data(0)
    again["family_name"] = again["family_name"].upper().replace("Á", "A")
    again["given_name"] = " " + again["given_name"].lower()
    started = cases.start_case(runtime, "intake", people.bela)
    do(runtime, started["case_id"], "intake_registration", again, people.bela)
    case = cases.get_case(runtime, started["case_id"], people.bela)
    assert case["client"]["client_code"] == first
    assert case["data"]["client"]["client_status"] == "returning"
    family = cases.start_case(runtime, "family_care", people.bela, first)
    data = cases.get_case(runtime, family["case_id"], people.bela)["data"]
    assert data["client_status"] == "returning"


def test_family_care_needs_a_registered_client(runtime, people):
    from engine.errors import NotFound, SegitoError

    with pytest.raises(SegitoError, match="needs a client"):
        cases.start_case(runtime, "family_care", people.anna)
    with pytest.raises(NotFound, match="K-NOPE"):
        cases.start_case(runtime, "family_care", people.anna, "K-NOPE")


def _review(runtime, people, case_id, met: bool):
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, met, people.anna)


@pytest.mark.parametrize("follow_up", [True, False])
def test_successful_closure_with_and_without_follow_up(runtime, people, follow_up):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    _review(runtime, people, case_id, met=True)
    assert waiting_steps(runtime, case_id) == ["3.8"]
    do(runtime, case_id, "step_3_8", demo_data.closure_data(follow_up), people.anna)
    # Closure is agreed with the professional lead: the task waits in the lead's queue, unassigned.
    [agree] = waiting(runtime, case_id)
    assert agree.role == "professional_lead" and agree.assignee_id is None
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    if follow_up:
        # Field 55: monthly for 3 months from the closure (2026-06-30): each contact appears on its day.
        assert waiting_steps(runtime, case_id) == ["3.10"]  # an extra contact or ending early, at any time
        contacts = []  # one case log (x-append-only): each contact sends the earlier rows unchanged, then its own
        for day in ("2026-07-30", "2026-08-30", "2026-09-30"):
            clock.freeze(calendar_helpers.start_of_day(dt.date.fromisoformat(day)) + dt.timedelta(minutes=1))
            timers.fire_due(runtime, "test-worker")
            assert waiting_steps(runtime, case_id) == ["3.10", "3.10"]
            contacts.append({"date": day, "state_found": "Stabil, a lakbér rendezett."})
            do(runtime, case_id, "step_3_10", {"follow_up_contacts": list(contacts)}, people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed"
    assert [s["step"] for s in case["steps_taken"]] == (
        ["3.1", "3.2", "3.3", "3.6", "3.8", "3.8"] + (["3.10"] * 3 if follow_up else []))


def test_commitments_not_met_further_service_amends_plan_and_returns_to_casework(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    _review(runtime, people, case_id, met=False)
    assert waiting_steps(runtime, case_id) == ["3.9"]
    do(runtime, case_id, "step_3_9", demo_data.further_service_data(), people.anna)
    assert waiting_steps(runtime, case_id) == ["3.7"]
    do(runtime, case_id, "step_3_7", {"needs_other_helpers": True, "other_helpers": "Adósságkezelő szolgálat",
                                      "action_plan": "Adósságkezelési tanácsadás az adósságkezelő szolgálattal.",
                                      "agreement_date": "2026-04-01",
                                      "actions": [demo_data.action(12, "Cselekvési terv módosítása.")]}, people.anna)
    assert waiting_steps(runtime, case_id) == ["3.3"]
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert data["other_helpers"] == "Adósságkezelő szolgálat" and data["agreement_date"] == "2026-04-01"
    _review(runtime, people, case_id, met=True)
    assert waiting_steps(runtime, case_id) == ["3.8"]


def test_lack_of_cooperation_closes_after_the_lead_agrees_and_not_before(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    _review(runtime, people, case_id, met=False)
    do(runtime, case_id, "step_3_9", {"further_service_available": False}, people.anna)
    assert waiting_steps(runtime, case_id) == ["3.11"]
    closure = {"closure_date": "2026-05-31", "closure_reason": "lack_of_cooperation"}
    do(runtime, case_id, "step_3_11", closure, people.anna)
    do(runtime, case_id, "agree_closure_no_cooperation", {"closure_agreed": False,
                                                          "closure_agreement_note": "Még egy próbát."}, people.lea)
    assert waiting_steps(runtime, case_id) == ["3.3"], "a closure the lead does not agree returns to casework"
    _review(runtime, people, case_id, met=False)
    do(runtime, case_id, "step_3_9", {"further_service_available": False}, people.anna)
    do(runtime, case_id, "step_3_11", {"closure_date": "2026-06-30", "closure_reason": "contact_broken"}, people.anna)
    do(runtime, case_id, "agree_closure_no_cooperation", {"closure_agreed": True}, people.lea)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed" and case["data"]["closure_reason"] == "contact_broken"


def test_lead_refusing_a_successful_closure_returns_to_casework(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    _review(runtime, people, case_id, met=True)
    do(runtime, case_id, "step_3_8", demo_data.closure_data(False), people.anna)
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": False}, people.lea)
    assert waiting_steps(runtime, case_id) == ["3.3"]


@pytest.mark.parametrize("needs_helpers", [True, False])
def test_field_45_applies_whether_43_is_yes_or_no(runtime, people, needs_helpers):
    # The seed's "no → 45" skips 44 on the paper form; the action plan (45) is written either way, at 3.1 and 3.7.
    from engine.errors import ValidationFailed

    case_id = new_family_case(runtime, people)
    data = demo_data.assessment_data()
    data["needs_other_helpers"] = needs_helpers
    data.pop("action_plan")
    if needs_helpers:
        data["other_helpers"] = "Védőnő, iskolai szociális segítő"
    else:
        with pytest.raises(ValidationFailed) as err:
            do(runtime, case_id, "step_3_1", dict(data, other_helpers="nem kellene",
                                                  action_plan="Költségvetés."), people.anna)
        assert {d["field"] for d in err.value.details} == {"other_helpers"}  # 44 only with a yes
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_1", data, people.anna)
    assert {(d["field"], d["kind"]) for d in err.value.details} == {("action_plan", "required")}
    do(runtime, case_id, "step_3_1", dict(data, action_plan="Költségvetés készítése."), people.anna)
    assert waiting_steps(runtime, case_id) == ["3.2"]
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert data["action_plan"] == "Költségvetés készítése."
    # 3.7 the same: with a yes to 43 the amended plan (45) is kept beside the helpers (44).
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, False, people.anna)
    do(runtime, case_id, "step_3_9", demo_data.further_service_data(), people.anna)
    amended = {"needs_other_helpers": needs_helpers, "action_plan": "Módosított terv."}
    if needs_helpers:
        amended["other_helpers"] = "Családterapeuta"
    do(runtime, case_id, "step_3_7", amended, people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["data"]["action_plan"] == "Módosított terv."


def test_casework_loop_many_times_with_discussions_and_conferences(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    meetings, actions = [], []
    for n in range(12):
        meetings.append(demo_data.meeting(2 + n))  # from the day taken into care (2 February)
        route = ["continue", "case_discussion", "case_conference"][n % 3]
        do(runtime, case_id, "step_3_3", {"meetings": list(meetings), "casework_next": route}, people.anna)
        if route == "case_discussion":
            actions.append(demo_data.action(1 + n, "Esetmegbeszélés a védőnővel."))
            do(runtime, case_id, "step_3_4", {"actions": list(actions)}, people.anna)
        elif route == "case_conference":
            actions.append(demo_data.action(1 + n, "Esetkonferencia az iskolával."))
            conference(runtime, case_id, people.anna, list(actions))
        assert waiting_steps(runtime, case_id) == ["3.3"]
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert len(data["meetings"]) == 12 and len(data["actions"]) == 8
    # The casework form opens with everything recorded so far (the case log is edited, not retyped).
    from engine.cases import tasks

    from .helpers import task_of

    opened = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_3"), people.anna)
    assert len(opened["values"]["meetings"]) == 12


def test_assessment_prefills_the_problem_recorded_at_intake(runtime, people):
    from engine.cases import tasks

    from .helpers import task_of

    case_id = new_family_case(runtime, people)
    opened = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_1"), people.anna)
    assert opened["values"]["presented_problem"] == demo_data.intake_data(0)["intake_problem"]
    assert opened["form"]["properties"]["presented_problem"]["x-seed-field"] == 5
    assert opened["step"] == "3.1" and "Cselekvési terv" in opened["name"]
    assert opened["documents"], "the step's documents are listed with the task"
