"""What a timer expression must evaluate to: an ISO 8601 date, duration or cycle, within bounds.

SpiffWorkflow turns a timer's value into a due time with arithmetic that loops once per month of a duration
('P999999999Y' loops 12 billion times, holding the case's transaction and the writer lock), silently reads
'-PT1H' as one hour, and fails with a bare Exception on 'not a duration'. So every value is checked here
first -- at deploy for a constant expression, and again at run time for every evaluated one
(``engine.sandbox.spiff``) -- and SpiffWorkflow only sees values that passed: well-formed, not negative, at most
``MAX_YEARS`` ahead, a cycle's interval at least ``MIN_CYCLE_INTERVAL`` and at most ``MAX_REPETITIONS``
repetitions. docs/timers.md, "Timer expressions".
"""
from __future__ import annotations

import datetime as dt
import re

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

MAX_YEARS = 10
MIN_CYCLE_INTERVAL = dt.timedelta(minutes=1)
MAX_REPETITIONS = 10_000
EARLIEST_YEAR = 1900  # a date before it is a typo; and near year 1 the UTC conversion overflows
MAX_DIGITS = 12       # digits of one number in a value (more is far beyond any bound)

_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(  # ISO 8601 durations as SpiffWorkflow reads them (a fraction on the last part only)
    rf"P(?:(?P<Y>{_NUMBER})Y)?(?:(?P<M>{_NUMBER})M)?(?:(?P<W>{_NUMBER})W)?(?:(?P<D>{_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?", re.IGNORECASE)
_WEEK_DATE = re.compile(r"\d{4}-?W\d{2}-?\d(T.+)?", re.IGNORECASE)
# What an ISO 8601 value looks like when someone forgot that a timer expression is a Python expression.
_UNQUOTED = re.compile(r"R\d*/\S+|P(?=[\dT])[\dYMWDTHS.,]+|\d{4}-\d{2}-\d{2}(T[\d:.+\-Z]*)?")
EXAMPLES = {"date": "'2026-12-01T10:00:00+01:00'", "duration": "'P14D'", "cycle": "'R2/P14D'"}


class TimerValueRefused(ValueError):
    """A timer value that is malformed or out of bounds; the message says which and why."""


def kind_of(definition) -> str | None:
    """'date', 'duration' or 'cycle' for a SpiffWorkflow timer event definition; None for anything else."""
    for cls, kind in ((CycleTimerEventDefinition, "cycle"), (DurationTimerEventDefinition, "duration"),
                      (TimeDateEventDefinition, "date")):
        if isinstance(definition, cls):
            return kind
    return None


def unquoted_literal(source: str) -> str | None:
    """The ISO 8601 value a timer expression holds unquoted (``R6/P1D``, ``P7D``, ``2026-12-01``), else None.

    Python would read ``R6/P1D`` as a division of two variables and ``2026-12-01`` as a subtraction."""
    text = source.strip()
    return text if _UNQUOTED.fullmatch(text) else None


def check(kind: str, value, now: dt.datetime) -> None:
    """Raise TimerValueRefused unless value is a well-formed, bounded timer value of this kind."""
    if not isinstance(value, str):
        raise TimerValueRefused(f"a timer must give text such as {EXAMPLES[kind]}, not a "
                                f"'{type(value).__name__}' value ({_show(value)})")
    if kind == "duration":
        _duration(value, now)
    elif kind == "date":
        _date(value, now)
    elif kind == "cycle":
        _cycle(value, now)
    else:
        raise ValueError(f"unknown timer kind {kind!r}")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _limit(now: dt.datetime) -> dt.datetime:
    """MAX_YEARS years after ``now`` as SpiffWorkflow's duration arithmetic counts them (the days of the
    12 × MAX_YEARS months from now's month on), without its loop over every month: every timer's value is
    checked against it."""
    first = dt.date(now.year, now.month, 1)
    return now + (first.replace(year=first.year + MAX_YEARS) - first)


