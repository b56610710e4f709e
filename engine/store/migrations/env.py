"""Alembic environment: migrations run against the URL the engine is configured with."""
from alembic import context
from sqlalchemy import create_engine

from engine.documents import models as document_models  # noqa: F401 - imported for its tables
from engine.reports import models as report_models  # noqa: F401 - imported for its tables: every mapped table on Base.metadata
from engine.store import config as segito_config
from engine.store import consent_models, timer_models  # noqa: F401 - the same
from engine.store.models import Base

target_metadata = Base.metadata


def run_migrations_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or segito_config.database_url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url") or segito_config.database_url()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        # Closed, not left in a pool: `segito run` forks its server processes after migrating (web/serve.py).
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
