"""Calendar helpers: date arithmetic in the service's local calendar, for BPMN expressions and the engine.

A service's visit rhythm is written in its BPMN (timer expressions, script tasks) with these helpers, so a
process designer changes a plan's rhythm without a developer (docs/timers.md, "Calendar helpers"). Dates are
local *dates* (ISO text ``YYYY-MM-DD``) and only turned into instants at the end (``day_start``: the start of
the local day in the service's time zone, as UTC text): a monthly visit keeps its day of the month across
daylight-saving changes and month lengths.

The helpers in ``HELPERS`` are what sandboxed code sees. They are pure (no clock, no database, no I/O), take
plain data (ISO text, or date/datetime values) and return plain data (ISO text, lists of it, None), and refuse
absurd counts and spans *before* they loop or allocate, with a ``SandboxError`` naming the argument. The
engine's own code uses the date-typed functions below them (``service_zone``, ``start_of_day``,
``local_date``, ``overdue_from``, ``months_later``).
"""
from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

from .errors import SandboxError

DEFAULT_TIMEZONE = "Europe/Budapest"
MAX_SPAN_DAYS = 36_600      # ~100 years: the furthest any helper moves a date (add_days, add_weeks, add_months)
MAX_PLAN_DAYS = 3_660       # ~10 years: the longest rhythm (rhythm_dates), as timers are refused beyond that
MAX_PHASES = 20             # phases of one rhythm
MAX_DATES = 1_000           # dates one rhythm may produce
MAX_LIST = 10_000           # dates next_date looks through
MAX_TEXT = 64               # characters of a date, instant, duration or zone name given as text
_STEP_RE = re.compile(r"P(\d{1,5})([DWMY])\Z")
_UNIT_DAYS = {"D": 1, "W": 7}
_UNIT_MONTHS = {"M": 1, "Y": 12}


# ---------------------------------------------------------------- the engine's date-typed functions

