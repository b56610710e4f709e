"""Rows of the timer machinery: one row per due time of a waiting BPMN timer event, and calendar feed tokens.

The workflow state (SpiffWorkflow's serialisation) is the truth about which timer events wait; these rows are
its index, written in the same transaction by the observer in engine/timers/timers.py, so a worker can find what is
due with one indexed query instead of loading every case.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models import Base, BigId, UtcDateTime

# scheduled: waiting for its due time (or for a retry after a failure); fired: done, exactly once;
# cancelled: its event no longer waits (the case moved on, the plan changed); incident: failed after retries.
TIMER_STATES = ("scheduled", "fired", "cancelled", "incident")


class Timer(Base):
    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(300))  # what happens when it fires, e.g. "Contact 3"
    purpose: Mapped[str | None] = mapped_column(String(40))  # the BPMN's word for it, or None (agenda and caseload)
    # The timer's property ``planned``: the days that follow this one in its plan ([{date, label}]), shown by the
    # agenda and the calendar feed while only this timer waits (docs/timers.md, "Planned days").
    planned: Mapped[list | None] = mapped_column(JSON)
    event_kind: Mapped[str] = mapped_column(String(20))  # date | duration | cycle
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    run_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)  # due_at, or later after a failed attempt
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claim_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    fired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    fired_by: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        UniqueConstraint("spiff_task_id", "due_at", name="uq_timers_task_due"),
        Index("ix_timers_runnable", "state", "run_at"),
        Index("ix_timers_case_state", "case_id", "state"),
        Index("ix_timers_due_at", "due_at"),
    )


class CalendarFeed(Base):
    """A user's secret iCalendar feed token. The feed is looked up by its SHA-256; the token is kept too, so the
    agenda page can show the link every time (engine/cases/agenda.py). Resetting replaces both."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class LoggedTime(Base):
    """The time logged with a client in one week of one case, for a caseload that limits it (docs/services.md,
    ``caseloads.<key>.time``): kept in step with the case's log by engine/timers/time_limits.py, read by the
    caseload page."""

    __tablename__ = "logged_time"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    caseload: Mapped[str] = mapped_column(String(100), primary_key=True)
    week_start: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # the Monday
    client_id: Mapped[int | None] = mapped_column(BigId, index=True)
    caseworker_id: Mapped[int | None] = mapped_column(BigId, index=True)
    minutes: Mapped[int] = mapped_column(Integer)
