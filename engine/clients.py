"""Clients: registered once at intake under a stable pseudonymous code, recognised when they come back."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
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


def register_from_intake(session: Session, case, data: dict, actor: str, at: dt.datetime,
                         case_audit: audit.CaseAudit) -> dict:
    """Find or create the client of an intake, record the intake, and say whether the client is new."""
    missing = [f for f in ("family_name", "given_name", "birth_date", "mother_name") if not data.get(f)]
    if missing:
        raise ValidationFailed(f"intake lacks {', '.join(missing)}", [{"field": f, "message": "is required"}
                                                                       for f in missing])
    key = dedup_key(data["family_name"], data["given_name"], data["birth_date"], data["mother_name"])
    client = session.execute(select(Client).where(Client.dedup_key == key)).scalar_one_or_none()
    if client is None:
        client = Client(client_code=new_client_code(), dedup_key=key, family_name=data["family_name"].strip(),
                        given_name=data["given_name"].strip(), birth_date=dt.date.fromisoformat(data["birth_date"]),
                        birth_place=data.get("birth_place"), mother_name=data["mother_name"].strip(),
                        phone=data.get("phone"), registered_at=at, registered_by=actor)
        session.add(client)
        session.flush()
        # Someone served before Segito existed is 'returning' even on first registration, as the caseworker says.
        status = data.get("client_status") or "new"
        kind = audit.CLIENT_REGISTERED
    else:
        status = "returning"
        kind = audit.CLIENT_RETURNED
    session.add(Intake(client_id=client.id, case_id=case.id, client_status=status,
                       problem=data.get("intake_problem") or "", taken_at=at))
    case.client_id = client.id
    case_audit.add(kind, {"client_code": client.client_code, "client_status": status})
    return {"client_code": client.client_code, "client_status": status}


def by_code(session: Session, code: str) -> Client:
    client = session.execute(select(Client).where(Client.client_code == code)).scalar_one_or_none()
    if client is None:
        raise NotFound(f"no client with code '{code}'")
    return client


def latest_intake(session: Session, client_id: int) -> Intake | None:
    return session.execute(
        select(Intake).where(Intake.client_id == client_id).order_by(Intake.taken_at.desc(), Intake.id.desc()).limit(1)
    ).scalar_one_or_none()


def describe(client: Client) -> dict:
    return {"client_code": client.client_code, "family_name": client.family_name, "given_name": client.given_name,
            "birth_date": client.birth_date.isoformat(), "birth_place": client.birth_place,
            "registered_at": client.registered_at.isoformat()}
