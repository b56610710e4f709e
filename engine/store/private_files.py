"""Files that hold personal data — backups, exports, a person's data — written readable by their owner only.

Whatever the process's umask, a file written here has mode 0600 and a directory made for it 0700
(engine/store/sqlite_file.py does the same for the database file). An existing file is overwritten only when
asked, and takes 0600 before anything is written into it: it may have been created wider by someone else.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ValidationFailed
from .sqlite_file import FILE_MODE, make_directory

# Added to the process's umask by the `segito` command (engine/cli.py): whatever else the process creates
# (a log, a file SQLite or a library makes) is not readable by others either.
UMASK = 0o077


def tighten_umask() -> None:
    """Add 077 to the process's umask (group and others lose every bit)."""
    os.umask(os.umask(UMASK) | UMASK)


def open_private(path: str | os.PathLike, overwrite: bool = False) -> int:
    """A file descriptor open for writing a new (or, with ``overwrite``, emptied) file of mode 0600."""
    target = Path(path)
    if target.is_dir():
        raise ValidationFailed(f"'{target}' is a directory; name a file", [{"field": "path", "message": "a directory"}])
    if target.parent and not target.parent.exists():
        make_directory(str(target.parent.resolve()))
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(target, flags, FILE_MODE)
    except FileExistsError:
        raise ValidationFailed(f"'{target}' exists already; choose another name or overwrite it explicitly",
                               [{"field": "path", "message": "exists"}]) from None
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
    return fd


def write_private(path: str | os.PathLike, content: bytes | str, overwrite: bool = True) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` with mode 0600."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd = open_private(path, overwrite=overwrite)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return Path(path)
