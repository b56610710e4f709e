"""Retention: closed cases past their period erased (dry run first), legal holds, the scheduled job; the audit
chain stays verifiable through every erasure (engine/privacy/, engine/store/audit.py)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from engine import setup
from engine.audit import audit_verify
from engine.cases import cases
from engine.cases.clients import identity as register_identity
from engine.documents.models import CaseDocument
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.people import users
from engine.privacy import erasure, rectify, retention
from engine.store import audit, clock, keys
from engine.store.models import AuditEvent, Case, Client, HumanTask, Intake
from engine.timers import ticker
from tests import demo_data

from .test_audit_verify import tamper

FIVE_YEARS = dt.timedelta(days=5 * 366 + 1)


@pytest.fixture
def dpo(runtime, people):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "dora_dpo", "Dóra", [users.DATA_PROTECTION_OFFICER], None, "test", clock.now())
        return users.actor(session, "dora_dpo")


def _intake(runtime, people, i=0) -> tuple[str, int]:
    code = demo_data.run_intake(runtime, people.anna, i)
    with runtime.db.reading() as session:
        case_id = session.execute(select(Case.id).join(Intake, Intake.case_id == Case.id)
                                  .join(Client, Client.id == Intake.client_id)
                                  .where(Client.client_code == code)).scalar_one()
    return code, case_id


def _everything_of(runtime, case_id) -> str:
    """All a case's rows and events as text: what `strings` on the database would find of it."""
    from engine.definitions import serialization

    with runtime.db.reading() as session:
        case = session.get(Case, case_id)
        # Opened where they are sealed and their key still exists: what erasure leaves, not only what sealing hides.
        events = [audit.readable(session, p) for p in session.execute(
            select(AuditEvent.payload).where(AuditEvent.case_id == case_id)).scalars().all()]
        drafts = [keys.open_json(session, d, keys.DRAFT) for d in session.execute(
            select(HumanTask.draft).where(HumanTask.case_id == case_id)).scalars().all()]
        intakes = [(keys.open_text(session, p, keys.INTAKE), keys.open_text(session, ph, keys.INTAKE))
                   for p, ph in session.execute(select(Intake.problem, Intake.phone)
                                                .where(Intake.case_id == case_id)).all()]
        return serialization.state_json(case.state).decode() + json.dumps(events, ensure_ascii=False) \
            + json.dumps(drafts, ensure_ascii=False) + repr(intakes)


def _verify(runtime) -> dict:
    with runtime.db.reading() as session:
        return audit_verify.verify(session)


def test_new_events_hash_their_payload_through_its_digest_and_an_edited_payload_is_found(runtime, people):
    _code, case_id = _intake(runtime, people)
    with runtime.db.reading() as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)).scalars().all()
        payloads = {e.id: audit.readable(session, e.payload) for e in events}  # sealed: opened with the case's key
        assert events and all(e.payload_digest == audit.payload_digest(payloads[e.id]) for e in events)
        target = next(e for e in events if "Kovács" in json.dumps(payloads[e.id], ensure_ascii=False))
    assert "Kovács" not in json.dumps(target.payload, ensure_ascii=False)  # as stored
    assert _verify(runtime)["ok"]
    edited = json.dumps(payloads[target.id], ensure_ascii=False).replace("Kovács", "Kovach")
    # The database refuses an edit...
    with pytest.raises(DBAPIError, match="append-only"), runtime.db.unit_of_work() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(payload=json.loads(edited)))
    tamper(runtime, "UPDATE audit_events SET payload = :p WHERE id = :i", p=edited, i=target.id)  # ...an owner can
    problems = _verify(runtime)["problems"]
    assert [(p["kind"], p["event_id"]) for p in problems] == [("edited", target.id)]
    assert "no longer matches its digest" in problems[0]["message"]
    # Removing a payload as an erasure would (the one change the database lets through), but without the
    # erasure event, is tampering too.
    with runtime.db.unit_of_work() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(payload={audit.ERASED: 1}))
    problems = _verify(runtime)["problems"]
    assert [(p["kind"], p["event_id"]) for p in problems] == [("edited", target.id)]
    assert "without an erasure event" in problems[0]["message"]


