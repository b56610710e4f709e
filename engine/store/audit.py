"""Audit events: who, when, what, before and after — appended in the same transaction as the change.

Events of one case form a hash chain whose head lives on the case row (which the command has locked anyway);
events that belong to no case chain through ``audit_streams``. Each hash covers the previous hash and the
event's canonical JSON, so an edited, deleted, inserted or reordered event breaks the chain.

The payload — the part that may hold personal data — enters the hash through its own digest
(``payload_digest``, SHA-256 of its canonical JSON, stored beside it): the chain covers the digest, the digest
covers the payload. So a payload can be erased when the law requires it (engine/privacy/erasure.py): it is
replaced by a tombstone naming the erasure event of the same chain, the digest stays, and the chain still
verifies, while an edited payload no longer matches its digest and a payload removed without an erasure event is
reported (engine/audit/audit_verify.py). Events written before digests existed (``payload_digest`` NULL) are
hashed with their payload inline; migration 0033 re-hashed every case chain that verified.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from ..errors import KeyUnavailable
from . import json_text, keys
from .db import Prepared
from .models import AuditEvent, AuditStream, Case

if TYPE_CHECKING:
    from ..runtime.advance import AnyCase

# Event kinds, named subject_past_verb.
CASE_STARTED = "case_started"
CASE_COMPLETED = "case_completed"
TASK_CREATED = "task_created"
TASK_COMPLETED = "task_completed"
TASK_CANCELLED = "task_cancelled"
TASK_CLAIMED = "task_claimed"
TASK_RELEASED = "task_released"
DRAFT_SAVED = "draft_saved"
FORM_DATA_CHANGED = "form_data_changed"
DECISION_TAKEN = "decision_taken"
ENTRY_CORRECTED = "entry_corrected"
CASE_LINKED = "case_linked"  # a choice on a form started a case of another process for the same client
MEMBER_JOINED = "member_joined"  # a client joined a case with members (engine/cases/members.py)
MEMBER_LEFT = "member_left"
DOCUMENT_PRODUCED = "document_produced"  # a step document filled from the case as PDF (engine/documents/)
DOCUMENT_UPLOADED = "document_uploaded"  # a signed copy of one kept with the case
DOCUMENT_DOWNLOADED = "document_downloaded"
CLIENT_REGISTERED = "client_registered"
CLIENT_RETURNED = "client_returned"
DEFINITION_DEPLOYED = "definition_deployed"
PACKAGE_DEPLOYED = "package_deployed"
PACKAGE_DRAFT_SAVED = "package_draft_saved"  # stored and checked, not live (engine/packages/deploy.py)
PACKAGE_PUBLISHED = "package_published"  # a draft, or an earlier version again, made the one new cases start on
PACKAGE_EXPORTED = "package_exported"  # a package version's files given out as a zip (engine/packages/export.py)
USER_CREATED = "user_created"
USER_CHANGED = "user_changed"
USER_LOCALE_CHANGED = "user_locale_changed"
USER_LOGGED_IN = "user_logged_in"
USER_LOGGED_OUT = "user_logged_out"
SESSIONS_ENDED = "sessions_ended"  # by a deactivation or a password change (engine/people/login_sessions.py)
LOGIN_FAILED = "login_failed"
ACCESS_DENIED = "access_denied"
LEGAL_HOLD_SET = "legal_hold_set"  # engine/privacy/retention.py
LEGAL_HOLD_CLEARED = "legal_hold_cleared"
PERSONAL_DATA_ERASED = "personal_data_erased"  # the tombstone: what was erased, never the data
CLIENT_DATA_EXPORTED = "client_data_exported"  # a person's data handed out (engine/privacy/export.py)
CLIENT_CORRECTED = "client_corrected"  # the client register rectified: before and after
DATA_KEYS_REWRAPPED = "data_keys_rewrapped"  # `segito keys rotate` (engine/store/keys.py)
CLIENT_VIEWED = "client_viewed"  # a client's register row and requests page opened (engine/privacy/export.py)

# An erased payload: {ERASED: <position of the erasure event in the same chain>}.
ERASED = "erased_by"
# Payloads that name nobody — how a case was viewed, what an erasure erased — stay in clear: they outlive the
# case's key. Every other payload of a case's chain is sealed under the case's data key (engine/store/keys.py).
UNSEALED_KINDS = frozenset({"case_viewed", "task_viewed", PERSONAL_DATA_ERASED})
API_TOKEN_ISSUED = "api_token_issued"  # engine/people/api_tokens.py
API_TOKEN_REVOKED = "api_token_revoked"
API_TOKENS_LISTED = "api_tokens_listed"
API_TOKENS_REVOKED = "api_tokens_revoked"  # all of a user's, by a deactivation


_INSERT_EVENTS = AuditEvent.__table__.insert()
_INSERT_EVENTS_FAST = Prepared(_INSERT_EVENTS)


def field_changes(before: dict, after: dict, changed: set) -> dict:
    """Before/after values of the changed fields.

    A repeatable block (a list, e.g. the meetings of the case log) is recorded by its entries: those removed
    under "before" and those added under "after", listed in "list_fields". Recording the whole list each time
    would make a case's history grow with the square of its meetings.
    """
    out: dict[str, dict | list] = {"before": {}, "after": {}}
    lists = []
    for key in sorted(changed):
        old, new = before.get(key), after.get(key)
        if isinstance(old, list) and isinstance(new, list):
            out["before"][key] = [item for item in old if item not in new]
            out["after"][key] = [item for item in new if item not in old]
            lists.append(key)
        else:
            out["before"][key], out["after"][key] = old, new
    if lists:
        out["list_fields"] = lists
    return out


# json.dumps with these options builds a new encoder on every call; one kept instance writes the same text.
_canonical = json_text.one_shot(json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                                  default=str))


def canonical(value) -> str:
    return _canonical(value)


def payload_digest(payload: dict) -> str:
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


def event_hash(prev_hash: str, seq: int, occurred_at: dt.datetime, actor: str, kind: str,
               case_id: int | None, task_id: int | None, payload: dict, digest: str | None = None) -> str:
    """The event's hash: over its payload's digest when it has one (every event written now), else over the
    payload itself (events written before digests existed). A digest is a string, a payload an object, so the
    two forms never hash the same text."""
    body = canonical([prev_hash, seq, occurred_at.isoformat(), actor, kind, case_id, task_id,
                      payload if digest is None else digest])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def is_erased(payload) -> bool:
    return isinstance(payload, dict) and len(payload) == 1 and isinstance(payload.get(ERASED), int)


def readable(bind, payload):
    """The payload as written: a sealed one opened (engine/store/keys.py)."""
    text = keys.open_json_text(bind, payload, keys.PAYLOAD)
    return payload if text is None else json.loads(text)


def payload_problem(payload, digest: str | None, bind=None) -> str | None:
    """Why a stored payload does not fit its digest (None when it does, when it was erased, or when the event
    has no digest and its hash covers the payload itself). A sealed payload is opened with ``bind``."""
    if digest is None or is_erased(payload):
        return None
    if keys.is_sealed_json(payload):
        try:
            payload = readable(bind, payload)
        except KeyUnavailable as e:
            return f"its payload cannot be opened: {e.message}"
    return None if payload_digest(payload) == digest else "its payload no longer matches its digest"


def _stored(bind, key_id: str | None, kind: str, payload: dict) -> tuple[object, str]:
    """The payload as stored (sealed under ``key_id`` unless its kind names nobody) and its digest."""
    text = canonical(payload)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if key_id is None or kind in UNSEALED_KINDS:
        return payload, digest
    return keys.seal_json_text(bind, key_id, text, keys.PAYLOAD), digest


@dataclass
class PendingEvent:
    kind: str
    payload: dict = field(default_factory=dict)
    task_id: int | None = None
    actor: str | None = None  # another actor than the command's (a timer fired inside a person's command)


class CaseAudit:
    """Collects a command's events for one case; ``flush`` chains and inserts them in one statement."""

    def __init__(self, case: AnyCase, actor: str, at: dt.datetime):
        self.case = case
        self.actor = actor
        self.at = at
        self.events: list[PendingEvent] = []
        self.head, self.seq = case.audit_head or "", case.audit_seq or 0

    def add(self, kind: str, payload: dict | None = None, task_id: int | None = None,
            actor: str | None = None) -> None:
        self.events.append(PendingEvent(kind, payload or {}, task_id, actor))

    def flush(self, session: Session | Connection, touch_case: bool = True) -> None:
        """Insert the collected events; ``touch_case=False`` when the caller writes the head with the case row.
        ``session``: the command's Session, or (faster, same transaction) its Connection."""
        if not self.events:
            return
        rows = []
        head, seq = self.head, self.seq
        key_id = getattr(self.case, "data_key_id", None)
        for ev in self.events:
            seq += 1
            actor = ev.actor or self.actor
            stored, covered = _stored(session, key_id, ev.kind, ev.payload)
            digest = event_hash(head, seq, self.at, actor, ev.kind, self.case.id, ev.task_id, ev.payload, covered)
            rows.append(dict(occurred_at=self.at, actor=actor, kind=ev.kind, case_id=self.case.id,
                             task_id=ev.task_id, seq=seq, payload=stored, payload_digest=covered,
                             prev_hash=head, hash=digest))
            head = digest
        if isinstance(session, Connection):
            _INSERT_EVENTS_FAST.execute(session, rows)
        else:
            session.execute(_INSERT_EVENTS, rows)
        self.head, self.seq = head, seq
        if touch_case:
            self.case.audit_head, self.case.audit_seq = head, seq
        self.events.clear()


