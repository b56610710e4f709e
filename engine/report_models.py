"""Rows kept for the job-retention figures (seed 000): one row per follow-up and one per recorded visit, rewritten
by ``engine/followup_indicators.py`` inside the command that changed the case (docs/indicators.md).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, BigId


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