def test_the_dry_run_lists_what_is_due_and_apply_erases_it_with_a_verifiable_tombstone(runtime, people, dpo):
    code, case_id = _intake(runtime, people)
    assert "Kovács" in _everything_of(runtime, case_id)
    with runtime.db.unit_of_work() as session:  # a signed copy attached to the case
        session.add(CaseDocument(case_id=case_id, document_key="consent", kind="signed", version=1,
                                 media_type="application/pdf", file_name="Kovács Éva.pdf", size=9,
                                 sha256="0" * 64, content=b"%PDF-Kovacs", produced_by="anna",
                                 produced_at=clock.now()))
    assert retention.report(runtime, dpo)["cases"] == []  # five years have not passed
    clock.advance(FIVE_YEARS)
    planned = retention.report(runtime, dpo)
    assert [(c["case_id"], c["process_key"], c["client"]) for c in planned["cases"]] == [(case_id, "intake", code)]
    assert planned["cases"][0]["retention"] == {"years": 5} and planned["clients"] == [code]
    assert _everything_of(runtime, case_id).count("Kovács")  # the dry run erased nothing

    done = retention.apply(runtime, dpo)
    assert [c["case_id"] for c in done["cases"]] == [case_id] and done["cases"][0]["audit_payloads"] > 0
    assert [c["client"] for c in done["clients"]] == [code]
    text = _everything_of(runtime, case_id)
    for personal in ("Kovács", "Tóth Mária", "1970-01-10", "+36 30", "Lakbérhátralék", "Debrecen"):
        assert personal not in text, personal
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert (client.family_name, client.given_name, client.birth_date, client.birth_year, client.mother_name,
                client.phone) == (None, None, None, None, None, None)
        assert client.erased_at is not None and client.dedup_key == f"erased-{code}"
        case = session.get(Case, case_id)
        assert case.erased_at is not None and case.status == "completed"
        document = session.execute(select(CaseDocument).where(CaseDocument.case_id == case_id)).scalar_one()
        assert (document.content, document.size, document.file_name) == (b"", 0, "consent.erased")
        last = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                               .order_by(AuditEvent.seq.desc())).scalars().first()
        assert last.kind == audit.PERSONAL_DATA_ERASED and last.actor == "dora_dpo"
        assert last.payload["reason"] == "retention" and last.payload["positions"]
        stream = session.execute(select(AuditEvent).where(AuditEvent.case_id.is_(None),
                                                          AuditEvent.kind == audit.PERSONAL_DATA_ERASED)).scalar_one()
        assert stream.payload["client"] == code and "family_name" in stream.payload["fields"]
    assert _verify(runtime)["ok"], _verify(runtime)["problems"]
    # The case still opens, empty; nothing is due any more.
    assert cases.get_case(runtime, case_id, people.mark)["data"] == {}
    assert retention.report(runtime, dpo)["cases"] == []
    assert retention.apply(runtime, dpo)["cases"] == []


def test_a_legal_hold_keeps_a_due_case_until_it_is_cleared_and_both_are_audited(runtime, people, dpo):
    _code, case_id = _intake(runtime, people)
    with pytest.raises(Forbidden):
        retention.set_hold(runtime, people.anna, case_id, "court case")
    with pytest.raises(ValidationFailed, match="needs a reason"):
        retention.set_hold(runtime, people.mark, case_id, "  ")
    held = retention.set_hold(runtime, people.mark, case_id, "Court case 12.P.345/2026")
    assert held["held"] and held["set_by"] == "mark"
    with pytest.raises(Conflict, match="held already"):
        retention.set_hold(runtime, dpo, case_id, "again")
    clock.advance(FIVE_YEARS)
    planned = retention.report(runtime, dpo)
    assert planned["cases"] == [] and [(h["case_id"], h["kept_because"]) for h in planned["held"]] == \
        [(case_id, "legal_hold")]
    assert retention.apply(runtime, dpo)["cases"] == []
    retention.clear_hold(runtime, dpo, case_id, "judgment final")
    with pytest.raises(Conflict, match="no legal hold"):
        retention.clear_hold(runtime, dpo, case_id, "again")
    assert [c["case_id"] for c in retention.apply(runtime, dpo)["cases"]] == [case_id]
    with runtime.db.reading() as session:
        kinds = [e.kind for e in session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                                                 .order_by(AuditEvent.seq)).scalars()]
    assert kinds[-3:] == [audit.LEGAL_HOLD_SET, audit.LEGAL_HOLD_CLEARED, audit.PERSONAL_DATA_ERASED]
    assert _verify(runtime)["ok"]
    with pytest.raises(Conflict, match="erased"):
        retention.set_hold(runtime, dpo, case_id, "too late")


