"""Who may do what. Every command asks here before it reads or changes a case."""
from __future__ import annotations

from ..errors import Forbidden
from ..store.models import Case, HumanTask
from .users import (
    ADMINISTRATOR,
    CASEWORKER,
    DATA_PROTECTION_OFFICER,
    MANAGER,
    PROCESS_DESIGNER,
    PROFESSIONAL_LEAD,
    Actor,
)

# Roles that oversee every case: the professional lead agrees closures, the manager audits.
OVERSEERS = {PROFESSIONAL_LEAD, MANAGER, ADMINISTRATOR}

# A person's rights and retention (engine/privacy/). The data-protection officer answers requests (a person's
# data handed out, rectified, erased) and the manager, answerable for the service, may too; either sets and
# clears a legal hold. The administrator runs the retention job and sees what it would erase, but neither reads
# a person's whole file nor holds cases: that is not a technical decision.
PRIVACY_REQUESTS = (DATA_PROTECTION_OFFICER, MANAGER)
LEGAL_HOLDS = (DATA_PROTECTION_OFFICER, MANAGER)
RETENTION = (DATA_PROTECTION_OFFICER, MANAGER, ADMINISTRATOR)


def can_work_on(user: Actor, task: HumanTask) -> bool:
    return may_work(user, task.role, task.assignee_id)


def may_work(user: Actor, role: str, assignee_id: int | None) -> bool:
    """A task of this lane and assignee is the user's to open, claim and complete: assigned to her, or unclaimed in
    the queue of one of her roles (exactly what her inbox lists)."""
    return role in user.role_codes and assignee_id in (None, user.id)


def require_task(user: Actor, task: HumanTask) -> None:
    if not can_work_on(user, task):
        # Same answer whether the task exists for someone else or not at all: ids reveal nothing.
        raise Forbidden(f"task {task.id} is not yours to work on")


def can_view_case(user: Actor, case: Case, has_task_in_case: bool = False) -> bool:
    return bool(user.role_codes & OVERSEERS) or case.caseworker_id == user.id or case.started_by == user.username \
        or has_task_in_case


def require_case(user: Actor, case: Case, has_task_in_case: bool = False) -> None:
    if not can_view_case(user, case, has_task_in_case):
        raise Forbidden(f"case {case.id} is not yours to see")


def require_role(user: Actor, *roles: str) -> None:
    if not user.role_codes & set(roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")


def require_caseworker(user: Actor) -> None:
    require_role(user, CASEWORKER)


def require_designer(user: Actor) -> None:
    require_role(user, PROCESS_DESIGNER, ADMINISTRATOR)


# Who reads process versions (history, exports): those who deploy them and those who answer for what runs. None of
# them sees a case through this.
VERSION_READERS = {PROCESS_DESIGNER, MANAGER, ADMINISTRATOR}


def can_read_versions(user: Actor) -> bool:
    return bool(user.role_codes & VERSION_READERS)


def require_version_reader(user: Actor) -> None:
    require_role(user, *sorted(VERSION_READERS))