def record_system_event(session: Session, actor: str, at: dt.datetime, kind: str, payload: dict,
                        stream: str = "system", key_id: str | None = None) -> int:
    """An event outside any case, chained through its stream's head (row-locked on PostgreSQL); its payload
    sealed under ``key_id`` when given (a client's, for the register's corrections)."""
    head_row = session.execute(
        select(AuditStream).where(AuditStream.stream == stream).with_for_update()
    ).scalar_one_or_none()
    if head_row is None:
        head_row = AuditStream(stream=stream, head="", seq=0)
        session.add(head_row)
        session.flush()  # a second event of this transaction must find it (sessions do not autoflush)
    seq = head_row.seq + 1
    stored, covered = _stored(session, key_id, kind, payload)
    digest = event_hash(head_row.head, seq, at, actor, kind, None, None, payload, covered)
    session.add(AuditEvent(occurred_at=at, actor=actor, kind=kind, case_id=None, task_id=None, seq=seq,
                           payload=stored, payload_digest=covered, prev_hash=head_row.head, hash=digest))
    head_row.head, head_row.seq = digest, seq
    return seq


def case_history(session: Session, case_id: int) -> list[dict]:
    rows = session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
    ).scalars()
    return [
        {"seq": e.seq, "at": e.occurred_at.isoformat(), "actor": e.actor, "kind": e.kind,
         "task_id": e.task_id, "payload": readable(session, e.payload)}
        for e in rows
    ]


def verify_case_chain(session: Session, case: Case) -> list[str]:
    """Problems found in one case's chain (empty when intact)."""
    problems = []
    prev, expected_seq = "", 1
    events = session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)
    ).scalars().all()
    for ev in events:
        if ev.seq != expected_seq:
            problems.append(f"case {case.id}: event id {ev.id} has position {ev.seq}, expected {expected_seq}")
        if ev.prev_hash != prev:
            problems.append(f"case {case.id}: event id {ev.id} (position {ev.seq}) does not follow its predecessor")
        digest = event_hash(ev.prev_hash, ev.seq, ev.occurred_at, ev.actor, ev.kind, ev.case_id, ev.task_id,
                            ev.payload, ev.payload_digest)
        if digest != ev.hash or payload_problem(ev.payload, ev.payload_digest, session):
            problems.append(f"case {case.id}: event id {ev.id} (position {ev.seq}) was altered")
        prev, expected_seq = ev.hash, ev.seq + 1
    if prev != (case.audit_head or "") or (expected_seq - 1) != (case.audit_seq or 0):
        problems.append(f"case {case.id}: the chain ends at position {expected_seq - 1}, "
                        f"but the case recorded {case.audit_seq} events")
    return problems
