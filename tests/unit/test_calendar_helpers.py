"""The calendar helpers of the expression sandbox (engine/sandbox/calendar_helpers.py, docs/timers.md)."""
from __future__ import annotations

import datetime as dt

import pytest

from engine import sandbox
from engine.sandbox import calendar_helpers as cal
from engine.sandbox.errors import SandboxError

STANDARD = [["P1W", "P1M"], ["P2W", "P2M"], ["P1M", "P6M"]]


@pytest.mark.parametrize("start,months,expected", [
    ("2024-01-31", 1, "2024-02-29"), ("2025-01-31", 1, "2025-02-28"), ("2026-08-31", 1, "2026-09-30"),
    ("2026-11-30", 3, "2027-02-28"), ("2026-12-15", 1, "2027-01-15"), ("2026-03-31", 12, "2027-03-31"),
    ("2024-02-29", 12, "2025-02-28"), ("2024-02-29", 48, "2028-02-29"), ("2026-03-31", -1, "2026-02-28"),
    ("2026.01.31", 3, "2026-04-30"),
])
def test_add_months_clamps_the_day_to_the_month_s_end_leap_years_included(start, months, expected):
    assert cal.add_months(start, months) == expected


def test_add_days_and_weeks_count_calendar_days_across_leap_days_and_daylight_saving():
    assert cal.add_days("2024-02-28", 1) == "2024-02-29"
    assert cal.add_days("2025-02-28", 1) == "2025-03-01"
    assert cal.add_days("2026-03-28", 2) == "2026-03-30"  # across the spring change: still two days
    assert cal.add_weeks("2026-01-31", 4) == "2026-02-28"
    assert cal.add_days(dt.date(2026, 1, 1), -1) == "2025-12-31"
    # An instant counts from its local date: 23:30 UTC on 31 December is 1 January in Budapest.
    assert cal.add_days("2025-12-31T23:30:00+00:00", 0) == "2026-01-01"


def test_day_start_is_local_midnight_in_utc_across_daylight_saving_in_budapest():
    # 29 March 2026: clocks go from 02:00 to 03:00 in Budapest; midnight moves from 23:00 to 22:00 UTC.
    assert cal.day_start("2026-03-28") == "2026-03-27T23:00:00+00:00"
    assert cal.day_start("2026-03-29") == "2026-03-28T23:00:00+00:00"
    assert cal.day_start("2026-03-30") == "2026-03-29T22:00:00+00:00"
    assert cal.day_start("2026-10-26") == "2026-10-25T23:00:00+00:00"  # 25 October: back to winter time
    assert cal.day_start("2026-03-30", "UTC") == "2026-03-30T00:00:00+00:00"
    assert cal.overdue_from(dt.datetime(2026, 3, 27, 23, tzinfo=dt.timezone.utc)).isoformat() == \
        "2026-03-28T23:00:00+00:00"


def test_day_start_follows_the_service_time_zone(monkeypatch):
    monkeypatch.setenv("SEGITO_TIMEZONE", "America/New_York")
    assert cal.day_start("2026-03-08") == "2026-03-08T05:00:00+00:00"
    assert cal.day_start("2026-03-09") == "2026-03-09T04:00:00+00:00"


def test_local_day_of_an_instant():
    assert cal.local_day("2026-03-29T22:00:00+00:00") == "2026-03-30"
    assert cal.local_day("2026-03-29T21:59:59+00:00") == "2026-03-29"
    assert cal.local_day(dt.datetime(2026, 7, 29, 22, tzinfo=dt.timezone.utc)) == "2026-07-30"
    assert cal.local_day("2026-07-30") == "2026-07-30"


