"""Family care 3.9 / 3.7 / 3.8 / 3.11 record the referral (which further service or institution, and why), and a
referral can start the linked process for the same client, the link on both cases (docs/processes.md,
"referrals"; x-starts-case in docs/forms.md)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.cases import cases, tasks
from engine.errors import Forbidden, ValidationFailed
from engine.store.models import AuditEvent, Case
from tests import demo_data

from .helpers import do, new_family_case, review, snapshot, task_of, through_agreement, waiting_steps


def _reviewed(runtime, people, met: bool) -> int:
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, met, people.anna)
    return case_id


def _referral_closure(**extra) -> dict:
    return {**demo_data.closure_data(False), "closure_reason": "referred_service",
            "referral_to": "Munkahelymegtartást segítő szolgáltatás",
            "referral_reason": "Elhelyezkedett; a munkahely megtartásához kér segítséget.", **extra}


def test_a_further_service_is_recorded_at_3_9_and_refined_at_3_7(runtime, people):
    case_id = _reviewed(runtime, people, False)
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_9"), {"further_service_available": True},
                       people.anna)
    assert {d["field"] for d in refused.value.details} == {"referral_to_kind", "referral_to", "referral_reason"}
    do(runtime, case_id, "step_3_9", demo_data.further_service_data(), people.anna)
    amend = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_7"), people.anna)
    assert (amend["values"]["referral_to"], amend["values"]["referral_to_kind"]) == (
        "Adósságkezelési szolgáltatás", "service")  # what 3.9 recorded, to refine
    do(runtime, case_id, "step_3_7", {"needs_other_helpers": False, "action_plan": "Adósságkezelés bevonása.",
                                      "referral_to_kind": "service", "referral_to": "Családi Adósságkezelő Iroda",
                                      "referral_reason": "Lakbérhátralék rendezése."}, people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["data"]["referral_to"] == "Családi Adósságkezelő Iroda"


def test_a_referral_at_closure_starts_the_linked_process_for_the_same_client(runtime, people):
    case_id = _reviewed(runtime, people, True)
    with pytest.raises(ValidationFailed) as refused:  # a referral says where to and why
        tasks.complete(runtime, task_of(runtime, case_id, "step_3_8"),
                       {**demo_data.closure_data(False), "closure_reason": "referred_institution"}, people.anna)
    assert {d["field"] for d in refused.value.details} == {"referral_to", "referral_reason"}
    done = do(runtime, case_id, "step_3_8", _referral_closure(referral_start_case="job_retention"), people.anna)
    (started,) = done["started_cases"]
    assert (started["process_key"], started["field"]) == ("job_retention", "referral_start_case")
    family, linked = (cases.get_case(runtime, c, people.anna) for c in (case_id, started["case_id"]))
    assert linked["client"]["client_code"] == family["client"]["client_code"]
    assert waiting_steps(runtime, linked["case_id"]) == ["3"]  # job retention's entry, in anna's inbox
    assert [(link["direction"], link["case_id"], link["process_key"], link["step"]) for link in family["links"]] \
        == [("started", linked["case_id"], "job_retention", "3.8")]
    assert [(link["direction"], link["case_id"], link["process_key"], link["step"]) for link in linked["links"]] \
        == [("started_from", case_id, "family_care", "3.8")]
    with runtime.db.reading() as session:
        kinds = session.execute(select(AuditEvent.case_id, AuditEvent.kind).where(
            AuditEvent.kind.in_(["case_linked", "case_started"]), AuditEvent.case_id == linked["case_id"])).all()
    assert [k for _, k in kinds] == ["case_started", "case_linked"]
    # The family-care case goes on to the lead's agreement as before.
    assert waiting_steps(runtime, case_id) == ["3.8"]


def test_no_choice_starts_nothing(runtime, people):
    case_id = _reviewed(runtime, people, True)
    done = do(runtime, case_id, "step_3_8", _referral_closure(), people.anna)
    assert "started_cases" not in done
    assert cases.get_case(runtime, case_id, people.anna)["links"] == []


def test_a_linked_start_the_person_may_not_make_refuses_the_step_too(runtime, people, monkeypatch):
    case_id = _reviewed(runtime, people, True)
    before = snapshot(runtime, case_id)
    with runtime.db.reading() as session:
        cases_before = session.execute(select(Case.id)).scalars().all()
    # Job retention is started by caseworkers; a lead completing the step could not start it.
    from engine.people import access

    def refuse(actor, *roles):
        raise Forbidden("not allowed to start it")

    monkeypatch.setattr(access, "require_role", refuse)
    with pytest.raises(Forbidden):
        do(runtime, case_id, "step_3_8", _referral_closure(referral_start_case="job_retention"), people.anna)
    assert snapshot(runtime, case_id) == before  # nothing of the step was saved either
    with runtime.db.reading() as session:
        assert session.execute(select(Case.id)).scalars().all() == cases_before


def test_a_closure_for_lack_of_cooperation_may_record_a_referral(runtime, people):
    case_id = _reviewed(runtime, people, False)
    do(runtime, case_id, "step_3_9", {"further_service_available": False}, people.anna)
    do(runtime, case_id, "step_3_11", {"closure_date": "2026-04-01", "closure_reason": "contact_broken",
                                       "referred": True, "referral_to_kind": "institution",
                                       "referral_to": "Gyermekjóléti szolgálat",
                                       "referral_reason": "A gyermekek iskolai hiányzásai miatt jelzés."},
       people.anna)
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert (data["referral_to_kind"], data["referral_to"]) == ("institution", "Gyermekjóléti szolgálat")
