"""Rows kept for the indicators (docs/indicators.md): one row per case with the facts the seed's indicators read.

They are a projection of each case's current data, rewritten by ``engine/case_facts.py`` inside the command
that changed the data, so the indicators are plain indexed queries and never load a workflow. The seed field
numbers are those of the process form of seed 003 (see docs/indicators.md).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, BigId, UtcDateTime


class CaseFact(Base):
    """The facts of one case of a process that records the process form (family care)."""

    __tablename__ = "case_facts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    caseworker_id: Mapped[int | None] = mapped_column(BigId)
    client_status: Mapped[str | None] = mapped_column(String(10))  # intake field 3: new | returning
    taken_into_care: Mapped[dt.date | None] = mapped_column(Date)  # field 1
    household_size: Mapped[int | None] = mapped_column(Integer)  # field 7
    total_income: Mapped[int | None] = mapped_column(BigId)  # field 39
    per_capita_income: Mapped[float | None] = mapped_column(Float)  # field 40 (None when 7 is empty or 0)
    agreement_date: Mapped[dt.date | None] = mapped_column(Date)  # field 46
    closure_date: Mapped[dt.date | None] = mapped_column(Date)  # field 52, once the closure took effect
    closure_reason: Mapped[str | None] = mapped_column(String(40))  # field 53
    follow_up: Mapped[bool | None] = mapped_column(Boolean)  # field 54
    care_days: Mapped[int | None] = mapped_column(Integer)  # 52 − 1 in days, for I12
    digest: Mapped[str] = mapped_column(String(64))  # of everything above: unchanged data writes nothing
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # I1 reads "taken into care by the end, not closed before the start": both ends are range scans.
        Index("ix_case_facts_care", "taken_into_care", "closure_date"),
        # Closures of the period (I12–I16, by reason, caseworker and month) are read from this index alone.
        Index("ix_case_facts_closure", "closure_date", "caseworker_id", "closure_reason", "care_days", "follow_up",
              "client_id"),
        # One caseworker's cases by date (her report, her months, the drill-down).
        Index("ix_case_facts_caseworker", "caseworker_id", "taken_into_care", "closure_date", "client_id"),
        # The per-caseworker breakdown (processes, distinct clients) from the index alone, each caseworker's
        # clients in order, so counting the distinct ones inserts them in order (migration 0006).
        Index("ix_case_facts_caseworker_clients", "caseworker_id", "client_id", "taken_into_care", "closure_date"),
    )


class CaseProblemType(Base):
    """Field 6 (multi-select): one row per problem type ticked."""

    __tablename__ = "case_problem_types"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    problem_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Copies of the case's facts that I6/I7/I17 read, so they count distinct clients per problem type from the
    # index below alone, without joining case_facts (the join and its per-group sorts were most of the report's
    # time). ``engine/case_facts.py`` rewrites them whenever the case's facts change.
    client_id: Mapped[int | None] = mapped_column(BigId)
    caseworker_id: Mapped[int | None] = mapped_column(BigId)
    process_key: Mapped[str | None] = mapped_column(String(100))
    taken_into_care: Mapped[dt.date | None] = mapped_column(Date)
    closure_date: Mapped[dt.date | None] = mapped_column(Date)
    agreed: Mapped[bool] = mapped_column(Boolean, default=False)  # field 46 is filled

    __table_args__ = (
        # Grouped by problem type with the clients in order: counting distinct clients needs no sort.
        Index("ix_case_problem_types_period", "problem_type", "client_id", "taken_into_care", "closure_date",
              "agreed", "caseworker_id"),
    )


class CaseMeeting(Base):
    """Field 47: one row per meeting with the client, with its date."""

    __tablename__ = "case_meetings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    met_on: Mapped[dt.date] = mapped_column(Date)
    caseworker_id: Mapped[int | None] = mapped_column(BigId)
    process_key: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_case_meetings_on", "met_on", "caseworker_id"),)


class CaseAction(Base):
    """Field 50: one row per action taken on the client's behalf, with its date."""

    __tablename__ = "case_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    acted_on: Mapped[dt.date] = mapped_column(Date)
    caseworker_id: Mapped[int | None] = mapped_column(BigId)
    process_key: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_case_actions_on", "acted_on", "caseworker_id"),)


class RetentionCase(Base):
    """One job-retention follow-up (seed 000): who, since when, where, and the day-180 outcome."""

    __tablename__ = "retention_cases"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    mentor_id: Mapped[int | None] = mapped_column(BigId)
    sex: Mapped[str | None] = mapped_column(String(20))  # only when a form records it (none does yet)
    employment_start: Mapped[dt.date | None] = mapped_column(Date)  # S, the first day of employment
    employer_name: Mapped[str | None] = mapped_column(String(300))
    target_groups: Mapped[str] = mapped_column(String(400), default="")  # codes, comma-separated
    check_date: Mapped[dt.date | None] = mapped_column(Date)  # the day-180 check
    employed_on_day_180: Mapped[bool | None] = mapped_column(Boolean)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)  # the check, or the day the case ended
    digest: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_retention_cases_start", "employment_start", "ended_on"),)


class RetentionVisit(Base):
    """One recorded follow-up visit: whom it reached (client, employer, lay helpers, institutions)."""

    __tablename__ = "retention_visits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    mentor_id: Mapped[int | None] = mapped_column(BigId)
    visit_date: Mapped[dt.date] = mapped_column(Date, index=True)
    with_client: Mapped[bool] = mapped_column(Boolean, default=False)
    with_employer: Mapped[bool] = mapped_column(Boolean, default=False)
    lay_helpers: Mapped[int] = mapped_column(Integer, default=0)
    institution_kinds: Mapped[str] = mapped_column(String(400), default="")  # codes, comma-separated
