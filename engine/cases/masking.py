"""Masking by role: who sees a client's name and identifying data, and what everyone else sees instead — the
pseudonymous client code (seed 001's code register; docs/architecture.md, "Masking by role").

Names are for those whose work needs them: the case's own caseworker (she meets the person), the professional
lead and the manager (the services' reports list clients by name for exactly these two: ``access.names`` of
every bundled report), and the data-protection officer (who answers the person's requests). Everyone else who
may see a case — the administrator, a process designer, a caseworker holding one of its tasks — sees codes, and
``•••`` where an identifying value stood.

Personal values are, from the package's own declarations (never from a service's name): the client register's
columns; the form fields a process feeds the register with (``registers_client``: identity, details, and the
problem and phone each intake records, which the register keeps sealed); a case's fields started from those
(``start.data`` naming ``problem`` or ``phone``); the fields its manifest names under ``legal_basis.identifying``
(contacts, the household's members) and ``legal_basis.financial`` (incomes, benefits, payments); and every free-text
field of its forms (``x-widget: textarea``, at any depth: ``actions/log`` is each row's log). Their values are
masked in the case's data and in the before and after of its audit events; keys and structure stay.
"""
from __future__ import annotations

from typing import Any

from ..people.users import CASEWORKER, DATA_PROTECTION_OFFICER, MANAGER, PROFESSIONAL_LEAD, Actor

NAME_ROLES = frozenset({PROFESSIONAL_LEAD, MANAGER, DATA_PROTECTION_OFFICER})
MASK = "•••"
# The client register's person columns (engine/store/models.py, Client), as events and descriptions name them.
REGISTER_COLUMNS = frozenset({"family_name", "given_name", "birth_date", "birth_place", "mother_name", "phone"})


def sees_names(actor: Actor, case=None) -> bool:
    """Whether ``actor`` sees names and identifying data of ``case``'s client (of any client, without a case)."""
    if actor.role_codes & NAME_ROLES:
        return True
    return case is not None and _own_case(actor, case)


def _own_case(actor: Actor, case) -> bool:
    """The case's own caseworker (or, before one is assigned, the caseworker who started it)."""
    if CASEWORKER not in actor.role_codes:
        return False
    return case.caseworker_id == actor.id or (case.caseworker_id is None and case.started_by == actor.username)


def sees_member_names(actor: Actor, case) -> bool:
    """Whether ``actor`` sees the names of a group case's members: those who work with the group — its own leader
    and the professional lead — and the data-protection officer. The manager reads a group by its members' codes:
    a member is known by code outside the group (docs/architecture.md, "Masking by role")."""
    if actor.role_codes & {PROFESSIONAL_LEAD, DATA_PROTECTION_OFFICER}:
        return True
    return _own_case(actor, case)


# What a registration records that the register keeps sealed (engine/cases/clients.py): the problem described, in
# the person's own words, and the phone. Code and status are not personal.
SEALED_REGISTRATION = frozenset({"problem", "phone"})
FREE_TEXT = "textarea"


def identifying_fields(view) -> frozenset[str]:
    """The personal data of a process version as paths (``field`` or ``block/field``; see the module's
    docstring)."""
    found = getattr(view, "_identifying", None)
    if found is not None:
        return found
    manifest = view.manifest or {}
    spec = ((manifest.get("processes") or {}).get(view.process_key) or {})
    basis = spec.get("legal_basis") or {}
    fields = set(basis.get("identifying") or ()) | set(basis.get("financial") or ())
    registers = spec.get("registers_client") or {}
    for group in ("identity", "details"):
        fields |= set((registers.get(group) or {}).values())
    fields |= {name for what, name in (registers.get("recorded") or {}).items() if what in SEALED_REGISTRATION}
    fields |= {name for name, what in ((spec.get("start") or {}).get("data") or {}).items()
               if what in SEALED_REGISTRATION}
    for form in (getattr(view, "forms", None) or {}).values():
        fields |= free_text_fields(form.schema)
    found = frozenset(fields)
    view._identifying = found  # per process version, computed once
    return found


