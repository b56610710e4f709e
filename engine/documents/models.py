"""The rows of step documents: each package version's document declarations and templates, and every document
of a case, produced or uploaded, one row per version (docs/documents.md)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, BigId, UtcDateTime


class PackageDocuments(Base):
    """``documents/`` of one deployed package version: the checked declarations and the template files' text, so
    a case produces its documents from the version it runs on, whatever is deployed later."""

    __tablename__ = "package_documents"

    package_version_id: Mapped[int] = mapped_column(ForeignKey("package_versions.id"), primary_key=True)
    declarations: Mapped[list] = mapped_column(JSON)
    templates: Mapped[dict] = mapped_column(JSON)  # file name in documents/ -> its text


class CaseDocument(Base):
    """One version of one document of a case: ``kind`` ``produced`` (a PDF filled from the case's data) or
    ``signed`` (a copy uploaded, its type found from its content). The bytes live in the database, never under
    the web root, and are read only through the case's access rules."""

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "document_key", "kind", "version"),
                      Index("ix_case_documents_case", "case_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    task_id: Mapped[int | None] = mapped_column(BigId)  # the step it was produced at or attached to
    step: Mapped[str | None] = mapped_column(String(20))
    bpmn_id: Mapped[str | None] = mapped_column(String(100))
    document_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # produced | signed
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(5))
    media_type: Mapped[str] = mapped_column(String(40))
    file_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    source_hash: Mapped[str | None] = mapped_column(String(64))  # what a produced version was made from
    content: Mapped[bytes] = mapped_column(LargeBinary)
    produced_by: Mapped[str] = mapped_column(String(80))
    produced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
