"""Deploying packages: checked before the transaction, then stored in one (docs/services.md, "Deploying").

A package version row, a new version of each of its processes pointing at it, and whatever each registered
part stores, commit together or not at all. A package whose files are all unchanged is not stored again.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..definitions import definitions
from ..errors import Conflict, Gone, NotFound, PackageInvalid, ValidationFailed
from ..store import audit
from ..store.models import PackageFile, PackageVersion, ProcessDefinition
from . import settings
from .check import Checked, check
from .load import from_files, from_folder
from .manifest import MANIFEST, Lines
from .parts import PARTS, Package, PackageProblem


def content_hash(package: Package) -> str:
    h = hashlib.sha256()
    for path in sorted(package.files):
        h.update(path.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(package.files[path]).digest())
    return h.hexdigest()


def _refuse(problems: list[PackageProblem], packages: list[Package]) -> None:
    names = ", ".join(p.folder_name for p in packages)
    shown = "; ".join(str(p) for p in problems[:3])
    raise PackageInvalid(f"package {names} was refused ({len(problems)} problem(s)): {shown}",
                         [p.to_dict() for p in problems])


def check_all(packages: list[Package]) -> list[Checked]:
    """Check each package, and raise PackageInvalid naming every problem of every one of them."""
    checked = [check(p) for p in packages]
    problems = [dataclasses.replace(p, file=f"{c.package.folder_name}/{p.file}")
                for c in checked for p in c.problems] if len(packages) > 1 else [p for c in checked
                                                                                   for p in c.problems]
    keys = [c.package.key for c in checked]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(PackageProblem(MANIFEST, None, f"two packages have the key '{key}'", "package_key_twice",
                                       {"key": key}))
    if problems:
        _refuse(problems, packages)
    return checked


def _latest_manifests(session: Session) -> dict[str, dict]:
    """process key -> manifest of the package its latest version belongs to."""
    newest = (select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
              .group_by(ProcessDefinition.process_key).subquery())
    rows = session.execute(
        select(ProcessDefinition.process_key, PackageVersion.package_key, PackageVersion.manifest)
        .join(newest, (newest.c.process_key == ProcessDefinition.process_key)
              & (newest.c.version == ProcessDefinition.version))
        .join(PackageVersion, PackageVersion.id == ProcessDefinition.package_version_id)).all()
    return {r.process_key: {"package": r.package_key, "manifest": r.manifest} for r in rows}


def _cross_package_problems(session: Session, checked: list[Checked]) -> list[PackageProblem]:
    """A process belongs to one package; a start 'from' another package's process names one that registers."""
    deployed = _latest_manifests(session)
    together = {key: c.package.manifest for c in checked for key in c.package.manifest["processes"]}
    problems = []
    # A caseload several packages add to is one person's load: it has one role (docs/services.md, "caseloads").
    others = {c.package.key for c in checked}
    roles = {name: (spec["role"], m["package"]) for m in deployed.values() if m["package"] not in others
             for name, spec in (m["manifest"].get("caseloads") or {}).items()}
    for c in checked:
        for name, spec in (c.package.manifest.get("caseloads") or {}).items():
            role, owner = roles.setdefault(name, (spec["role"], c.package.key))
            if role != spec["role"]:
                problems.append(PackageProblem(MANIFEST, c.lines.of("caseloads", name, "role"),
                                               f"caseloads.{name}.role: package '{owner}' counts caseload '{name}' "
                                               f"for role '{role}'", "caseload_role_differs",
                                               {"path": f"caseloads.{name}.role", "package": owner, "caseload": name,
                                                "role": role}))
    for c in checked:
        manifest = c.package.manifest
        for key, spec in manifest["processes"].items():
            owner = deployed.get(key)
            if owner is not None and owner["package"] != manifest["key"]:
                problems.append(PackageProblem(MANIFEST, c.lines.of("processes", key),
                                               f"processes.{key}: process '{key}' belongs to package "
                                               f"'{owner['package']}'", "process_of_other_package",
                                               {"path": f"processes.{key}", "process": key,
                                                "package": owner["package"]}))
            source = spec["start"]["from"]
            if source == "nothing" or source in manifest["processes"]:
                continue
            found = together.get(source) or (deployed.get(source) or {}).get("manifest")
            if found is None or settings.registration(found, source) is None:
                why = "is not deployed" if found is None else "registers no client"
                problems.append(PackageProblem(MANIFEST, c.lines.of("processes", key, "start", "from"),
                                               f"processes.{key}.start.from: process '{source}' {why}",
                                               "start_from_not_deployed" if found is None else
                                               "start_from_not_registering",
                                               {"path": f"processes.{key}.start.from", "process": source}))
    return problems


