"""Bringing a database to the newest schema with Alembic (the only way tables are created)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from . import sqlite_file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    sqlite_file.prepare(make_url(url))  # a new SQLite file is owner-only (engine/store/sqlite_file.py)
    command.upgrade(alembic_config(url), "head")
