"""Erasing a closed case's personal data, and a client's identity once none of their cases keeps it.

What is erased (docs/architecture.md, "Where personal data lives"): the data of every task and of the workflow
in the case's stored state (its shape — which steps ran, when, by whom — stays, so the case page still draws
it), the drafts of its task rows, the bytes of its produced and signed documents, what its intakes recorded
(problem, phone), what its members' rows recorded, and the payload of every audit event of its chain but the
views. Each erased payload is replaced by a tombstone naming the erasure event, ``personal_data_erased``,
appended to the same chain with the positions it erased and what else it cleared — never the data. The hash of
an event covers its payload through the payload's digest (engine/store/audit.py), which stays: `segito audit
verify` still passes, and still finds a payload removed any other way.

A client's identity (names, birth data, mother's name, phone) is erased when the last case that refers to them —
as its client or as a member — is erased: the row keeps its code, so counts over past periods stay what they
were. Its tombstone is an event of the ``privacy`` stream, which also erases the payloads of that stream's events
about the client (the rectifications' before and after).

What stays: report rows (figures and categories under the pseudonymous client id; past reports must not change),
timers and logged time (dates and minutes), the users who acted, and anonymous answers, which were never linked.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..definitions import serialization
from ..documents.models import CaseDocument
from ..errors import Conflict
from ..store import audit, keys
from ..store.models import AuditEvent, AuditStream, Case, CaseMember, Client, HumanTask, Intake

PRIVACY_STREAM = "privacy"
# Events whose payload names nothing of the person (how a case was viewed): kept, so the record of who looked at
# the file survives its erasure.
KEPT_PAYLOADS = audit.UNSEALED_KINDS
CLIENT_FIELDS = ("family_name", "given_name", "birth_date", "birth_place", "mother_name", "phone")


def scrub_state(session, state: bytes) -> bytes:
    """The stored workflow state without any data: every task's and every (sub)workflow's data emptied. Stored in
    clear: it names nobody, and the key it was sealed under is destroyed with the erasure."""
    dct = json.loads(serialization.state_json(keys.open_sealed(session, state, keys.STATE)))

    def scrub(workflow: dict) -> None:
        workflow["data"] = {}
        if "correlations" in workflow:
            workflow["correlations"] = {}
        if workflow.get("bpmn_events"):
            workflow["bpmn_events"] = []
        for task in (workflow.get("tasks") or {}).values():
            task["data"] = {}
            if "delta" in task:
                task["delta"] = {}
        for sub in (workflow.get("subprocesses") or {}).values():
            scrub(sub)

    scrub(dct)
    return serialization.pack_state(json.dumps(dct, separators=(",", ":")).encode("utf-8"))


def _erase_payloads(session: Session, events: Sequence[AuditEvent], tombstone_seq: int) -> list[int]:
    """Replace the payloads that may hold personal data with tombstones; the positions erased."""
    chosen = [e for e in events if e.payload and not audit.is_erased(e.payload) and e.kind not in KEPT_PAYLOADS]
    old = [e.seq for e in chosen if e.payload_digest is None]
    if old:
        raise Conflict(f"events at positions {old[:5]} predate payload digests and their chain did not verify at "
                       "the upgrade: run `segito audit verify` and resolve that first")
    if chosen:
        session.execute(update(AuditEvent).where(AuditEvent.id.in_([e.id for e in chosen]))
                        .values(payload={audit.ERASED: tombstone_seq}).execution_options(synchronize_session=False))
    return [e.seq for e in chosen]


def _count(session: Session, statement) -> int:
    """Run an UPDATE of rows the session has not loaded; how many rows it changed."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def erase_case(session: Session, case: Case, at: dt.datetime, actor: str, reason: dict) -> dict:
    """Erase one case's personal data (the caller has locked it and decided the law allows it)."""
    if case.erased_at is not None:
        raise Conflict(f"case {case.id}'s personal data was erased already")
    events = session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)
                             .order_by(AuditEvent.seq)).scalars().all()
    positions = _erase_payloads(session, events, (case.audit_seq or 0) + 1)
    drafts = _count(session, update(HumanTask).where(HumanTask.case_id == case.id, HumanTask.draft.is_not(None))
                    .values(draft=None))
    intakes = _count(session, update(Intake).where(Intake.case_id == case.id).values(problem="", phone=None))
    members = _count(session, update(CaseMember).where(CaseMember.case_id == case.id).values(data={}))
    # Produced and signed documents are the case's data on paper: their bytes go, their record (what, when, who,
    # the digest of what it was) stays.
    documents = _count(session, update(CaseDocument).where(CaseDocument.case_id == case.id)
                       .values(content=b"", size=0, file_name=CaseDocument.document_key + ".erased"))
    case.state = scrub_state(session, case.state)
    case.lock_version = (case.lock_version or 0) + 1  # no process keeps the old workflow cached
    case.erased_at = at
    # Crypto-shredding: whatever was sealed under the case's key — here, in a backup, in a stray copy — stays
    # unreadable; the events written after it (the tombstone, later views) name nobody and are not sealed.
    shredded = keys.destroy(session, case.data_key_id, at)
    case.data_key_id = None
    erased = {"state": True, "audit_payloads": len(positions), "drafts": drafts, "intakes": intakes,
              "members": members, "documents": documents, "key_destroyed": shredded}
    events_out = audit.CaseAudit(case, actor, at)
    events_out.add(audit.PERSONAL_DATA_ERASED, {**reason, "positions": positions, "erased": erased})
    events_out.flush(session)
    return {"case_id": case.id, **erased}


