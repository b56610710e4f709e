"""Documents as a part of a service package: ``documents/`` checked with the package and stored with its version
(docs/documents.md, docs/services.md "Parts")."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import Conflict
from ..packages.parts import Package, PackagePart, PackageProblem
from . import declarations, render
from .models import PackageDocuments


def check(package: Package) -> list[PackageProblem]:
    return declarations.check_package(package)[2]


def store(session: Session, package: Package, package_version_id: int) -> None:
    """The declarations, each with the schemas of the fields it names (so a case reads labels and options of the
    version it runs on), and the templates' text."""
    found, templates, problems = declarations.check_package(package)
    if problems:  # checked before; a package reaching here is valid
        raise Conflict("; ".join(str(p) for p in problems))
    if not found:
        return
    fields = declarations.package_fields(package)
    stored = [{**d, "schemas": declarations.document_schemas(package, d, fields),
               "service_name": {lang: render.localised(package.manifest.get("name"), lang, package.key)
                                for lang in declarations.LANGUAGES},
               "caseworker_title": {lang: render.caseworker_title(package.manifest, lang)
                                    for lang in declarations.LANGUAGES}} for d in found]
    session.add(PackageDocuments(package_version_id=package_version_id, declarations=stored, templates=templates))
    session.flush()


PART = PackagePart("documents", check, store)
