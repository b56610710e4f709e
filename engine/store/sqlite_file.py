"""A SQLite database file, and the directory made for it, created readable by their owner only.

The file holds clients' personal data. SQLite creates a missing database file with mode 0644 (less the umask),
and its ``-wal`` and ``-shm`` files with the mode of the database file; so the file is created here first, with
0600, before SQLite opens it, and a missing directory with 0700 (``instance/`` of the default setup). The writer
lock file beside it is created with 0600 too (engine/store/writer_lock.py). Existing files and directories keep their
mode: an administrator may have chosen it.
"""
from __future__ import annotations

import os

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def database_path(url) -> str | None:
    """The file of a SQLite file database URL (a SQLAlchemy URL); None for memory databases, ``file:`` URIs and
    other databases."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:") or (url.query or {}).get("mode") == "memory":
        return None
    return os.path.abspath(url.database)


def make_directory(path: str) -> None:
    """The directory, with its missing parents, the last one created with 0700 (whatever the umask)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path, DIRECTORY_MODE)
    except FileExistsError:  # another process made it meanwhile
        return
    os.chmod(path, DIRECTORY_MODE)


def prepare(url) -> None:
    """Before SQLite opens a database file: its directory and an empty file, owner-only, if they are missing."""
    path = database_path(url)
    if path is None:
        return
    make_directory(os.path.dirname(path))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)  # an empty file is a valid empty database to SQLite
