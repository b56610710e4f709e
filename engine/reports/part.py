"""Reports as a part of a service package: ``reports/*.yaml`` checked with the package and stored with its
version (docs/reports.md, docs/services.md "Parts")."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict
from ..packages.parts import Package, PackagePart, PackageProblem
from ..store.models import PackageVersion
from . import grammar
from .models import ReportDefinition


def check(package: Package) -> list[PackageProblem]:
    return grammar.check_package(package)[1]


def store(session: Session, package: Package, package_version_id: int) -> None:
    """Each report of the package with its version. A report key belongs to one package: another package's
    report of the same key is refused."""
    reports, problems = grammar.check_package(package)
    if problems:  # checked before; a package reaching here is valid
        raise Conflict("; ".join(str(p) for p in problems))
    for file, definition in reports:
        owner = session.execute(
            select(PackageVersion.package_key).join(ReportDefinition,
                                                    ReportDefinition.package_version_id == PackageVersion.id)
            .where(ReportDefinition.report_key == definition["key"], PackageVersion.package_key != package.key)
            .limit(1)).scalar()
        if owner is not None:
            raise Conflict(f"{file}: report '{definition['key']}' belongs to package '{owner}'")
        session.add(ReportDefinition(package_version_id=package_version_id, report_key=definition["key"],
                                     file=file, definition=definition))
    session.flush()


PART = PackagePart("reports", check, store)