def test_a_client_with_a_running_case_keeps_their_identity_when_a_closed_case_is_erased(runtime, people, dpo):
    code, intake_id = _intake(runtime, people)
    family = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    clock.advance(FIVE_YEARS)
    request = retention.erase_for_client(runtime, dpo, code)
    assert [c["case_id"] for c in request["erasable"]] == [intake_id]
    assert [(k["case_id"], k["kept_because"]) for k in request["kept"]] == [(family, "not_closed")]
    assert request["identity_erasable"] is False and request["dry_run"]
    done = retention.erase_for_client(runtime, dpo, code, dry_run=False)
    assert [c["case_id"] for c in done["erased"]] == [intake_id] and "identity" not in done
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert register_identity(session, client)["family_name"] == "Kovács" and client.erased_at is None
    assert "Kovács" not in _everything_of(runtime, intake_id)
    assert _verify(runtime)["ok"]
    with pytest.raises(Forbidden):
        retention.erase_for_client(runtime, people.anna, code)


def test_the_scheduler_runs_the_retention_job(runtime, people, monkeypatch):
    _code, case_id = _intake(runtime, people)
    monkeypatch.setenv("SEGITO_RETENTION_HOURS", "24")
    setup.wire()
    assert ticker.JOBS["retention"][1] == 24
    clock.advance(FIVE_YEARS)
    result = ticker.run_job("retention", runtime)
    assert [c["case_id"] for c in result["cases"]] == [case_id]
    with runtime.db.reading() as session:
        last = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                               .order_by(AuditEvent.seq.desc())).scalars().first()
    assert last.actor == retention.SYSTEM_ACTOR
    monkeypatch.setenv("SEGITO_RETENTION_HOURS", "0")
    setup.wire()
    assert "retention" not in ticker.JOBS
    monkeypatch.setenv("SEGITO_RETENTION_HOURS", "24")
    setup.wire()


def test_a_rectified_register_keeps_the_old_value_in_the_audit_and_erasure_removes_it_there(runtime, people, dpo):
    code, _case_id = _intake(runtime, people)
    with pytest.raises(ValidationFailed, match="birth_date"):
        rectify.correct_client(runtime, dpo, code, {"birth_date": "1970-13-40"}, "ID card")
    with pytest.raises(ValidationFailed, match="reason"):
        rectify.correct_client(runtime, dpo, code, {"family_name": "Kovách"}, "")
    with pytest.raises(ValidationFailed, match="not a register field"):
        rectify.correct_client(runtime, dpo, code, {"client_code": "K-1"}, "ID card")
    with pytest.raises(Forbidden):
        rectify.correct_client(runtime, people.anna, code, {"family_name": "Kovách"}, "ID card")
    done = rectify.correct_client(runtime, dpo, code, {"family_name": "Kovách", "phone": "+36 1 555 0101"},
                                  "ID card shown")
    assert done["corrected"] == ["family_name", "phone"]
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert register_identity(session, client)["family_name"] == "Kovách"
        [event] = erasure.stream_events_about(session, code)
        corrected = audit.readable(session, event.payload)
        assert "Kovács" not in json.dumps(event.payload, ensure_ascii=False)  # sealed under the client's key
        assert corrected["before"] == {"family_name": "Kovács", "phone": "+36 30 123 4567"}
        assert corrected["after"]["family_name"] == "Kovách" and event.actor == "dora_dpo"
    # The corrected identity is the one a later intake recognises.
    again = demo_data.intake_data(0) | {"family_name": "Kovách"}
    from engine.cases import clients
    with runtime.db.reading() as session:
        assert clients.dedup_key(session, again["family_name"], again["given_name"], again["birth_date"],
                                 again["mother_name"]) == client.dedup_key
    clock.advance(FIVE_YEARS)
    retention.apply(runtime, dpo)
    with runtime.db.reading() as session:
        assert audit.is_erased(session.get(AuditEvent, event.id).payload)
        # The tombstone still names the client by code, so a later export shows that the erasure happened.
        assert [e.kind for e in erasure.stream_events_about(session, code)] == [audit.PERSONAL_DATA_ERASED]
    assert _verify(runtime)["ok"], _verify(runtime)["problems"]
