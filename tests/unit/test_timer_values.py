"""engine.sandbox.timer_values: which timer values SpiffWorkflow may compute with, and the clear words for the
others."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.sandbox import timer_values
from engine.sandbox.timer_values import TimerValueRefused

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("kind, value", [
    ("duration", "P14D"), ("duration", "PT1H"), ("duration", "PT10M"), ("duration", "P1Y6M"), ("duration", "P2W"),
    ("duration", "P10Y"), ("duration", "P120M"), ("duration", "PT1.5H"), ("duration", "P0D"), ("duration", "P1DT12H"),
    ("date", "2026-12-01T10:00:00+01:00"), ("date", "2026-12-01"), ("date", "2026-03-01T08:00:00Z"),
    ("date", "2026-W05-3"), ("date", "2036-03-01"),
    ("cycle", "R2/P14D"), ("cycle", "R5/PT1H"), ("cycle", "R/P1D"), ("cycle", "R0/P1D"),
    ("cycle", "R3/2026-04-01T10:00:00+01:00/P1D"), ("cycle", "R3/P1D/2026-05-01T00:00:00Z"), ("cycle", "R2--P14D"),
])
def test_well_formed_values_within_bounds_are_accepted(kind, value):
    timer_values.check(kind, value, NOW)


@pytest.mark.parametrize("kind, value, words", [
    ("duration", "P999999999Y", "at most 10 years"),
    ("duration", "P10Y1D", "at most 10 years"),
    ("duration", "P3654D", "at most 10 years"),
    ("duration", "PT999999999H", "at most 10 years"),
    ("duration", "P" + "9" * 5000 + "Y", "at most 10 years"),
    ("duration", "not a duration", "is not an ISO 8601 duration"),
    ("duration", "-PT1H", "cannot be negative"),
    ("duration", "PT", "is not an ISO 8601 duration"),
    ("duration", "P1DT", "is not an ISO 8601 duration"),
    ("duration", "P1W2D", "weeks are not combined"),
    ("duration", "P1.5Y2M", "only the last part may have a fraction"),
    ("duration", " P7D", "is not an ISO 8601 duration"),
    ("duration", "7D", "is not an ISO 8601 duration"),
    ("duration", 7, "not a 'int' value"),
    ("duration", None, "not a 'NoneType' value"),
    ("date", "2040-01-01", "more than 10 years ahead"),
    ("date", "P7D", "is a duration, not a date"),
    ("date", "Wednesday", "is not an ISO 8601 date"),
    ("date", "0001-01-01", "before 1900"),
    ("date", "9999-12-31T23:59:59-05:00", "out of range"),
    ("date", "2026-02-30", "is not an ISO 8601 date"),
    ("cycle", "R6/PT30S", "at least 1 minute"),
    ("cycle", "R99999/P1D", "at most 10000 times"),
    ("cycle", "R3/P999999999Y", "at most 10 years"),
    ("cycle", "R3/P1D/2040-01-01", "more than 10 years ahead"),
    ("cycle", "P1D", "is not an ISO 8601 cycle"),
    ("cycle", "R3/2026-04-01/2026-05-01", "needs one interval"),
    ("cycle", "Rx/P1D", "is not an ISO 8601 cycle"),
])
def test_malformed_or_unbounded_values_are_refused_in_words(kind, value, words):
    with pytest.raises(TimerValueRefused) as info:
        timer_values.check(kind, value, NOW)
    assert words in str(info.value)


def test_an_absurd_duration_is_refused_before_spiffworkflow_counts_its_months():
    started = time.monotonic()
    with pytest.raises(TimerValueRefused):
        timer_values.check("duration", "P999999999Y", NOW)
    with pytest.raises(TimerValueRefused):
        timer_values.check("cycle", "R/P999999999Y/2026-05-01T00:00:00Z", NOW)
    assert time.monotonic() - started < 0.05  # SpiffWorkflow's own arithmetic would take hours


def test_what_is_accepted_is_what_spiffworkflow_computes_with():
    """The check and SpiffWorkflow agree on the span of a duration (months counted from the start)."""
    parsed = TimerEventDefinition.parse_iso_duration("P1Y6M")
    assert NOW + TimerEventDefinition.get_timedelta_from_start(parsed, NOW) == dt.datetime(2027, 9, 2, 9, 0,
                                                                                          tzinfo=dt.timezone.utc)
    timer_values.check("duration", "P1Y6M", NOW)


@pytest.mark.parametrize("source, literal", [
    ("R6/P1D", "R6/P1D"), ("P7D", "P7D"), ("PT1H", "PT1H"), ("  P14D\n", "P14D"), ("R/P1D", "R/P1D"),
    ("2026-12-01", "2026-12-01"), ("2026-12-01T10:00:00", "2026-12-01T10:00:00"),
    ("'P7D'", None), ('"R6/P1D"', None), ("visit['due_at']", None), ("'P' + str(n) + 'D'", None),
    ("day_180_check_due", None), ("Period", None), ("P", None),
])
def test_an_unquoted_iso_value_is_recognised(source, literal):
    assert timer_values.unquoted_literal(source) == literal


def test_the_ten_year_bound_is_spiffworkflows_own_arithmetic():
    """The bound is computed without SpiffWorkflow's loop over 120 months, and is the same instant."""
    start = dt.datetime(2024, 1, 31, 23, 59, tzinfo=dt.timezone.utc)
    for days in range(0, 3 * 366, 7):
        now = start + dt.timedelta(days=days, hours=days % 24)
        spiff = now + TimerEventDefinition.get_timedelta_from_start({"years": timer_values.MAX_YEARS}, now)
        assert timer_values._limit(now) == spiff, now
