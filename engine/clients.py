"""Clients: registered once at intake under a stable pseudonymous code, recognised when they come back."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata

from sqlalchemy import Connection, bindparam, select

from . import audit
from .db import Prepared
from .errors import NotFound, ValidationFailed
from .models import Client, Intake

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread


def _fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of a name, so 'Kovács  Éva' and 'kovacs eva' match."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def dedup_key(family_name: str, given_name: str, birth_date: str, mother_name: str) -> str:
    parts = [_fold(family_name), _fold(given_name), birth_date, _fold(mother_name)]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def new_client_code() -> str:
    return "K-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


# Every intake and every case start run these: prebuilt Core statements, no mapped objects (loading and flushing
# them cost more than the statements themselves).
_clients, _intakes = Client.__table__, Intake.__table__
_CLIENT_BY_KEY = Prepared(select(_clients.c.id, _clients.c.client_code)
                          .where(_clients.c.dedup_key == bindparam("key")))
_INSERT_CLIENT = Prepared(_clients.insert())
_INSERT_INTAKE = Prepared(_intakes.insert())
_earlier = _intakes.alias("latest")
_LATEST_INTAKE_ID = (select(_earlier.c.id).where(_earlier.c.client_id == _clients.c.id)
                     .order_by(_earlier.c.taken_at.desc(), _earlier.c.id.desc()).limit(1)
                     .correlate(_clients).scalar_subquery())
_CASE_SEED = Prepared(select(_clients.c.id, _clients.c.client_code, _intakes.c.client_status, _intakes.c.problem,
                             _intakes.c.phone)
                      .select_from(_clients.outerjoin(_intakes, _intakes.c.id == _LATEST_INTAKE_ID))
                      .where(_clients.c.client_code == bindparam("code")))


def register_from_intake(connection: Connection, case, data: dict, actor: str, at: dt.datetime,
                         case_audit: audit.CaseAudit) -> dict:
    """Find or create the client of an intake, record the intake, and say whether the client is new."""
    missing = [f for f in ("family_name", "given_name", "birth_date", "mother_name") if not data.get(f)]
    if missing:
        raise ValidationFailed(f"intake lacks {', '.join(missing)}", [{"field": f, "message": "is required"}
                                                                       for f in missing])
    key = dedup_key(data["family_name"], data["given_name"], data["birth_date"], data["mother_name"])
    found = _CLIENT_BY_KEY.first(connection, {"key": key})
    if found is None:
        code = new_client_code()
        client_id = _INSERT_CLIENT.insert(connection, dict(
            client_code=code, dedup_key=key, family_name=data["family_name"].strip(),
            given_name=data["given_name"].strip(), birth_date=dt.date.fromisoformat(data["birth_date"]),
            birth_place=data.get("birth_place"), mother_name=data["mother_name"].strip(), phone=data.get("phone"),
            registered_at=at, registered_by=actor))
        # Someone served before Segito existed is 'returning' even on first registration, as the caseworker says.
        status = data.get("client_status") or "new"
        kind = audit.CLIENT_REGISTERED
    else:
        client_id, code = found
        status = "returning"
        kind = audit.CLIENT_RETURNED
    _INSERT_INTAKE.insert(connection, dict(client_id=client_id, case_id=case.id, client_status=status,
                                           problem=data.get("intake_problem") or "", phone=data.get("phone") or None,
                                           taken_at=at))
    case.client_id = client_id
    case_audit.add(kind, {"client_code": code, "client_status": status})
    return {"client_code": code, "client_status": status}


def case_seed(connection: Connection, code: str) -> tuple[int, dict]:
    """The client's id, and what a new case of that client starts with: its code, and the status, problem and
    phone number recorded at its latest intake (one statement)."""
    found = _CASE_SEED.first(connection, {"code": code})
    if found is None:
        raise NotFound(f"no client with code '{code}'")
    client_id, client_code, status, problem, phone = found
    taken_in = status is not None
    seed = {"client_code": client_code, "client_status": status if taken_in else "new",
            "intake_problem": problem if taken_in else ""}
    if phone:
        seed["intake_phone"] = phone
    return client_id, seed


def describe(client: Client) -> dict:
    return {"client_code": client.client_code, "family_name": client.family_name, "given_name": client.given_name,
            "birth_date": client.birth_date.isoformat(), "birth_place": client.birth_place,
            "registered_at": client.registered_at.isoformat()}