@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_named(name: str) -> ZoneInfo:
    if type(name) is not str or not 0 < len(name) <= MAX_TEXT:
        raise SandboxError(f"time zone: expected a zone name such as 'Europe/Budapest', got {name!r:.40}")
    try:
        return _zone(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed names
        raise SandboxError(f"time zone: unknown time zone '{name}'") from None


def service_zone() -> ZoneInfo:
    """The service's time zone (SEGITO_TIMEZONE, Europe/Budapest by default)."""
    name = os.environ.get("SEGITO_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        return zone_named(name)
    except SandboxError:
        from ..errors import SegitoError  # a configuration error, not an expression's

        raise SegitoError(f"SEGITO_TIMEZONE: unknown time zone '{name}'") from None


def start_of_day(day: dt.date, zone: ZoneInfo | None = None) -> dt.datetime:
    """The UTC instant at which the local day begins (the due time of a visit on that day)."""
    zone = zone or service_zone()
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.timezone.utc)


def local_date(at: dt.datetime, zone: ZoneInfo | None = None) -> dt.date:
    """The local date of an instant (a naive datetime is taken as UTC, as the database stores it)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(zone or service_zone()).date()


def overdue_from(due_at: dt.datetime, zone: ZoneInfo | None = None) -> dt.datetime:
    """Something due at ``due_at`` is overdue from the start of the next local day."""
    zone = zone or service_zone()
    return start_of_day(local_date(due_at, zone) + dt.timedelta(days=1), zone)


def months_later(day: dt.date, months: int) -> dt.date:
    """``day`` + n calendar months, the day of the month clamped (31 January + 3 months = 30 April)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if not 1 <= year <= 9999:
        raise SandboxError(f"date out of range: {day.isoformat()} + {months} months")
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------- argument checks

def _day(value, what: str, zone: ZoneInfo | None = None) -> dt.date:
    """A local date from a date, a datetime (its local date) or ISO text (``2026-01-31``, ``2026.01.31`` as
    the forms' Hungarian dates are written, or an instant: its local date)."""
    if type(value) is dt.datetime:
        return local_date(value, zone) if value.tzinfo is not None else value.date()
    if type(value) is dt.date:
        return value
    if type(value) is str and len(value) <= MAX_TEXT:
        text = value.strip().rstrip(".")
        if len(text) == 10:
            try:
                return dt.date.fromisoformat(text.replace(".", "-"))
            except ValueError:
                pass
        else:
            try:
                return _day(dt.datetime.fromisoformat(text), what, zone)
            except ValueError:
                pass
    raise SandboxError(f"{what}: expected a date (YYYY-MM-DD) or an instant, got {value!r:.40}")


def _instant(value, what: str, zone: ZoneInfo) -> dt.datetime:
    """An aware instant from a datetime or ISO text; a date means the start of that local day."""
    if type(value) is dt.date or (type(value) is str and len(value.strip()) == 10):
        return start_of_day(_day(value, what, zone), zone)
    if type(value) is str and len(value) <= MAX_TEXT:
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    if type(value) is dt.datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    raise SandboxError(f"{what}: expected an instant or a date, got {value!r:.40}")


def _count(value, what: str, limit: int) -> int:
    if type(value) is not int or abs(value) > limit:
        raise SandboxError(f"{what}: expected a whole number from {-limit} to {limit}, got {value!r:.40}")
    return value


def _zone_arg(zone) -> ZoneInfo:
    return service_zone() if zone is None else zone_named(zone)


def _step(value, what: str) -> tuple[int, int]:
    """An ISO duration of one part (``P7D``, ``P2W``, ``P1M``, ``P1Y``) as (days, months)."""
    match = _STEP_RE.match(value) if type(value) is str and len(value) <= MAX_TEXT else None
    if match is None:
        raise SandboxError(f"{what}: expected a duration of one part such as 'P7D', 'P2W', 'P1M' or 'P1Y', "
                           f"got {value!r:.40}")
    n, unit = int(match.group(1)), match.group(2)
    if unit in _UNIT_DAYS:
        return n * _UNIT_DAYS[unit], 0
    return 0, n * _UNIT_MONTHS[unit]


def _shift(start: dt.date, step: tuple[int, int], k: int) -> dt.date:
    days, months = step
    return months_later(start, months * k) if months else start + dt.timedelta(days=days * k)


def _span_days(step: tuple[int, int]) -> int:
    days, months = step
    return days + months * 31  # an upper bound, checked before anything is computed from it


# ---------------------------------------------------------------- the helpers sandboxed code sees

def add_days(day, n):
    """The local date ``n`` days after ``day`` (before it if ``n`` is negative), as ``YYYY-MM-DD``."""
    start = _day(day, "add_days: day")
    n = _count(n, "add_days: n", MAX_SPAN_DAYS)
    try:
        return (start + dt.timedelta(days=n)).isoformat()
    except OverflowError:
        raise SandboxError(f"add_days: date out of range: {start.isoformat()} + {n} days") from None


def add_weeks(day, n):
    """The local date ``n`` weeks after ``day``, as ``YYYY-MM-DD``."""
    return add_days(day, _count(n, "add_weeks: n", MAX_SPAN_DAYS // 7) * 7)


def add_months(day, n):
    """The local date ``n`` calendar months after ``day``, the day of the month clamped to the month's last
    day (31 January + 1 month = 28 February, or 29 in a leap year), as ``YYYY-MM-DD``."""
    start = _day(day, "add_months: day")
    return months_later(start, _count(n, "add_months: n", MAX_SPAN_DAYS // 31)).isoformat()


def day_start(day, zone=None):
    """The instant the local day ``day`` begins in the service's time zone (or ``zone``), as UTC ISO text
    (``2026-03-30T22:00:00+00:00``): the value for a timer's ``timeDate`` that fires on that day."""
    z = _zone_arg(zone)
    return start_of_day(_day(day, "day_start: day", z), z).isoformat()


def local_day(instant, zone=None):
    """The local date (``YYYY-MM-DD``) of an instant (ISO text with an offset, or a datetime) in the service's
    time zone (or ``zone``)."""
    z = _zone_arg(zone)
    return local_date(_instant(instant, "local_day: instant", z), z).isoformat()


def iso(value):
    """ISO 8601 text of a date or an instant (an instant in UTC); ISO text is returned normalised."""
    if type(value) is dt.date:
        return value.isoformat()
    if type(value) is dt.datetime:
        return (value.astimezone(dt.timezone.utc) if value.tzinfo else value).isoformat()
    if type(value) is str:
        stripped = value.strip()
        if len(stripped) == 10:
            return _day(stripped, "iso: value").isoformat()
        return iso(_instant(stripped, "iso: value", service_zone()))
    raise SandboxError(f"iso: expected a date or an instant, got {value!r:.40}")


def rhythm_dates(start, phases):
    """The dates of a rhythm counted from ``start``, phase by phase: each phase is ``[step, until]`` (two
    durations of one part, ``P7D``, ``P2W``, ``P1M``, ``P1Y``) and gives the dates ``start + k × step``
    (k = 1, 2, …; months clamped) that are later than the previous phase's ``until`` (``start`` for the first)
    and not later than its own. Sorted ``YYYY-MM-DD`` texts, no duplicates.

    ``rhythm_dates(S, [['P1W', 'P1M'], ['P2W', 'P2M'], ['P1M', 'P5M']])``: weekly in month 1, fortnightly in
    month 2, monthly to month 5."""
    s = _day(start, "rhythm_dates: start")
    if type(phases) not in (list, tuple) or not 0 < len(phases) <= MAX_PHASES:
        raise SandboxError(f"rhythm_dates: phases: expected a list of 1 to {MAX_PHASES} [step, until] pairs")
    parsed, total = [], 0
    for i, phase in enumerate(phases, start=1):
        if type(phase) not in (list, tuple) or len(phase) != 2:
            raise SandboxError(f"rhythm_dates: phase {i}: expected [step, until], got {phase!r:.40}")
        step, until = _step(phase[0], f"rhythm_dates: phase {i} step"), _step(phase[1], f"rhythm_dates: phase "
                                                                                      f"{i} until")
        if step == (0, 0):
            raise SandboxError(f"rhythm_dates: phase {i} step: must be at least one day")
        if _span_days(until) > MAX_PLAN_DAYS:
            raise SandboxError(f"rhythm_dates: phase {i} until: a rhythm lasts at most {MAX_PLAN_DAYS} days")
        # Dates this phase can produce, at most: refused before the loop, not during it.
        total += _span_days(until) // max(step[0] or step[1] * 28, 1) + 1
        if total > MAX_DATES:
            raise SandboxError(f"rhythm_dates: more than {MAX_DATES} dates")
        parsed.append((step, until))
    dates: set[dt.date] = set()
    after = s
    for step, until in parsed:
        end = _shift(s, until, 1)
        k = 1
        while (day := _shift(s, step, k)) <= end:
            if day > after:
                dates.add(day)
            k += 1
        after = max(after, end)
    return [d.isoformat() for d in sorted(dates)]


def next_date(dates, after):
    """The first of ``dates`` (a list of dates, as ``rhythm_dates`` gives) that is later than ``after``, or None.
    ``after`` a date: the first later date; an instant: the first date whose local day begins after it."""
    if type(dates) not in (list, tuple) or len(dates) > MAX_LIST:
        raise SandboxError(f"next_date: dates: expected a list of at most {MAX_LIST} dates")
    days = sorted(_day(d, "next_date: dates") for d in dates)
    if after is None:
        return days[0].isoformat() if days else None
    zone = service_zone()
    if type(after) is dt.date or (type(after) is str and len(after.strip()) == 10):
        cutoff = _day(after, "next_date: after")
        return next((d.isoformat() for d in days if d > cutoff), None)
    instant = _instant(after, "next_date: after", zone)
    return next((d.isoformat() for d in days if start_of_day(d, zone) > instant), None)


HELPERS = {f.__name__: f for f in (add_days, add_weeks, add_months, day_start, local_day, iso, rhythm_dates,
                                   next_date)}