def free_text_fields(schema: dict, prefix: str = "") -> set[str]:
    """A form's free-text fields (``x-widget: textarea``) as paths, those of a block's rows under the block."""
    found: set[str] = set()
    for name, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if prop.get("x-widget") == FREE_TEXT:
            found.add(prefix + name)
        items = prop.get("items")
        if isinstance(items, dict):
            found |= free_text_fields(items, f"{prefix}{name}/")
        if prop.get("properties"):
            found |= free_text_fields(prop, f"{prefix}{name}/")
    return found


def _split(fields) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """Paths as the keys masked here and, per block, the paths within its rows."""
    top = frozenset(f for f in fields if "/" not in f)
    nested: dict[str, set[str]] = {}
    for f in fields:
        if "/" in f:
            head, rest = f.split("/", 1)
            nested.setdefault(head, set()).add(rest)
    return top, {k: frozenset(v) for k, v in nested.items()}


def _filled(value) -> bool:
    return value not in (None, "", [])


def _rows(value, fields):
    if isinstance(value, list):
        return [mask_data(row, fields) if isinstance(row, dict) else row for row in value]
    if isinstance(value, dict):
        return mask_data(value, fields)
    return value


def mask_data(data: dict, fields) -> dict:
    top, nested = _split(fields)
    return {k: (MASK if k in top and _filled(v) else _rows(v, nested[k]) if k in nested else v)
            for k, v in data.items()}


def mask_client(client: dict | None) -> dict | None:
    """A client as the register describes it, with only the code and the registration day left."""
    if client is None:
        return None
    return {**{k: (MASK if k in REGISTER_COLUMNS and v is not None else v) for k, v in client.items()},
            "masked": True}


def mask_payload(payload: Any, fields) -> Any:
    """An audit event's payload with the identifying values masked wherever they stand (before, after, a
    correction's fields), keys and everything else kept."""
    return _mask_anywhere(payload, *_split(fields))


# Text a person typed into a command, kept in its audit event beside the form values, per event kind: a log
# row's correction, a consent's withdrawal, a legal hold set or cleared (and the hold it ends), a rectification of
# the register, and the name a signed copy had on the uploader's computer. Like a form's free text it may tell
# anything about the person, so it is masked as free text is (docs/architecture.md, "Masking by role").
EVENT_FREE_TEXT = {
    "entry_corrected": frozenset({"reason"}),  # engine/cases/entry_corrections.py
    "consent_withdrawn": frozenset({"reason"}),  # engine/cases/consent.py
    "legal_hold_set": frozenset({"reason"}),  # engine/privacy/retention.py
    "legal_hold_cleared": frozenset({"reason", "hold"}),
    "client_corrected": frozenset({"reason"}),  # engine/privacy/rectify.py
    "document_uploaded": frozenset({"uploaded_name"}),  # engine/documents/documents.py
}


def mask_event(event: dict, fields) -> dict:
    """An audit event (``kind``, ``payload``) as a role that needs no names reads it: ``mask_payload``, and the
    typed text its kind carries (``EVENT_FREE_TEXT``) masked too."""
    payload = mask_payload(event.get("payload"), fields)
    typed = EVENT_FREE_TEXT.get(event.get("kind") or "")
    if typed and isinstance(payload, dict):
        payload = {k: (MASK if k in typed and _filled(v) else v) for k, v in payload.items()}
    return {**event, "payload": payload}


def _mask_anywhere(payload: Any, top: frozenset[str], nested: dict[str, frozenset[str]]) -> Any:
    if isinstance(payload, dict):
        return {k: (MASK if k in top and _filled(v) else
                    _rows(v, nested[k]) if k in nested and isinstance(v, (list, dict)) else
                    _mask_anywhere(v, top, nested))
                for k, v in payload.items()}
    if isinstance(payload, list):
        return [_mask_anywhere(v, top, nested) for v in payload]
    return payload
