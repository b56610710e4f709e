"""Masking by role: who sees a client's name and identifying data, and what everyone else sees instead — the
pseudonymous client code (seed 001's code register; docs/architecture.md, "Masking by role").

Names are for those whose work needs them: the case's own caseworker (she meets the person), the professional
lead and the manager (the services' reports list clients by name for exactly these two: ``access.names`` of
every bundled report), and the data-protection officer (who answers the person's requests). Everyone else who
may see a case — the administrator, a process designer, a caseworker holding one of its tasks — sees codes, and
``•••`` where an identifying value stood.

Identifying values are the client register's columns, the form fields a process feeds the register with
(``registers_client``), and the fields its manifest names under ``legal_basis.identifying`` (contacts, the
household's members): data keys of the case whose whole value is masked, in the case's data and in the before
and after of its audit events.
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


def identifying_fields(view) -> frozenset[str]:
    """The case data keys of a process version that identify a person (see the module's docstring)."""
    found = getattr(view, "_identifying", None)
    if found is not None:
        return found
    manifest = view.manifest or {}
    spec = ((manifest.get("processes") or {}).get(view.process_key) or {})
    fields = set((spec.get("legal_basis") or {}).get("identifying") or ())
    for group in ("identity", "details"):
        fields |= set(((spec.get("registers_client") or {}).get(group) or {}).values())
    found = frozenset(fields)
    view._identifying = found  # per process version, computed once
    return found


def mask_data(data: dict, fields) -> dict:
    return {k: (MASK if k in fields and v not in (None, "", []) else v) for k, v in data.items()}


def mask_client(client: dict | None) -> dict | None:
    """A client as the register describes it, with only the code and the registration day left."""
    if client is None:
        return None
    return {**{k: (MASK if k in REGISTER_COLUMNS and v is not None else v) for k, v in client.items()},
            "masked": True}


def mask_payload(payload: Any, fields) -> Any:
    """An audit event's payload with the identifying values masked wherever they stand (before, after, a
    correction's fields), keys and everything else kept."""
    if isinstance(payload, dict):
        return {k: (MASK if k in fields and v not in (None, "", []) else mask_payload(v, fields))
                for k, v in payload.items()}
    if isinstance(payload, list):
        return [mask_payload(v, fields) for v in payload]
    return payload
