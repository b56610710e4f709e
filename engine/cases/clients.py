"""Clients: registered once under a stable pseudonymous code, recognised when they come back (docs/services.md)."""
from __future__ import annotations

import datetime as dt
import secrets
import unicodedata

from sqlalchemy import Connection, bindparam, select

from ..errors import NotFound, ValidationFailed, WorkflowFailed
from ..packages.manifest import IDENTITY
from ..store import audit, keys
from ..store.command_session import AnySession
from ..store.db import Prepared
from ..store.models import Client, Intake

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread


def _fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of a name, so 'Kovács  Éva' and 'kovacs eva' match."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def dedup_key(bind, family_name: str, given_name: str, birth_date: str, mother_name: str) -> str:
    """The key a person is recognised by: an HMAC of the folded identity under the register's secret
    (engine/store/keys.py), so a guessed identity cannot be confirmed from the database alone."""
    parts = [_fold(family_name), _fold(given_name), birth_date, _fold(mother_name)]
    return keys.register_hmac(bind, "|".join(parts))


def new_client_code() -> str:
    return "K-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


# Every registration and every case start run these: prebuilt Core statements, no mapped objects (loading and flushing
# them cost more than the statements themselves).
_clients, _registrations = Client.__table__, Intake.__table__
_CLIENT_BY_KEY = Prepared(select(_clients.c.id, _clients.c.client_code)
                          .where(_clients.c.dedup_key == bindparam("key")))
_INSERT_CLIENT = Prepared(_clients.insert())
_INSERT_REGISTRATION = Prepared(_registrations.insert())
_earlier = _registrations.alias("latest")
_LATEST_REGISTRATION_ID = (select(_earlier.c.id).where(_earlier.c.client_id == _clients.c.id)
                     .order_by(_earlier.c.taken_at.desc(), _earlier.c.id.desc()).limit(1)
                     .correlate(_clients).scalar_subquery())
_CASE_SEED = Prepared(select(_clients.c.id, _clients.c.client_code, _registrations.c.client_status,
                             _registrations.c.problem, _registrations.c.phone)
                      .select_from(_clients.outerjoin(_registrations, _registrations.c.id == _LATEST_REGISTRATION_ID))
                      .where(_clients.c.client_code == bindparam("code")))


def service_operations(runtime, session: AnySession, case, actor: str, at: dt.datetime, case_audit) -> dict:
    """The ``register_client`` service task, bound to one command (listed in engine/runtime/observers.py)."""
    def register_client(task_data: dict, **_params) -> dict:
        # Which form fields feed the client register is the process's manifest's to say (docs/services.md).
        registration = runtime.definition(session, case.definition_id).registration
        if registration is None:
            raise WorkflowFailed(f"process '{case.process_key}' calls register_client, but its package manifest "
                                 "declares no 'registers_client' for it (docs/services.md)")
        return register(session.connection(), case, task_data, registration, actor, at, case_audit)

    return {"register_client": register_client}


def register(connection: Connection, case, data: dict, registration: dict, actor: str, at: dt.datetime,
             case_audit: audit.CaseAudit) -> dict:
    """Find or create the client whose identity the case's form recorded, record this registration, and say
    whether the client is new. ``registration`` names the form fields (``registers_client`` of the process's
    manifest, docs/services.md): ``identity`` (recognises a person), ``details``, ``recorded`` (kept each time)."""
    identity, details, recorded = (registration.get("identity") or {}, registration.get("details") or {},
                                   registration.get("recorded") or {})
    missing = [identity[c] for c in IDENTITY if not data.get(identity[c])]
    if missing:
        raise ValidationFailed(f"the registration lacks {', '.join(missing)}",
                               [{"field": f, "message": "is required"} for f in missing])
    person = {column: data[identity[column]] for column in IDENTITY}
    key = dedup_key(connection, person["family_name"], person["given_name"], person["birth_date"],
                    person["mother_name"])
    found = _CLIENT_BY_KEY.first(connection, {"key": key})
    if found is None:
        code = new_client_code()
        key_id = keys.new_data_key(connection, "client", at)
        client_id = _INSERT_CLIENT.insert(connection, dict(
            client_code=code, dedup_key=key, data_key_id=key_id, registered_at=at, registered_by=actor,
            **sealed_identity(connection, key_id, dict(
                family_name=person["family_name"].strip(), given_name=person["given_name"].strip(),
                birth_date=dt.date.fromisoformat(person["birth_date"]),
                birth_place=data.get(details["birth_place"]) if "birth_place" in details else None,
                mother_name=person["mother_name"].strip(),
                phone=data.get(details["phone"]) if "phone" in details else None))))
        # Someone served before Segito existed is 'returning' even on first registration, as the caseworker says.
        status = (data.get(recorded["status"]) if "status" in recorded else None) or "new"
        kind = audit.CLIENT_REGISTERED
    else:
        client_id, code = found
        status = "returning"
        kind = audit.CLIENT_RETURNED
    problem = data.get(recorded["problem"]) if "problem" in recorded else None
    phone = data.get(recorded["phone"]) if "phone" in recorded else None
    case_key = getattr(case, "data_key_id", None)  # the intake is the case's: sealed under its key, erased with it
    _INSERT_REGISTRATION.insert(connection, dict(
        client_id=client_id, case_id=case.id, client_status=status, taken_at=at,
        problem=keys.seal_text(connection, case_key, problem or "", keys.INTAKE) if case_key else problem or "",
        phone=keys.seal_text(connection, case_key, phone or None, keys.INTAKE) if case_key else phone or None))
    case.client_id = client_id
    case_audit.add(kind, {"client_code": code, "client_status": status})
    return {"client_code": code, "client_status": status}