def client_still_needed(session: Session, client_id: int) -> bool:
    """Whether a case not yet erased refers to the client (as its client or as a member)."""
    own = session.execute(select(Case.id).where(Case.client_id == client_id, Case.erased_at.is_(None))
                          .limit(1)).first()
    if own is not None:
        return True
    member = session.execute(select(CaseMember.id).join(Case, Case.id == CaseMember.case_id)
                             .where(CaseMember.client_id == client_id, Case.erased_at.is_(None)).limit(1)).first()
    return member is not None


def stream_events_about(session: Session, client_code: str) -> list[AuditEvent]:
    """The ``privacy`` stream's events about one client (they name the client's code in ``client``)."""
    rows = session.execute(select(AuditEvent).where(AuditEvent.case_id.is_(None), AuditEvent.kind.in_(
        (audit.CLIENT_CORRECTED, audit.CLIENT_DATA_EXPORTED, audit.CLIENT_VIEWED, audit.PERSONAL_DATA_ERASED)))
        .order_by(AuditEvent.id)).scalars().all()
    return [e for e in rows if isinstance(e.payload, dict)
            and audit.readable(session, e.payload).get("client") == client_code]


def erase_client(session: Session, client: Client, at: dt.datetime, actor: str, reason: dict) -> dict:
    """Erase a client's identity (the caller checked that no case keeps it)."""
    if client.erased_at is not None:
        raise Conflict(f"client {client.client_code}'s identity was erased already")
    # The stream's head locked first (record_system_event locks it again, a no-op): the tombstone's position is known
    # before the payloads name it.
    head = session.execute(select(AuditStream.seq).where(AuditStream.stream == PRIVACY_STREAM)
                           .with_for_update()).scalar_one_or_none()
    tombstone_seq = (head or 0) + 1
    positions = _erase_payloads(session, stream_events_about(session, client.client_code), tombstone_seq)
    fields = [f for f in CLIENT_FIELDS if getattr(client, f) is not None]  # sealed or not: present
    for name in CLIENT_FIELDS:
        setattr(client, name, None)
    client.birth_year = None  # reports count an erased client's age as unknown, as before sealing
    client.dedup_key = f"erased-{client.client_code}"  # a person registered again later is a new client
    client.erased_at = at
    keys.destroy(session, client.data_key_id, at)  # crypto-shredding, as for a case
    client.data_key_id = None
    seq = audit.record_system_event(session, actor, at, audit.PERSONAL_DATA_ERASED,
                                    {**reason, "client": client.client_code, "fields": fields,
                                     "positions": positions}, stream=PRIVACY_STREAM)
    assert seq == tombstone_seq, "the privacy stream moved under its lock"
    return {"client": client.client_code, "fields": fields, "audit_payloads": len(positions)}
