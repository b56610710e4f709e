"""Engine operations that BPMN service tasks may call (``spiff:serviceTaskOperator``).

They run inside the command's transaction, so what they write commits or rolls back with the case. Besides
``now``, the operations come from the providers listed in engine/runtime/observers.py (``register_client``:
engine/cases/clients.py).
"""
from __future__ import annotations

import datetime as dt

from ..store.command_session import AnySession
from .observers import SERVICE_OPERATIONS as PROVIDERS  # the one list; tests add to it


def bind_services(runtime, session: AnySession, case, actor: str, at: dt.datetime, case_audit) -> dict:
    def now(task_data: dict, **_params) -> str:
        # The command's instant by the engine clock, for what a process must
        # date itself, e.g. "the plan's days after this change" (docs/timers.md, "Calendar helpers"): the
        # expression sandbox has no clock, so that every evaluation of an expression gives the same value.
        return at.astimezone(dt.timezone.utc).isoformat()

    operations = {"now": now}
    for provide in PROVIDERS:
        operations.update(provide(runtime, session, case, actor, at, case_audit))
    return operations


def operation_names(runtime) -> list[str]:
    """The names a service task's operator may give (what the studio's modeler offers); binding an operation
    does nothing until it is called, so no session or case is needed to list them."""
    names = {"now"}
    for provide in PROVIDERS:
        names.update(provide(runtime, None, None, "", None, None))
    return sorted(names)
