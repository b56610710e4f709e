"""Consent and legal basis (engine/cases/consent.py): the statement recorded by the step that takes it or by
hand, steps refused while none is in force (422 naming why and how to record it), withdrawal stopping every case
it covered, expiry by date and the list of cases whose consent expires soon; every change an audit event."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import cases, consent, tasks
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.people import users
from engine.store import audit, clock
from engine.store.consent_models import Consent
from engine.store.models import AuditEvent
from tests import case_management_data as cm
from tests import demo_data

from .helpers import add_dpo_and_administrator, do, new_case_management_case, snapshot, task_of, waiting_steps

MONDAY = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _monday():
    clock.freeze(MONDAY)


@pytest.fixture
def dpo(runtime, people):
    add_dpo_and_administrator(runtime)
    with runtime.db.reading() as session:
        return users.actor(session, "dpo")


def new_case(runtime, people, i: int = 0) -> int:
    return new_case_management_case(runtime, people, i)[1]


def kinds(runtime, case_id: int) -> list[str]:
    with runtime.db.reading() as session:
        return list(session.execute(select(AuditEvent.kind).where(AuditEvent.case_id == case_id)
                                    .order_by(AuditEvent.seq)).scalars())


def test_the_entry_step_records_the_signed_statement_in_the_register(runtime, people):
    case_id = new_case(runtime, people)
    shown = consent.for_case(runtime, people.anna, case_id)
    assert shown["state"] == consent.MISSING and shown["legal_basis"]["article_6"] == "a"
    assert shown["statement"]["version"] == "2026-1"
    do(runtime, case_id, "cm_entry", cm.entry(day="2026-03-02"), people.anna)
    shown = consent.for_case(runtime, people.anna, case_id)
    assert shown["state"] == consent.IN_FORCE
    assert shown["in_force"]["given_on"] == "2026-03-02" and shown["in_force"]["expires_on"] == "2029-03-01"
    assert shown["in_force"]["recorded_by"] == "anna" and "Hozzájárulok" in shown["in_force"]["text"]["hu"]
    assert consent.CONSENT_GIVEN in kinds(runtime, case_id)
    do(runtime, case_id, "cm_assessment", cm.assessment(), people.anna)  # goes on: consent is in force


def test_a_process_on_another_basis_needs_no_consent(runtime, people):
    code = demo_data.run_intake(runtime, people.anna)
    case_id = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    shown = consent.for_case(runtime, people.anna, case_id)
    assert shown["state"] == consent.NOT_NEEDED and shown["legal_basis"]["article_9"] == "h"
    with pytest.raises(ValidationFailed, match="relies on another legal basis"):
        consent.give(runtime, people.anna, case_id, "2026-03-10")


def test_withdrawal_stops_every_step_until_consent_is_given_again(runtime, people, dpo):
    case_id = new_case(runtime, people)
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    [row] = consent.for_case(runtime, people.anna, case_id)["consents"]
    with pytest.raises(ValidationFailed, match="reason"):
        consent.withdraw(runtime, dpo, row["consent_id"], "2026-03-12", " ")
    with pytest.raises(ValidationFailed, match="before the consent was given"):
        consent.withdraw(runtime, dpo, row["consent_id"], "2026-02-01", "letter")
    with pytest.raises(ValidationFailed, match="in the future"):
        consent.withdraw(runtime, dpo, row["consent_id"], "2026-04-01", "letter")
    done = consent.withdraw(runtime, dpo, row["consent_id"], "2026-03-12", "the client's letter of 2026-03-12")
    assert done["cases_stopped"] == [case_id]
    with pytest.raises(Conflict, match="withdrawn already"):
        consent.withdraw(runtime, people.anna, row["consent_id"], "2026-03-12", "again")
    before = snapshot(runtime, case_id)
    task_id = task_of(runtime, case_id, "cm_assessment")
    with pytest.raises(consent.ConsentRequired) as refused:
        tasks.complete(runtime, task_id, cm.assessment(), people.anna)
    assert refused.value.status == 422 and refused.value.code == "consent_required"
    assert "withdrawn on 2026-03-12" in refused.value.message and f"segito consent give {case_id}" in \
        refused.value.message
    assert refused.value.details[0]["code"] == "consent_withdrawn"
    with pytest.raises(consent.ConsentRequired):
        tasks.save_draft(runtime, task_id, {}, people.anna)
    assert snapshot(runtime, case_id) == before  # nothing saved
    events = kinds(runtime, case_id)
    assert consent.CONSENT_WITHDRAWN in events
    with runtime.db.reading() as session:
        payload = session.execute(select(AuditEvent.payload).where(
            AuditEvent.kind == consent.CONSENT_WITHDRAWN)).scalar_one()
        payload = audit.readable(session, payload)  # sealed under the case's key
    assert payload["withdrawn_on"] == "2026-03-12" and payload["cases_stopped"] == [case_id]

    # The person consents again: a new statement on record, and the case goes on where it waited.
    again = consent.give(runtime, people.anna, case_id, "2026-03-16")
    with pytest.raises(Conflict, match="already in force"):
        consent.give(runtime, people.anna, case_id, "2026-03-16")
    assert again["given_on"] == "2026-03-16"
    do(runtime, case_id, "cm_assessment", cm.assessment(), people.anna)
    assert [c["status"] for c in consent.for_case(runtime, people.anna, case_id)["consents"]] == \
        [consent.IN_FORCE, consent.WITHDRAWN]


def test_a_consent_covers_the_clients_other_cases_of_the_same_statement(runtime, people):
    code = demo_data.run_intake(runtime, people.anna)
    first = cases.start_case(runtime, "case_management", people.anna, code)["case_id"]
    do(runtime, first, "cm_entry", cm.entry(), people.anna)
    assert consent.for_case(runtime, people.anna, first)["state"] == consent.IN_FORCE
    second = cases.start_case(runtime, "case_management", people.anna, code, confirm=True)["case_id"]
    assert consent.for_case(runtime, people.anna, second)["state"] == consent.IN_FORCE
    [row] = consent.for_case(runtime, people.anna, first)["consents"]
    assert consent.withdraw(runtime, people.anna, row["consent_id"], "2026-03-16", "said so")["cases_stopped"] == \
        [first, second]


def test_expiry_by_date_and_the_list_of_consents_expiring_soon(runtime, people, dpo):
    case_id = new_case(runtime, people)
    other = new_case(runtime, people, 1)
    do(runtime, case_id, "cm_entry", cm.entry(day="2026-03-02"), people.anna)
    do(runtime, other, "cm_entry", cm.entry(day="2026-03-10"), people.anna)
    assert consent.expiring(runtime, people.lea)["items"] == []
    clock.freeze(dt.datetime(2029, 2, 15, 9, 0, tzinfo=dt.timezone.utc))
    soon = consent.expiring(runtime, people.lea, days=30)["items"]
    assert [(i["case_id"], i["state"], i["expires_on"], i["days_left"]) for i in soon] == \
        [(case_id, consent.IN_FORCE, "2029-03-01", 14), (other, consent.IN_FORCE, "2029-03-09", 22)]
    assert soon[0]["client_code"].startswith("K-") and "name" not in soon[0]
    assert [i["case_id"] for i in consent.expiring(runtime, people.anna, days=20)["items"]] == [case_id]
    assert consent.expiring(runtime, people.bela)["items"] == []  # not his cases
    with pytest.raises(ValidationFailed, match="days"):
        consent.expiring(runtime, people.lea, days=-1)
    with pytest.raises(Forbidden):
        consent.expiring(runtime, people.dora)
    clock.freeze(dt.datetime(2029, 3, 2, 9, 0, tzinfo=dt.timezone.utc))
    assert consent.for_case(runtime, people.anna, case_id)["state"] == consent.EXPIRED
    with pytest.raises(consent.ConsentRequired, match="expired on 2029-03-01"):
        do(runtime, case_id, "cm_assessment", cm.assessment(), people.anna)
    listed = consent.expiring(runtime, dpo)["items"]
    assert listed[0]["case_id"] == case_id and listed[0]["state"] == consent.EXPIRED


def test_who_may_record_and_withdraw(runtime, people, dpo):
    case_id = new_case(runtime, people)
    with pytest.raises(Forbidden):
        consent.give(runtime, people.bela, case_id, "2026-03-10")  # not his case
    with pytest.raises(Forbidden):
        consent.give(runtime, people.dora, case_id, "2026-03-10")
    with pytest.raises(ValidationFailed, match="given_on"):
        consent.give(runtime, people.anna, case_id, "2026-02-30")
    with pytest.raises(ValidationFailed, match="signed"):
        consent.give(runtime, people.anna, case_id, "2026-03-10", signed=False)
    given = consent.give(runtime, dpo, case_id, "2026-03-10")
    assert given["recorded_by"] == "dpo"
    # Recorded before the entry step: the step finds it in force and records no second one.
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    with runtime.db.reading() as session:
        assert session.execute(select(Consent.id)).scalars().all() == [given["consent_id"]]
    assert waiting_steps(runtime, case_id) == ["4.2"]


def test_the_command_line(runtime, people, database_url):
    from .test_cli import Segito

    segito = Segito(database_url)
    case_id = new_case(runtime, people)
    shown = segito.ok("consent", "show", case_id, "--as", "anna")
    assert shown["state"] == "missing" and shown["statement"]["statement"] == "case_management"
    given = segito.ok("consent", "give", case_id, "--given", "2026-03-10", "--as", "anna")
    assert given["given_on"] == "2026-03-10" and given["expires_on"] == "2029-03-09"
    refused = segito("consent", "give", case_id, "--given", "2026-03-10", "--as", "anna")
    assert refused.exit_code != 0 and "already in force" in refused.output
    clock.freeze(dt.datetime(2029, 2, 20, 9, 0, tzinfo=dt.timezone.utc))
    assert [i["case_id"] for i in segito.ok("consent", "expiring", "--as", "lea")["items"]] == [case_id]
    done = segito.ok("consent", "withdraw", given["consent_id"], "--on", "2029-02-20", "--reason", "letter",
                     "--as", "anna")
    assert done["cases_stopped"] == [case_id]
    assert segito.ok("consent", "show", case_id, "--as", "anna")["state"] == "withdrawn"


def test_the_persons_export_holds_their_consents(runtime, people, dpo):
    from engine.privacy import export

    code = demo_data.run_intake(runtime, people.anna)
    case_id = cases.start_case(runtime, "case_management", people.anna, code)["case_id"]
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    [row] = consent.for_case(runtime, people.anna, case_id)["consents"]
    consent.withdraw(runtime, dpo, row["consent_id"], "2026-03-12", "letter")
    found = export.collect(runtime, dpo, code)
    [given] = found["consents"]
    assert given["status"] == consent.WITHDRAWN and given["withdrawn_on"] == "2026-03-12"
    assert "Hozzájárulok" in given["text"]["hu"]
    assert "Data-processing consents" in export.to_html(found, "en")
    assert "Adatkezelési hozzájárulások" in export.to_html(found, "hu")
