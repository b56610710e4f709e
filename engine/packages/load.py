"""Reading a package into memory: from a folder (bpmn/<service>/) or from an uploaded zip archive.

An archive is read defensively: its size, number of files and unpacked size are bounded, each file is read no
further than its bound whatever the archive claims (zip bombs), and a name that could leave the package
(absolute, '..', a drive, a link) refuses the whole archive (zip slip)."""
from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import PackageInvalid
from .parts import Package

MAX_ARCHIVE_BYTES = 20 * 1024 * 1024
MAX_FILES = 500
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_PACKAGE_BYTES = 50 * 1024 * 1024
# What operating systems add to folders and archives on their own; never part of a package.
_JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db", "__pycache__")


def _skipped(parts: tuple[str, ...]) -> bool:
    return any(p in _JUNK or p.startswith(".") for p in parts)


def from_folder(folder: str | Path) -> Package:
    """Every file under ``folder`` (hidden files aside) by its path relative to it."""
    root = Path(folder)
    if not root.is_dir():
        raise PackageInvalid(f"{folder} is not a folder", [{"file": str(folder), "line": None,
                                                              "message": "not a folder", "code": "not_a_folder",
                                                              "params": {}}])
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if _skipped(rel.parts) or path.is_dir():
            continue
        if path.is_symlink():
            _refuse(rel.as_posix(), "a symbolic link; a package holds plain files only", "package_symlink")
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_PACKAGE_BYTES or len(files) >= MAX_FILES:
            _refuse(rel.as_posix(), f"the package exceeds its bounds ({MAX_FILES} files, {MAX_FILE_BYTES} bytes "
                                    f"a file, {MAX_PACKAGE_BYTES} bytes in all)", "package_too_large",
                    files=MAX_FILES, file_bytes=MAX_FILE_BYTES, total_bytes=MAX_PACKAGE_BYTES)
        files[rel.as_posix()] = path.read_bytes()
    return Package(key=root.name, folder_name=root.name, manifest={}, files=files)


def _refuse(name: str, why: str, code: str, **params) -> None:
    raise PackageInvalid(f"{name}: {why}", [{"file": name, "line": None, "message": why, "code": code,
                                             "params": params}])


def _safe_name(name: str) -> tuple[str, ...]:
    """The parts of an archive member's name, or a refusal when it could point outside the package."""
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        _refuse(name, "an absolute or Windows-style path; names in a package archive are relative with '/'",
                "archive_path_absolute")
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in name.split("/")) or not parts:
        _refuse(name, "a path with '..' or '.' (it could leave the package folder)", "archive_path_dots")
    return parts


def from_zip(data: bytes, name: str = "package.zip") -> Package:
    """A package from a zip archive holding the package folder's files, at its root or in one top folder."""
    if len(data) > MAX_ARCHIVE_BYTES:
        _refuse(name, f"the archive is larger than {MAX_ARCHIVE_BYTES} bytes", "archive_too_large",
                limit=MAX_ARCHIVE_BYTES)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as e:
        _refuse(name, f"not a zip archive ({e})", "archive_not_zip", detail=str(e))
    members = archive.infolist()
    if len(members) > MAX_FILES:
        _refuse(name, f"the archive holds {len(members)} entries, more than {MAX_FILES}", "archive_too_many",
                count=len(members), limit=MAX_FILES)
    entries: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = []
    for info in members:
        parts = _safe_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            _refuse(info.filename, "a symbolic link; a package holds plain files only", "package_symlink")
        if info.is_dir() or _skipped(parts):
            continue
        if info.flag_bits & 0x1:
            _refuse(info.filename, "encrypted; upload an archive without a password", "archive_encrypted")
        entries.append((parts, info))
    tops = {parts[0] for parts, _ in entries}
    strip = 1 if len(tops) == 1 and all(len(parts) > 1 for parts, _ in entries) else 0
    files: dict[str, bytes] = {}
    total = 0
    for parts, info in entries:
        rel = "/".join(parts[strip:])
        if rel in files:
            _refuse(info.filename, "appears twice in the archive", "archive_entry_twice")
        try:
            with archive.open(info) as member:
                # Read one byte past the bound: the header's size is the archive's claim, not a fact.
                content = member.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as e:
            _refuse(info.filename, f"cannot be unpacked ({e})", "archive_entry_unreadable", detail=str(e))
        if len(content) > MAX_FILE_BYTES:
            _refuse(info.filename, f"unpacks to more than {MAX_FILE_BYTES} bytes", "archive_entry_too_large",
                    limit=MAX_FILE_BYTES)
        total += len(content)
        if total > MAX_PACKAGE_BYTES:
            _refuse(info.filename, f"the archive unpacks to more than {MAX_PACKAGE_BYTES} bytes",
                    "archive_unpacks_too_large", limit=MAX_PACKAGE_BYTES)
        files[rel] = content
    folder = sorted(tops)[0] if strip else Path(name).stem
    return Package(key=folder, folder_name=folder, manifest={}, files=files)


def from_files(files: dict[str, bytes], name: str) -> Package:
    """A package from files already kept (a stored package version), checked again like any other."""
    return Package(key=name, folder_name=name, manifest={}, files=dict(files))
