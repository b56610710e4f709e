"""The follow-up calendar: visit due dates computed in the service's local calendar, stored as UTC instants.

DOMAIN.md section 5, "Decision — visit due dates": S is the first day of employment (a local date). Month 1
weekly (S+7, 14, 21, 28 days), month 2 fortnightly (S+42, 56 days), months 3–5 monthly (S + 3, 4, 5 months,
the day of the month kept and clamped to a shorter month's last day), and the day-180 check on S+180 days.
A visit is due at the start of its local day and overdue after the end of it. Dates are computed on local
*dates* and only then turned into instants, so a monthly visit stays on the same day of the month across
daylight-saving changes and month lengths.

These functions are also the BPMN service operations ``next_follow_up_visit``, ``replanned_follow_up_visit``,
``day_180_check`` and ``family_follow_up_visits`` (``follow_up_visits``: the first version of the job-retention
process, whose running cases hold all their visits at once) (registered in engine.services), whose results the
processes' timer events wait for.
"""
from __future__ import annotations

import calendar
import datetime as dt
import os
from functools import lru_cache
from zoneinfo import ZoneInfo

from .errors import SegitoError

DEFAULT_TIMEZONE = "Europe/Budapest"
MAX_MONTHS = 6          # seed 000: "maximum 6 hónap"
CHECK_DAY = 180         # seed 000: "a 180. napon foglalkoztatásban állók"

