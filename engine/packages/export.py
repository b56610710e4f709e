"""Exporting a package version: its files as deployed, as a zip that deploys again as it is (docs/services.md)."""
from __future__ import annotations

import io
import zipfile

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Gone, NotFound
from ..store import audit
from ..store.models import PackageFile, PackageVersion

# A fixed time for every entry: the same version exports to the same bytes.
_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)


def export(session: Session, package_key: str, version: int, actor: str, at) -> tuple[str, bytes]:
    """Inside the caller's transaction: (file name, zip bytes) of one package version, audited. The files sit in
    one top folder named after the package, as `POST /api/packages` and `segito deploy` take them."""
    row = session.execute(select(PackageVersion).where(PackageVersion.package_key == package_key,
                                                       PackageVersion.version == version)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"package '{package_key}' has no version {version}")
    files = session.execute(select(PackageFile.path, PackageFile.content)
                            .where(PackageFile.package_version_id == row.id).order_by(PackageFile.path)).all()
    if not files:
        raise Gone(f"version {version} of package '{package_key}' was deployed before package files were kept; "
                   "deploy its folder again to export it")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            archive.writestr(zipfile.ZipInfo(f"{package_key}/{f.path}", _ENTRY_TIME), f.content,
                             zipfile.ZIP_DEFLATED)
    audit.record_system_event(session, actor, at, audit.PACKAGE_EXPORTED,
                              {"package": package_key, "version": version, "content_hash": row.content_hash,
                               "files": [f.path for f in files]})
    return f"{package_key}-{version}.zip", buffer.getvalue()
