"""Bringing a database up: schema, bundled process definitions, users — and the demo data of the default run."""
from __future__ import annotations

from sqlalchemy import func, select

from . import packages
from .people import users
from .people.users import DEMO_PASSWORD, DEMO_USERS
from .runtime.runtime import Runtime
from .store import clock, migrate
from .store.config import BPMN_DIR
from .store.models import Case, User

SYSTEM = "system"


def initialise(runtime: Runtime) -> list[dict]:
    """Migrate the schema and deploy the bundled service packages of bpmn/ (an unchanged package is skipped)."""
    wire()
    migrate.upgrade(runtime.db.url)
    return packages.deploy(runtime, packages.bundled(BPMN_DIR), SYSTEM, clock.now())


def wire() -> None:
    """The one place where what plugs into a service package is registered (engine/packages, PARTS). Called by
    whatever deploys packages (initialise, the CLI, the web app); registering a part twice replaces it.

    Declared reports: the part that checks and stores ``reports/*.yaml`` (their rows are kept by an observer,
    engine/runtime/observers.py), and the reader of report figures for forms (x-prefill-report). Step documents:
    the part that checks and stores ``documents/`` (templates and what each document holds, docs/documents.md)."""
    from .documents import part as documents_part
    from .forms import report_fields
    from .privacy import retention
    from .reports import part, prefill
    from .timers import ticker

    packages.register_part(part.PART)
    packages.register_part(documents_part.PART)
    report_fields.register_reader(prefill.fill)
    # The retention job (docs/operations.md, "Retention"): every SEGITO_RETENTION_HOURS (default 24; 0: never).
    ticker.register_job("retention", retention.scheduled, retention.schedule_hours())


def ensure_demo_users(runtime: Runtime) -> bool:
    with runtime.db.unit_of_work() as session:
        if session.execute(select(func.count(User.id))).scalar():
            return False
        for username, name, roles in DEMO_USERS:
            users.create_user(session, username, name, roles, DEMO_PASSWORD, SYSTEM, clock.now())
    return True


def has_cases(runtime: Runtime) -> bool:
    with runtime.db.reading() as session:
        return bool(session.execute(select(func.count(Case.id))).scalar())