# Intensity of the plan → the visit ladder: (days of the weekly and fortnightly visits, months of monthly ones).
# "standard" is the seed's decreasing intensity; the two others are the plan's "more or less intense" choices.
INTENSITIES = {
    "standard": ((7, 14, 21, 28, 42, 56), (3, 4, 5)),
    "intensive": ((7, 14, 21, 28, 35, 42, 49, 56, 70, 84), (4, 5)),
    "light": ((14, 28), (2, 3, 4, 5)),
}
FREQUENCIES = ("weekly", "fortnightly", "monthly")  # family care, field 55


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def service_zone() -> ZoneInfo:
    """The service's time zone (SEGITO_TIMEZONE, Europe/Budapest by default)."""
    name = os.environ.get("SEGITO_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        return _zone(name)
    except Exception as e:  # ZoneInfoNotFoundError, ValueError for malformed names
        raise SegitoError(f"SEGITO_TIMEZONE: unknown time zone '{name}'") from e


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` + n calendar months, the day of the month clamped (31 January + 3 months = 30 April)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def start_of_day(day: dt.date, zone: ZoneInfo | None = None) -> dt.datetime:
    """The UTC instant at which the local day begins (the due time of a visit on that day)."""
    zone = zone or service_zone()
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.timezone.utc)


def overdue_from(due_at: dt.datetime, zone: ZoneInfo | None = None) -> dt.datetime:
    """A visit due at ``due_at`` is overdue from the start of the next local day."""
    zone = zone or service_zone()
    return start_of_day(due_at.astimezone(zone).date() + dt.timedelta(days=1), zone)


def local_date(at: dt.datetime, zone: ZoneInfo | None = None) -> dt.date:
    return at.astimezone(zone or service_zone()).date()


def _date(value, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).replace(".", "-"))
    except ValueError:
        raise SegitoError(f"{field}: '{value}' is not a date (YYYY-MM-DD)") from None


def _months(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MONTHS:
        raise SegitoError(f"{field}: the follow-up lasts 1 to {MAX_MONTHS} months, got {value!r}")
    return value


def _visit(n: int, day: dt.date, zone: ZoneInfo) -> dict:
    # Small on purpose: every visit's subprocess instance carries a copy of the whole list in its case state.
    # The label and the local day are derived where needed (the timer's label expression, the task's dueDate).
    return {"n": n, "due_at": start_of_day(day, zone).isoformat()}


def job_retention_dates(start, months: int = MAX_MONTHS, intensity: str = "standard") -> list[dt.date]:
    """The visit dates of a plan of ``months`` months at ``intensity``, counted from the first working day."""
    s = _date(start, "employment_start")
    months = _months(months, "follow_up_months")
    if intensity not in INTENSITIES:
        raise SegitoError(f"intensity: '{intensity}' is not one of {', '.join(INTENSITIES)}")
    days, monthly = INTENSITIES[intensity]
    end = add_months(s, months)
    check = s + dt.timedelta(days=CHECK_DAY)
    dates = [s + dt.timedelta(days=d) for d in days] + [add_months(s, m) for m in monthly]
    # Each visit closes its period: none after the plan's end, and the day-180 check is the last contact.
    return sorted(d for d in dates if d <= end and d < check)


def job_retention_visits(start, months: int = MAX_MONTHS, intensity: str = "standard", after=None,
                         keep_dates=()) -> list[dict]:
    """Visits of the plan; with ``after`` (a plan change) only those still to come, plus the dates in
    ``keep_dates`` (visits already due but not yet recorded, which the change must not lose)."""
    zone = service_zone()
    plan = job_retention_dates(start, months, intensity)
    dates = plan
    if after is not None:
        cutoff = after if isinstance(after, dt.datetime) else dt.datetime.fromisoformat(str(after))
        keep = {_date(d, "keep_dates") for d in keep_dates}
        dates = sorted({d for d in plan if start_of_day(d, zone) > cutoff} | keep)
    # A visit's number is its place in the whole (current) plan, so "visit 5" names the same day before and after.
    order = {d: i + 1 for i, d in enumerate(sorted(set(plan) | set(dates)))}
    return [_visit(order[d], d, zone) for d in dates]


def visit_label(n: int) -> str:
    """The label of visit ``n`` (the same words as the visit timer's ``label`` in bpmn/job_retention)."""
    return f"{n}. utókövetési látogatás / follow-up visit {n}"


def next_job_retention_visit(start, months: int = MAX_MONTHS, intensity: str = "standard", after_day=None,
                             after: dt.datetime | None = None) -> dict | None:
    """The plan's next visit: the first visit day later than ``after_day`` (the last visit issued) and starting
    after the instant ``after`` (a plan change: only what is still to come), or None when the plan has no more.

    Only the next visit waits as a timer in a case (bpmn/job_retention loops: timer → visit task → next
    timer), so a case's state stays small; the days after it are computed from the plan where they are shown
    (``planned_after``, the agenda and the calendar feed)."""
    zone = service_zone()
    plan = job_retention_dates(start, months, intensity)
    after_day = _date(after_day, "after_day") if after_day is not None else None
    for n, day in enumerate(plan, start=1):
        if (after_day is None or day > after_day) and (after is None or start_of_day(day, zone) > after):
            return _visit(n, day, zone)
    return None


def planned_after(start, months: int, intensity: str, due_at: dt.datetime) -> list[tuple[int, dt.date]]:
    """(number, day) of the plan's visits after the one due at ``due_at``: the visits still to come behind
    the case's waiting visit timer, in the order the loop will issue them."""
    zone = service_zone()
    return [(n, day) for n, day in enumerate(job_retention_dates(start, months, intensity), start=1)
            if start_of_day(day, zone) > due_at]


def day_180_check(start) -> str:
    """Due time (UTC, ISO) of the day-180 check: the start of local day S+180."""
    return start_of_day(_date(start, "employment_start") + dt.timedelta(days=CHECK_DAY)).isoformat()


def family_follow_up_dates(closure_date, frequency: str, months: int) -> list[dt.date]:
    """Family care 3.10 (field 55): visits every week / two weeks / month for ``months`` months from closure."""
    c = _date(closure_date, "closure_date")
    months = _months(months, "follow_up_months")
    if frequency not in FREQUENCIES:
        raise SegitoError(f"follow_up_frequency: '{frequency}' is not one of {', '.join(FREQUENCIES)}")
    end = add_months(c, months)
    if frequency == "monthly":
        return [add_months(c, k) for k in range(1, months + 1)]
    step = 7 if frequency == "weekly" else 14
    dates, k = [], 1
    while c + dt.timedelta(days=step * k) <= end:
        dates.append(c + dt.timedelta(days=step * k))
        k += 1
    return dates


def family_follow_up_visits(closure_date, frequency: str, months: int) -> list[dict]:
    zone = service_zone()
    return [_visit(i + 1, d, zone) for i, d in enumerate(family_follow_up_dates(closure_date, frequency, months))]


# ---------------------------------------------------------------- BPMN service operations

def _services(runtime, session, case, actor, at, case_audit) -> dict:
    def follow_up_visits(task_data: dict, start=None, months=None, intensity=None, **_):
        # A plan change arrives as the message variable plan_change (see bpmn/job_retention).
        replanned = bool(task_data.get("plan_change"))
        keep = []
        if replanned:
            # Visits already in the inbox are not "still to come": they are issued again with their own date.
            from sqlalchemy import select

            from .models import HumanTask

            keep = [local_date(d) for d in session.execute(
                select(HumanTask.due_at).where(HumanTask.case_id == case.id, HumanTask.state == "ready",
                                               HumanTask.bpmn_id == "jr_visit", HumanTask.due_at.is_not(None))
            ).scalars()]
        return job_retention_visits(start, months, intensity or "standard", after=at if replanned else None,
                                    keep_dates=keep)

    def record_plan(start, months, intensity) -> None:
        # The plan's parameters are kept on a row of their own, so the agenda and the calendar feed compute
        # the visits still to come without loading the case (only the next visit has a timer row).
        from .timer_models import FollowUpPlan

        values = dict(employment_start=_date(start, "employment_start"), months=_months(months, "follow_up_months"),
                      intensity=intensity or "standard", changed_at=at)
        plan = session.get(FollowUpPlan, case.id)
        if plan is None:
            session.add(FollowUpPlan(case_id=case.id, **values))
        else:
            for key, value in values.items():
                setattr(plan, key, value)

    def next_visit(task_data: dict, start=None, months=None, intensity=None, **_):
        # Runs after each visit's timer (and once at the start): the visit just issued is the loop's ``visit``.
        last = task_data.get("visit")
        if last is None:
            record_plan(start, months, intensity)
        after_day = local_date(dt.datetime.fromisoformat(last["due_at"])) if last else None
        return next_job_retention_visit(start, months, intensity or "standard", after_day=after_day)

    def replanned_visit(task_data: dict, start=None, months=None, intensity=None, **_):
        # A plan change: the visit whose timer it interrupted was not due yet (a command first fires what is
        # overdue: engine.timer_sync._catch_up), so the visits still to come are those after the change.
        record_plan(start, months, intensity)
        return next_job_retention_visit(start, months, intensity or "standard", after=at)

    def check_due(task_data: dict, start=None, **_):
        return day_180_check(start)

    def family_visits(task_data: dict, closure_date=None, frequency=None, months=None, **_):
        return family_follow_up_visits(closure_date, frequency, months)

    return {"follow_up_visits": follow_up_visits, "next_follow_up_visit": next_visit,
            "replanned_follow_up_visit": replanned_visit, "day_180_check": check_due,
            "family_follow_up_visits": family_visits}