def store(session: Session, checked: list[Checked], actor: str, at, note: str | None = None,
          draft: bool = False) -> list[dict]:
    """Inside the caller's transaction: every checked package as a new version (unless unchanged), each new
    package and process version keeping ``note``, the deployer's why. A ``draft`` is stored (files, manifest,
    note) but not live: no process version points at it until ``publish``."""
    note = definitions.version_note(note)
    problems = _cross_package_problems(session, checked)
    if problems:
        _refuse(problems, [c.package for c in checked])
    results = []
    for c in checked:
        package = c.package
        digest = content_hash(package)
        latest = session.execute(select(PackageVersion).where(PackageVersion.package_key == package.key)
                                 .order_by(PackageVersion.version.desc()).limit(1)).scalar_one_or_none()
        if latest is not None and latest.content_hash == digest:
            # Unchanged: nothing stored, and its warnings were shown when it was (as _all_unchanged answers).
            results.append({"package": package.key, "version": latest.version, "created": False,
                            "package_version_id": latest.id, "processes": [], "draft": latest.draft})
            continue
        row = PackageVersion(package_key=package.key, version=(latest.version + 1) if latest else 1,
                             name=package.manifest["name"]["en"], content_hash=digest, manifest=package.manifest,
                             files=sorted(package.files), deployed_at=at, deployed_by=actor, note=note,
                             draft=draft)
        session.add(row)
        session.flush()
        # The bytes as deployed, so this version can be exported or published later (export.py, publish).
        session.add_all([PackageFile(package_version_id=row.id, path=path, content=data)
                         for path, data in sorted(package.files.items())])
        payload = {"package": package.key, "version": row.version, "content_hash": digest,
                   "files": sorted(package.files)}
        if note is not None:
            payload["note"] = note
        if draft:
            audit.record_system_event(session, actor, at, audit.PACKAGE_DRAFT_SAVED, payload)
            processes: list[dict] = []
        else:
            processes = _make_live(session, c, row, actor, at, note)
            for part in PARTS:
                part.store(session, package, row.id)
            audit.record_system_event(session, actor, at, audit.PACKAGE_DEPLOYED, {**payload, "processes": processes})
        results.append({"package": package.key, "version": row.version, "created": True,
                        "package_version_id": row.id, "processes": processes, "draft": draft,
                        "warnings": [w.to_dict() for w in c.warnings]})  # shown, never refusing
    return results


def _make_live(session: Session, c: Checked, row: PackageVersion, actor: str, at, note: str | None) -> list[dict]:
    """A new version of each process of the package pointing at ``row``: new cases start on them."""
    package = c.package
    lane_roles = settings.lane_roles(package.manifest)
    processes = []
    for key in package.manifest["processes"]:
        upload = c.processes[key].upload
        try:
            definition, created = definitions.deploy(session, upload, actor, at, row.id, lane_roles, note)
        except Conflict as e:
            raise Conflict(f"package '{package.key}': {e.message}") from e
        processes.append({"process_key": definition.process_key, "version": definition.version,
                          "created": created})
    return processes


def _live_version(session: Session, package_key: str) -> int | None:
    """The package version new cases start on: the one the newest version of its processes points at."""
    newest = (select(ProcessDefinition.process_key, func.max(ProcessDefinition.version).label("version"))
              .group_by(ProcessDefinition.process_key).subquery())
    return session.execute(
        select(PackageVersion.version)
        .join(ProcessDefinition, ProcessDefinition.package_version_id == PackageVersion.id)
        .join(newest, (newest.c.process_key == ProcessDefinition.process_key)
              & (newest.c.version == ProcessDefinition.version))
        .where(PackageVersion.package_key == package_key).order_by(PackageVersion.version.desc()).limit(1)
    ).scalar_one_or_none()


def _stored_package(session: Session, package_key: str, version: int) -> tuple[PackageVersion, Package]:
    row = session.execute(select(PackageVersion).where(PackageVersion.package_key == package_key,
                                                       PackageVersion.version == version)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"package '{package_key}' has no version {version}")
    files = {r.path: r.content for r in session.execute(select(PackageFile.path, PackageFile.content)
                                                        .where(PackageFile.package_version_id == row.id))}
    if not files:
        raise Gone(f"version {version} of package '{package_key}' was deployed before package files were kept; "
                   "deploy its folder again")
    return row, from_files(files, package_key)


def package_history(session: Session, package_key: str) -> dict:
    """Every version of a package, newest first: drafts, and which one new cases start on (``live``)."""
    live = _live_version(session, package_key)
    rows = session.execute(select(PackageVersion.version, PackageVersion.draft, PackageVersion.deployed_at,
                                  PackageVersion.deployed_by, PackageVersion.note)
                           .where(PackageVersion.package_key == package_key)
                           .order_by(PackageVersion.version.desc())).all()
    return {"package": package_key, "live": live,
            "versions": [{"version": r.version, "draft": r.draft, "live": r.version == live,
                          "deployed_at": r.deployed_at, "deployed_by": r.deployed_by, "note": r.note}
                         for r in rows]}


