"""The rows of declared reports: each report stored with its package version, one row per case a report follows
(its period days and scalar facts) and one per entry of its collections (dated records, listed values, completed
steps). Written by ``engine/reports/facts.py`` inside the command that changed the case (docs/reports.md)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, BigId, UtcDateTime

# Facts as JSON; on PostgreSQL as jsonb, which a query reads without parsing the text again for every fact.
Facts = JSON().with_variant(JSONB(), "postgresql")


class ReportDefinition(Base):
    """One report file of a deployed package version, checked and normalised (``grammar.normalised``)."""

    __tablename__ = "report_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    package_version_id: Mapped[int] = mapped_column(ForeignKey("package_versions.id"), index=True)
    report_key: Mapped[str] = mapped_column(String(100), index=True)
    file: Mapped[str] = mapped_column(String(300))
    definition: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("package_version_id", "report_key"),)


class ReportCase(Base):
    """A case as one report sees it: the days it enters and leaves the report, and its scalar facts."""

    __tablename__ = "report_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_key: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    process_key: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int | None] = mapped_column(BigId)
    caseworker_id: Mapped[int | None] = mapped_column(BigId)
    start_day: Mapped[dt.date | None] = mapped_column(Date)
    end_day: Mapped[dt.date | None] = mapped_column(Date)
    facts: Mapped[dict] = mapped_column(Facts)
    digest: Mapped[str] = mapped_column(String(64))  # of everything above: unchanged facts write nothing
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("report_key", "case_id"),
        # "active in the period" reads start <= to and (end is null or end >= from); "started"/"ended" ranges.
        Index("ix_report_cases_start", "report_key", "start_day", "end_day"),
        Index("ix_report_cases_end", "report_key", "end_day", "caseworker_id"),
        Index("ix_report_cases_caseworker", "report_key", "caseworker_id", "start_day", "end_day", "client_id"),
    )


class ReportEntry(Base):
    """One entry of a case's collection: a dated record (a meeting), a listed value (a problem type), or a
    completed step (a visit). ``value`` is the entry's value for a list of values.

    Each entry carries copies of its case's period days and of the case facts that figures over entries read
    (``carried_facts`` in engine/reports/compute.py, e.g. "with agreement" per problem type), so those figures read
    the entries alone, from one index, without joining every entry to its case row."""

    __tablename__ = "report_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_key: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    collection: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    day: Mapped[dt.date | None] = mapped_column(Date)
    caseworker_id: Mapped[int | None] = mapped_column(BigId)
    client_id: Mapped[int | None] = mapped_column(BigId)
    value: Mapped[str | None] = mapped_column(String(300))
    fields: Mapped[dict] = mapped_column(Facts)
    start_day: Mapped[dt.date | None] = mapped_column(Date)  # the case's, copied
    end_day: Mapped[dt.date | None] = mapped_column(Date)
    case_facts: Mapped[dict | None] = mapped_column(Facts)  # the carried case facts (few, small)

    __table_args__ = (
        Index("ix_report_entries_case", "case_id", "report_key", "collection"),
        # Entries dated in the period, by caseworker, from the index alone.
        Index("ix_report_entries_day", "report_key", "collection", "day", "caseworker_id"),
        # Grouped by value with the case's period and carried facts beside the clients (and the caseworker, for
        # one caseworker's report): per problem type, active clients with and without an agreement are counted
        # from the index alone.
        Index("ix_report_entries_value", "report_key", "collection", "value", "start_day", "end_day", "client_id",
              "case_id", "case_facts", "caseworker_id"),
    )
