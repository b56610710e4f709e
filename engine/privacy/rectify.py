"""Rectifying the client register (the right to rectification): a wrong name, birth date, mother's name, place
of birth or phone number corrected, the earlier value kept in the audit log, never overwritten there.

The register's row takes the new value (and a new deduplication key, so the person is recognised by the
corrected identity at a later intake); a ``client_corrected`` event of the ``privacy`` stream records before,
after, who, when and why. What the cases recorded at the time stays as recorded: a case-log row is corrected
with its own history by the case's caseworker or the professional lead (engine/cases/entry_corrections.py), and a
case's other data by its process. Each correction is a new event; the earlier ones stay in the chain.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ..cases import clients
from ..errors import Conflict, ValidationFailed
from ..forms import input_check
from ..people import access
from ..people.users import Actor
from ..runtime.runtime import Runtime
from ..store import audit, clock, keys
from ..store.models import Client
from . import erasure, retention

REQUIRED = ("family_name", "given_name", "birth_date", "mother_name")  # what recognises a person
LENGTHS = {"family_name": 200, "given_name": 200, "birth_place": 200, "mother_name": 200, "phone": 40}


def _clean(changes) -> dict:
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed("name at least one field to correct: " + ", ".join(erasure.CLIENT_FIELDS),
                               [{"field": "data", "message": "no field"}])
    out: dict[str, object] = {}
    errors: list[dict] = []
    for field, value in changes.items():
        if field not in erasure.CLIENT_FIELDS:
            errors.append({"field": field, "message": f"not a register field ({', '.join(erasure.CLIENT_FIELDS)})"})
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            if field in REQUIRED:
                errors.append({"field": field, "message": "required: it identifies the person"})
            else:
                out[field] = None
            continue
        if not isinstance(value, str):
            errors.append({"field": field, "message": f"must be text, not {type(value).__name__}"})
            continue
        input_check.check_text(field, value)
        if field == "birth_date":
            try:
                out[field] = dt.date.fromisoformat(value.strip())
            except ValueError:
                errors.append({"field": field, "message": f"'{value[:40]}' is not a date (YYYY-MM-DD)"})
            continue
        if len(value.strip()) > LENGTHS[field]:
            errors.append({"field": field, "message": f"at most {LENGTHS[field]} characters"})
            continue
        out[field] = value.strip()
    if errors:
        raise ValidationFailed("the correction was refused: " + "; ".join(f"{e['field']}: {e['message']}"
                                                                          for e in errors), errors)
    return out


def correct_client(runtime: Runtime, actor: Actor, client_code: str, changes, reason: str | None) -> dict:
    """Correct fields of the client's register row; one transaction, one audit event with before and after."""
    access.require_role(actor, *access.PRIVACY_REQUESTS)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("a rectification needs a reason (e.g. the document the person showed)",
                               [{"field": "reason", "message": "required"}])
    input_check.check_text("reason", reason)
    clean = _clean(changes)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        client = retention.find_client(session, client_code)
        if client.erased_at is not None:
            raise Conflict(f"client {client.client_code}'s identity was erased: nothing to correct")
        person = clients.identity(session, client)
        before = {f: person[f] for f in clean if person[f] != clean[f]}
        if not before:
            raise ValidationFailed("nothing changes: the register already holds these values",
                                   [{"field": "data", "message": "unchanged"}])
        after = {f: clean[f] for f in before}
        person.update(after)
        if client.data_key_id is None:  # registered before sealing and never sealed: sealed from now on
            client.data_key_id = keys.new_data_key(session, "client", at)
        for field, value in clients.sealed_identity(session, client.data_key_id, after).items():
            setattr(client, field, value)
        key = clients.dedup_key(session, person["family_name"] or "", person["given_name"] or "",
                                person["birth_date"].isoformat() if person["birth_date"] else "",
                                person["mother_name"] or "")
        other = session.execute(select(Client.client_code).where(Client.dedup_key == key, Client.id != client.id)) \
            .scalar_one_or_none()
        if other is not None:
            raise Conflict(f"client {other} is registered with this identity: the two may be the same person; "
                           "the correction was not saved")
        client.dedup_key = key
        iso = {f: (v.isoformat() if isinstance(v, dt.date) else v) for f, v in before.items()}
        audit.record_system_event(session, actor.username, at, audit.CLIENT_CORRECTED,
                                  {"client": client.client_code, "reason": reason.strip(), "before": iso,
                                   "after": {f: (v.isoformat() if isinstance(v, dt.date) else v)
                                             for f, v in after.items()}},
                                  stream=erasure.PRIVACY_STREAM, key_id=client.data_key_id)
        result = {"client": client.client_code, "corrected": sorted(after), "at": at.isoformat()}
    runtime.db.scrub_log()  # the old value out of the SQLite log's older frames too (engine/store/db.py)
    return result