def test_iso_formats_dates_and_instants():
    assert cal.iso(dt.date(2026, 2, 1)) == "2026-02-01"
    assert cal.iso(dt.datetime(2026, 2, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == \
        "2026-02-01T09:00:00+00:00"
    assert cal.iso("2026.02.01") == "2026-02-01"
    assert cal.iso("2026-02-01T10:00:00+01:00") == "2026-02-01T09:00:00+00:00"


def test_rhythm_dates_weekly_then_fortnightly_then_monthly_from_the_31st_of_january():
    assert cal.rhythm_dates("2026-01-31", STANDARD) == [
        "2026-02-07", "2026-02-14", "2026-02-21", "2026-02-28",   # month 1: weekly
        "2026-03-14", "2026-03-28",                               # month 2: fortnightly (S+42, 56)
        "2026-04-30", "2026-05-31", "2026-06-30", "2026-07-31"]   # monthly to month 6, clamped


def test_rhythm_dates_in_a_leap_february_and_a_single_phase():
    assert cal.rhythm_dates("2024-01-31", [["P1M", "P3M"]]) == ["2024-02-29", "2024-03-31", "2024-04-30"]
    assert cal.rhythm_dates("2026-01-01", [["P2W", "P1M"]]) == ["2026-01-15", "2026-01-29"]
    assert cal.rhythm_dates("2026-01-01", [["P1D", "P3D"]]) == ["2026-01-02", "2026-01-03", "2026-01-04"]
    assert cal.rhythm_dates("2026-01-01", [["P1Y", "P2Y"]]) == ["2027-01-01", "2028-01-01"]


def test_next_date_after_a_date_or_an_instant():
    plan = ["2026-02-07", "2026-02-14", "2026-03-30"]
    assert cal.next_date(plan, None) == "2026-02-07"
    assert cal.next_date(plan, "2026-02-07") == "2026-02-14"
    assert cal.next_date(plan, "2026-03-30") is None
    # An instant: the first date whose local day begins after it (30 March begins 22:00 UTC on the 29th).
    assert cal.next_date(plan, "2026-03-29T21:59:00+00:00") == "2026-03-30"
    assert cal.next_date(plan, "2026-03-29T22:00:00+00:00") is None
    assert cal.next_date([], "2026-01-01") is None


@pytest.mark.parametrize("call,message", [
    (lambda: cal.add_days("2026-01-01", 10**9), "add_days: n"),
    (lambda: cal.add_days("2026-01-01", True), "add_days: n"),
    (lambda: cal.add_days("9999-12-31", 1), "out of range"),
    (lambda: cal.add_weeks("2026-01-01", 10**6), "add_weeks: n"),
    (lambda: cal.add_months("2026-01-01", 10**12), "add_months: n"),
    (lambda: cal.add_months("9999-12-31", 1), "out of range"),
    (lambda: cal.add_months("not a date", 1), "add_months: day"),
    (lambda: cal.add_months("2026-01-01" * 1000, 1), "add_months: day"),
    (lambda: cal.add_months(["2026-01-01"], 1), "add_months: day"),
    (lambda: cal.day_start("2026-01-01", "Mars/Olympus"), "unknown time zone"),
    (lambda: cal.day_start("2026-01-01", "../../etc/passwd"), "unknown time zone"),
    (lambda: cal.rhythm_dates("2026-01-01", [["P1D", "P99999Y"]]), "at most"),
    (lambda: cal.rhythm_dates("2026-01-01", [["P0D", "P1M"]]), "at least one day"),
    (lambda: cal.rhythm_dates("2026-01-01", [["P1D", "P9Y"]]), "more than 1000 dates"),
    (lambda: cal.rhythm_dates("2026-01-01", [["P1D", "P1M"]] * 21), "phases"),
    (lambda: cal.rhythm_dates("2026-01-01", [["-P1D", "P1M"]]), "step"),
    (lambda: cal.rhythm_dates("2026-01-01", [["P1DT1H", "P1M"]]), "step"),
    (lambda: cal.rhythm_dates("2026-01-01", "P1D"), "phases"),
    (lambda: cal.next_date(["2026-01-01"] * 10_001, None), "next_date: dates"),
    (lambda: cal.next_date(["x"], None), "next_date: dates"),
    (lambda: cal.iso(3), "iso"),
])
def test_absurd_arguments_are_refused_before_any_loop(call, message):
    with pytest.raises(SandboxError, match=message):
        call()


# ---------------------------------------------------------------- inside the sandbox

def test_the_helpers_are_callable_in_expressions_and_scripts():
    assert sandbox.evaluate("day_start(add_months(employment_start, 3))", {"employment_start": "2026-01-31"}) \
        == "2026-04-29T22:00:00+00:00"
    data = {"closure_date": "2026-01-31", "months": 2}
    sandbox.execute("plan = rhythm_dates(closure_date, [['P1M', f'P{months}M']])\n"
                    "first = next_date(plan, closure_date)", data)
    assert data["plan"] == ["2026-02-28", "2026-03-31"] and data["first"] == "2026-02-28"


def test_a_helper_error_in_the_sandbox_names_the_line():
    with pytest.raises(SandboxError, match=r"line 2: add_months: n"):
        sandbox.execute("x = 1\ny = add_months('2026-01-01', 10**9)", {})


@pytest.mark.parametrize("source", [
    "add_months.__globals__", "add_months.fn", "add_months.run", "rhythm_dates.__call__",
    "add_months.__class__", "[h for h in (add_days,)][0].fn",
])
def test_the_helpers_give_no_way_out_of_the_sandbox(source):
    with pytest.raises(SandboxError):
        sandbox.evaluate(source, {})


def test_a_helper_is_not_plain_data_so_it_cannot_leave_as_a_value():
    with pytest.raises(SandboxError):
        sandbox.evaluate("add_days", {})
    data: dict = {}
    with pytest.raises(SandboxError):
        sandbox.execute("f = add_days", data)
    assert "f" not in data


def test_a_helper_from_task_data_is_refused_and_a_field_may_shadow_a_helper_name():
    with pytest.raises(SandboxError):
        sandbox.evaluate("x(1)", {"x": cal.add_days})
    assert sandbox.evaluate("add_days + 1", {"add_days": 1}) == 2


def test_helper_results_count_against_the_evaluation_s_memory_budget(monkeypatch):
    monkeypatch.setattr(sandbox.limits, "MAX_ALLOC_TOTAL", 50)
    with pytest.raises(SandboxError, match="memory budget"):
        sandbox.evaluate("[rhythm_dates('2026-01-01', [['P1D', 'P1M']]) for i in range(10)]", {})


def test_helper_calls_count_as_steps(monkeypatch):
    monkeypatch.setattr(sandbox.limits, "MAX_STEPS", 100)
    with pytest.raises(SandboxError, match="step budget"):
        sandbox.evaluate("[add_days('2026-01-01', i) for i in range(1000)]", {})