def _duration(text: str, start: dt.datetime, what: str = "duration") -> dt.timedelta:
    if text.startswith("-"):
        raise TimerValueRefused(f"{_show(text)}: a {what} cannot be negative")
    if re.search(rf"\d{{{MAX_DIGITS + 1},}}", text):
        raise TimerValueRefused(f"{_show(text)}: a {what} is at most {MAX_YEARS} years")
    match = _DURATION.fullmatch(text)
    parts = {k: v for k, v in match.groupdict().items() if v is not None} if match else {}
    if not parts or (text.upper().endswith("T")) or ("W" in parts and parts.keys() & {"Y", "M", "D"}) \
            or any(("." in v or "," in v) for k, v in list(parts.items())[:-1]):
        raise TimerValueRefused(f"{_show(text)} is not an ISO 8601 {what} such as 'P14D', 'PT2H' or 'P1Y6M' "
                                "(weeks are not combined with years, months or days; only the last part may "
                                "have a fraction)")
    n = {k: float(v.replace(",", ".")) for k, v in parts.items()}
    # A loose bound first (months of 28 days): SpiffWorkflow's arithmetic below loops once per month.
    rough_days = (n.get("Y", 0) * 365 + n.get("M", 0) * 28 + n.get("W", 0) * 7 + n.get("D", 0)
                  + n.get("h", 0) / 24 + n.get("m", 0) / 1440 + n.get("s", 0) / 86400)
    if rough_days > MAX_YEARS * 366:
        raise TimerValueRefused(f"{_show(text)}: a {what} is at most {MAX_YEARS} years")
    try:
        span = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(text), start)
    except Exception as e:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception for what it cannot read
        raise TimerValueRefused(f"{_show(text)} is not an ISO 8601 {what}: {e}") from None
    if start + span > _limit(start):
        raise TimerValueRefused(f"{_show(text)}: a {what} is at most {MAX_YEARS} years")
    return span


def _date(text: str, now: dt.datetime, what: str = "date") -> dt.datetime:
    if text[:1] in ("P", "p"):
        raise TimerValueRefused(f"{_show(text)} is a duration, not a {what}: use timeDuration for a wait, "
                                f"or give a date such as {EXAMPLES['date']}")
    try:
        if "W" in text.upper():  # SpiffWorkflow reads any value with a W as a week date
            if not _WEEK_DATE.fullmatch(text):
                raise ValueError("not a week date")
            at = TimerEventDefinition.parse_iso_week(text)
        else:
            at = TimerEventDefinition.get_datetime(text)
    except OverflowError:
        raise TimerValueRefused(f"{_show(text)}: a {what} out of range is refused") from None
    except (ValueError, AttributeError):
        raise TimerValueRefused(f"{_show(text)} is not an ISO 8601 {what} such as {EXAMPLES['date']}") from None
    if at.year < EARLIEST_YEAR:
        raise TimerValueRefused(f"{_show(text)}: a {what} before {EARLIEST_YEAR} is refused")
    if at > _limit(now):
        raise TimerValueRefused(f"{_show(text)}: a {what} more than {MAX_YEARS} years ahead is refused")
    return at


def _cycle(text: str, now: dt.datetime) -> None:
    parts = text.replace("--", "/").split("/")  # as SpiffWorkflow splits it
    head = parts[0]
    if len(parts) not in (2, 3) or head[:1] not in ("R", "r") or (head[1:] and not head[1:].isdigit()):
        raise TimerValueRefused(f"{_show(text)} is not an ISO 8601 cycle such as 'R2/P14D', "
                                "'R/P1D' or 'R3/2026-12-01T10:00:00+01:00/P1D'")
    if len(head) - 1 > MAX_DIGITS or (head[1:] and int(head[1:]) > MAX_REPETITIONS):
        raise TimerValueRefused(f"{_show(text)}: a cycle repeats at most {MAX_REPETITIONS} times")
    rest = parts[1:]
    is_duration = [p[:1] in ("P", "p") for p in rest]
    if is_duration == [True]:
        interval = _duration(rest[0], now, "cycle interval")
    elif is_duration == [False, True]:
        start = _date(rest[0], now, "cycle start")
        interval = _duration(rest[1], start, "cycle interval")
    elif is_duration == [True, False]:
        _duration(rest[0], now, "cycle interval")  # bounded before SpiffWorkflow counts its months back
        end = _date(rest[1], now, "cycle end")
        interval = TimerEventDefinition.get_timedelta_from_end(TimerEventDefinition.parse_iso_duration(rest[0]), end)
    else:
        raise TimerValueRefused(f"{_show(text)}: a cycle needs one interval, with at most a start or an end date")
    if interval < MIN_CYCLE_INTERVAL:
        raise TimerValueRefused(f"{_show(text)}: a cycle's interval must be at least "
                                f"{int(MIN_CYCLE_INTERVAL.total_seconds() // 60)} minute(s)")