def case_seed(connection: Connection, code: str, fields: dict[str, str]) -> tuple[int, str, dict]:
    """The client's id and code, and the data a new case of that client starts with (one statement): each of
    ``fields`` (case data field -> code | status | problem | phone, the process's ``start.data``) taken from the
    client's latest registration. A client never registered is 'new' with no problem; a phone never given is
    left out."""
    found = _CASE_SEED.first(connection, {"code": code})
    if found is None:
        raise NotFound(f"no client with code '{code}'")
    client_id, client_code, status, problem, phone = found
    problem, phone = keys.open_text(connection, problem, keys.INTAKE), keys.open_text(connection, phone, keys.INTAKE)
    taken_in = status is not None
    values = {"code": client_code, "status": status if taken_in else "new", "problem": problem if taken_in else "",
              "phone": phone or None}
    return client_id, client_code, {field: values[value] for field, value in fields.items()
                                    if values[value] is not None}


# The register's columns sealed under the client's data key (engine/store/keys.py). The birth date is sealed as
# its ISO text; its year stays in clear beside it (``birth_year``): reports narrow by it the rows whose age on a
# day they must open the date for (engine/reports/compute.py, ``Births``; docs/architecture.md).
SEALED_FIELDS = ("family_name", "given_name", "birth_date", "birth_place", "mother_name", "phone")


def sealed_identity(bind, key_id: str | None, values: dict) -> dict:
    """The register's columns as stored: each of ``SEALED_FIELDS`` in ``values`` sealed under ``key_id``; a birth
    date (a date, or None) as its sealed ISO text with ``birth_year`` beside it."""
    stored = {}
    for f, v in values.items():
        if f == "birth_date":
            stored["birth_year"] = v.year if v is not None else None
            v = v.isoformat() if v is not None else None
        stored[f] = keys.seal_text(bind, key_id, v, keys.CLIENT) if key_id and f in SEALED_FIELDS else v
    return stored


def birth_date(bind, value: str | None) -> dt.date | None:
    """A register row's stored birth date (sealed, or in clear from before sealing) as a date."""
    text = keys.open_text(bind, value, keys.CLIENT)
    return dt.date.fromisoformat(text) if text else None


def identity(bind, client) -> dict:
    """A register row's identity in clear: names, birth date and place, mother's name, phone (None: erased)."""
    return {"family_name": keys.open_text(bind, client.family_name, keys.CLIENT),
            "given_name": keys.open_text(bind, client.given_name, keys.CLIENT),
            "birth_date": birth_date(bind, client.birth_date),
            "birth_place": keys.open_text(bind, client.birth_place, keys.CLIENT),
            "mother_name": keys.open_text(bind, client.mother_name, keys.CLIENT),
            "phone": keys.open_text(bind, client.phone, keys.CLIENT)}


def describe(bind, client: Client) -> dict:
    person = identity(bind, client)
    return {"client_code": client.client_code, "family_name": person["family_name"],
            "given_name": person["given_name"],
            "birth_date": person["birth_date"].isoformat() if person["birth_date"] else None,  # None: erased
            "birth_place": person["birth_place"], "registered_at": client.registered_at.isoformat()}
