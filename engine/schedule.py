"""The follow-up calendar: visit due dates computed in the service's local calendar, stored as UTC instants.

DOMAIN.md section 5, "Decision — visit due dates": S is the first day of employment (a local date). Month 1
weekly (S+7, 14, 21, 28 days), month 2 fortnightly (S+42, 56 days), months 3–5 monthly (S + 3, 4, 5 months,
the day of the month kept and clamped to a shorter month's last day), and the day-180 check on S+180 days.
A visit is due at the start of its local day and overdue after the end of it. Dates are computed on local
*dates* and only then turned into instants, so a monthly visit stays on the same day of the month across
daylight-saving changes and month lengths.

These functions are also the BPMN service operations ``follow_up_visits``, ``day_180_check`` and
``family_follow_up_visits`` (registered in engine.services), whose results the processes' timer events wait for.
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
            from .models import HumanTask
            from sqlalchemy import select

            keep = [local_date(d) for d in session.execute(
                select(HumanTask.due_at).where(HumanTask.case_id == case.id, HumanTask.state == "ready",
                                               HumanTask.bpmn_id == "jr_visit", HumanTask.due_at.is_not(None))
            ).scalars()]
        return job_retention_visits(start, months, intensity or "standard", after=at if replanned else None,
                                    keep_dates=keep)

    def check_due(task_data: dict, start=None, **_):
        return day_180_check(start)

    def family_visits(task_data: dict, closure_date=None, frequency=None, months=None, **_):
        return family_follow_up_visits(closure_date, frequency, months)

    return {"follow_up_visits": follow_up_visits, "day_180_check": check_due,
            "family_follow_up_visits": family_visits}
