"""Engine operations that BPMN service tasks may call (``spiff:serviceTaskOperator``).

They run inside the command's transaction, so what they write commits or rolls back with the case.
"""
from __future__ import annotations

import datetime as dt

from ..errors import WorkflowFailed
from ..store.command_session import AnySession
from . import clients


def bind_services(runtime, session: AnySession, case, actor: str, at: dt.datetime, case_audit) -> dict:
    def register_client(task_data: dict, **_params) -> dict:
        # Which form fields feed the client register is the process's manifest's to say (docs/services.md).
        registration = runtime.definition(session, case.definition_id).registration
        if registration is None:
            raise WorkflowFailed(f"process '{case.process_key}' calls register_client, but its package manifest "
                                 "declares no 'registers_client' for it (docs/services.md)")
        return clients.register(session.connection(), case, task_data, registration, actor, at, case_audit)

    def now(task_data: dict, **_params) -> str:
        # The command's instant by the engine clock, for what a process must
        # date itself, e.g. "the plan's days after this change" (docs/timers.md, "Calendar helpers"): the
        # expression sandbox has no clock, so that every evaluation of an expression gives the same value.
        return at.astimezone(dt.timezone.utc).isoformat()

    operations = {"register_client": register_client, "now": now}
    for provide in PROVIDERS:
        operations.update(provide(runtime, session, case, actor, at, case_audit))
    return operations


# Other engine modules add operations here: provide(runtime, session, case, actor, at, case_audit) -> {name: fn}.
PROVIDERS: list = []