def publish(runtime, package_key: str, version: int, actor: str, at, note: str | None = None) -> dict:
    """Make package version ``version`` the one new cases start on: a draft goes live, an earlier version goes
    live again (a roll-back). Checked again first (outside the transaction), as a deploy is; running cases stay
    on their versions."""
    note = definitions.version_note(note)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed(f"'version' must be a whole number, not {version!r}",
                               [{"field": "version", "message": "must be a whole number"}])
    with runtime.db.reading() as session:
        _, package = _stored_package(session, package_key, version)
    [checked] = check_all([package])
    with runtime.db.unit_of_work() as session:
        row, _ = _stored_package(session, package_key, version)
        live = _live_version(session, package_key)
        if live == version:
            raise Conflict(f"version {version} of package '{package_key}' is already the one new cases start on")
        problems = _cross_package_problems(session, [checked])
        if problems:
            _refuse(problems, [package])
        processes = _make_live(session, checked, row, actor, at, note)
        if row.draft:
            # What parts store belongs to the package version; an earlier version going live again has it.
            for part in PARTS:
                part.store(session, checked.package, row.id)
        was_draft = row.draft
        row.draft = False
        payload = {"package": package_key, "version": version, "previous": live, "processes": processes,
                   "roll_back": not was_draft}
        if note is not None:
            payload["note"] = note
        audit.record_system_event(session, actor, at, audit.PACKAGE_PUBLISHED, payload)
        return {"package": package_key, "version": version, "previous": live, "roll_back": not was_draft,
                "processes": processes, "warnings": [w.to_dict() for w in checked.warnings]}


def deploy(runtime, packages: list[Package], actor: str, at, note: str | None = None,
           draft: bool = False) -> list[dict]:
    """Check, then store in one transaction. Checking parses and evaluates, which may take seconds, so it runs
    before the unit of work and does not hold the writer lock."""
    definitions.version_note(note)  # a bad note is refused before the seconds of checking
    with runtime.db.reading() as session:
        unchanged = _all_unchanged(session, packages)
    if unchanged is not None:
        return unchanged
    checked = check_all(packages)
    with runtime.db.unit_of_work() as session:
        return store(session, checked, actor, at, note, draft)


def _all_unchanged(session: Session, packages: list[Package]) -> list[dict] | None:
    """What ``store`` would answer when every package's files are those of its package's latest stored version
    (each comes back with ``created`` false), or None when one of them differs: then the whole deploy checks
    and stores as usual.

    The stored version was checked when it was stored, and its manifest is the one these same bytes parse to, so
    nothing is parsed again: an unchanged start-up (``setup.initialise``) reads one table instead of parsing
    every package (docs/services.md, "Deploying"). What the unchanged packages declare is still checked against
    the other packages deployed since; a problem there sends the deploy down the usual path, which refuses it
    naming the line."""
    newest = (select(PackageVersion.package_key, func.max(PackageVersion.version).label("version"))
              .group_by(PackageVersion.package_key).subquery())
    latest = {row.content_hash: row for row in session.execute(
        select(PackageVersion).join(newest, (newest.c.package_key == PackageVersion.package_key)
                                    & (newest.c.version == PackageVersion.version))).scalars()}
    found = [latest.get(content_hash(package)) for package in packages]
    rows = [row for row in found if row is not None]
    if len(rows) < len(packages) or len({row.package_key for row in rows}) < len(rows):
        return None  # a package that changed, or two of one key: checked, and stored or refused, as usual
    for package, row in zip(packages, rows):
        package.key, package.manifest = row.package_key, row.manifest  # as checking would have set them
    if _cross_package_problems(session, [Checked(package, Lines(), {}, []) for package in packages]):
        return None
    return [{"package": row.package_key, "version": row.version, "created": False, "package_version_id": row.id,
             "processes": [], "draft": row.draft} for row in rows]


def bundled(bpmn_dir: Path) -> list[Package]:
    """The packages shipped with Segito: each folder of ``bpmn_dir`` that has a manifest."""
    return [from_folder(d) for d in sorted(bpmn_dir.iterdir()) if (d / MANIFEST).is_file()]


def list_versions(session: Session) -> list[dict]:
    """Every deployed package version, with the process versions deployed with it."""
    processes: dict[int, list[dict]] = {}
    for r in session.execute(select(ProcessDefinition.package_version_id, ProcessDefinition.process_key,
                                    ProcessDefinition.version)
                             .where(ProcessDefinition.package_version_id.is_not(None))
                             .order_by(ProcessDefinition.process_key, ProcessDefinition.version)):
        processes.setdefault(r.package_version_id, []).append({"process_key": r.process_key,
                                                               "version": r.version})
    rows = session.execute(select(PackageVersion.id, PackageVersion.package_key, PackageVersion.version,
                                  PackageVersion.manifest, PackageVersion.deployed_at, PackageVersion.deployed_by,
                                  PackageVersion.content_hash, PackageVersion.note)
                           .order_by(PackageVersion.package_key, PackageVersion.version)).all()
    return [{"package": r.package_key, "version": r.version, "name": r.manifest["name"],
             "deployed_at": r.deployed_at.isoformat(), "deployed_by": r.deployed_by,
             "content_hash": r.content_hash, "note": r.note, "processes": processes.get(r.id, [])} for r in rows]
