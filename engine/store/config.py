"""Configuration from the environment, with the embedded default (SQLite file in ./instance)."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from . import sqlite_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # engine/store/config.py -> the project
BPMN_DIR = PROJECT_ROOT / "bpmn"
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "instance" / "segito.db"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants an explicit psycopg 3 driver.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://"):]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    sqlite_file.make_directory(str(DEFAULT_SQLITE_PATH.parent))  # owner-only: it holds personal data
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


DEFAULT_WAL_CHECKPOINT_PAGES = 10_000  # ten times SQLite's own: the background thread normally checkpoints first


def wal_checkpoint_pages() -> int:
    """``SEGITO_WAL_CHECKPOINT_PAGES``: on a SQLite file, how many pages the write-ahead log may hold before a
    writer checkpoints it itself, inside its commit (SQLite's ``wal_autocheckpoint``); default 10,000 (40 MB).
    Normally the background thread (engine/store/wal_checkpoint.py) has copied them long before."""
    raw = os.environ.get("SEGITO_WAL_CHECKPOINT_PAGES", "").strip()
    if not raw:
        return DEFAULT_WAL_CHECKPOINT_PAGES
    try:
        pages = int(raw)
    except ValueError:
        pages = 0
    if pages < 1:
        raise ValueError(f"SEGITO_WAL_CHECKPOINT_PAGES must be a whole number of pages, at least 1; got {raw!r}")
    return pages


DEFAULT_SESSION_MAX_HOURS = 12.0  # a working day and a bit: a login does not outlive the day it was made


def session_max_age() -> dt.timedelta:
    """``SEGITO_SESSION_MAX_HOURS``: how long a login lasts at most, however active (idle expiry is separate,
    ``SEGITO_SESSION_MINUTES``); default 12 hours. Checked on the server (engine/people/login_sessions.py)."""
    raw = os.environ.get("SEGITO_SESSION_MAX_HOURS", "").strip()
    if not raw:
        return dt.timedelta(hours=DEFAULT_SESSION_MAX_HOURS)
    try:
        hours = float(raw)
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 366:
        raise ValueError(f"SEGITO_SESSION_MAX_HOURS must be a number of hours above 0; got {raw!r}")
    return dt.timedelta(hours=hours)


def speedups_enabled() -> bool:
    """``SEGITO_SPEEDUPS``: ``0`` runs SpiffWorkflow's own walks, task ids, state-change log and state converters
    instead of the engine's faster replacements of them (engine/speedups/; same results, only slower); default on."""
    raw = os.environ.get("SEGITO_SPEEDUPS", "").strip()
    if raw not in ("", "0", "1"):
        raise ValueError(f"SEGITO_SPEEDUPS must be 0 (off) or 1 (on); got {raw!r}")
    return raw != "0"
