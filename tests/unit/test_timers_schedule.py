"""The follow-up calendar (engine/schedule.py): DOMAIN.md section 5, "Decision — visit due dates"."""
from __future__ import annotations

import datetime as dt

import pytest

from engine import schedule
from engine.errors import SegitoError


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_the_standard_ladder_from_the_31st_of_january():
    assert schedule.job_retention_dates("2026-01-31") == [d(x) for x in (
        "2026-02-07", "2026-02-14", "2026-02-21", "2026-02-28",   # month 1: S+7, 14, 21, 28 days
        "2026-03-14", "2026-03-28",                               # month 2: S+42, 56 days
        "2026-04-30", "2026-05-31", "2026-06-30")]                # S+3, 4, 5 months, clamped to the month's end
    assert schedule.day_180_check("2026-01-31") == "2026-07-29T22:00:00+00:00"  # 30 July, local midnight (CEST)


@pytest.mark.parametrize("start,months,expected", [
    ("2024-01-31", 1, "2024-02-29"), ("2025-01-31", 1, "2025-02-28"), ("2026-08-31", 1, "2026-09-30"),
    ("2026-11-30", 3, "2027-02-28"), ("2026-12-15", 1, "2027-01-15"), ("2026-03-31", 12, "2027-03-31"),
])
def test_adding_months_keeps_the_day_clamped_to_shorter_months(start, months, expected):
    assert schedule.add_months(d(start), months) == d(expected)


def test_due_at_the_start_of_the_local_day_across_daylight_saving():
    # 29 March 2026: clocks go from 02:00 to 03:00 in Budapest; midnight moves from 23:00 to 22:00 UTC.
    assert schedule.start_of_day(d("2026-03-28")).isoformat() == "2026-03-27T23:00:00+00:00"
    assert schedule.start_of_day(d("2026-03-29")).isoformat() == "2026-03-28T23:00:00+00:00"
    assert schedule.start_of_day(d("2026-03-30")).isoformat() == "2026-03-29T22:00:00+00:00"
    # 25 October 2026: back to winter time.
    assert schedule.start_of_day(d("2026-10-26")).isoformat() == "2026-10-25T23:00:00+00:00"
    due = schedule.start_of_day(d("2026-03-28"))
    assert schedule.overdue_from(due).isoformat() == "2026-03-28T23:00:00+00:00"  # from the next local midnight
    monthly = [schedule.start_of_day(x) for x in schedule.job_retention_dates("2026-01-15", 6, "light")]
    assert {m.astimezone(schedule.service_zone()).strftime("%d %H:%M") for m in monthly[2:]} == {"15 00:00"}


def test_the_zone_is_configurable(monkeypatch):
    monkeypatch.setenv("SEGITO_TIMEZONE", "UTC")
    assert schedule.start_of_day(d("2026-07-01")).isoformat() == "2026-07-01T00:00:00+00:00"
    monkeypatch.setenv("SEGITO_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SegitoError, match="SEGITO_TIMEZONE"):
        schedule.service_zone()


def test_duration_and_intensity_shape_the_plan():
    assert schedule.job_retention_dates("2026-01-31", 1) == [d(x) for x in (
        "2026-02-07", "2026-02-14", "2026-02-21", "2026-02-28")]
    assert schedule.job_retention_dates("2026-01-31", 3, "light") == [d(x) for x in (
        "2026-02-14", "2026-02-28", "2026-03-31", "2026-04-30")]
    intensive = schedule.job_retention_dates("2026-01-31", 6, "intensive")
    assert len(intensive) == 12 and intensive[:8] == [d("2026-01-31") + dt.timedelta(days=7 * k) for k in range(1, 9)]
    for bad in ({"months": 7}, {"months": 0}, {"months": True}, {"intensity": "daily"}):
        with pytest.raises(SegitoError):
            schedule.job_retention_dates("2026-01-31", **{"months": 6, **bad})
    with pytest.raises(SegitoError, match="employment_start"):
        schedule.job_retention_dates("31/01/2026")


def test_a_plan_change_keeps_the_visits_to_come_and_those_waiting_in_the_inbox():
    after = schedule.start_of_day(d("2026-02-14")) + dt.timedelta(hours=11)
    visits = schedule.job_retention_visits("2026-01-31", 3, "light", after=after, keep_dates=["2026-02-14"])
    assert [(v["n"], v["due_at"]) for v in visits] == [
        (1, "2026-02-13T23:00:00+00:00"), (2, "2026-02-27T23:00:00+00:00"), (3, "2026-03-30T22:00:00+00:00"),
        (4, "2026-04-29T22:00:00+00:00")]


@pytest.mark.parametrize("frequency,months,expected", [
    ("weekly", 1, ["2026-02-07", "2026-02-14", "2026-02-21", "2026-02-28"]),
    ("fortnightly", 2, ["2026-02-14", "2026-02-28", "2026-03-14", "2026-03-28"]),
    ("monthly", 3, ["2026-02-28", "2026-03-31", "2026-04-30"]),
])
def test_family_care_follow_up_from_field_55_counted_from_the_closure(frequency, months, expected):
    assert schedule.family_follow_up_dates("2026-01-31", frequency, months) == [d(x) for x in expected]
    with pytest.raises(SegitoError, match="follow_up_frequency"):
        schedule.family_follow_up_dates("2026-01-31", "yearly", 1)


def test_the_visit_loop_takes_the_next_visit_of_the_plan_and_the_calendar_the_rest():
    first = schedule.next_job_retention_visit("2026-01-31")
    assert first == {"n": 1, "due_at": "2026-02-06T23:00:00+00:00"}  # 7 February, local midnight (CET)
    after_fifth = schedule.next_job_retention_visit("2026-01-31", after_day="2026-03-14")
    assert after_fifth == {"n": 6, "due_at": "2026-03-27T23:00:00+00:00"}
    assert schedule.next_job_retention_visit("2026-01-31", after_day="2026-06-30") is None  # the plan is done
    assert schedule.next_job_retention_visit("2026-01-31", 2, after_day="2026-03-14") == {
        "n": 6, "due_at": "2026-03-27T23:00:00+00:00"}  # 28 March is within two months of 31 January
    assert schedule.next_job_retention_visit("2026-01-31", 1, after_day="2026-02-28") is None
    # A plan change on 14 February at 11:00: only visits starting after it are still to come.
    changed = dt.datetime(2026, 2, 14, 10, tzinfo=dt.timezone.utc)
    assert schedule.next_job_retention_visit("2026-01-31", 3, "light", after=changed) == {
        "n": 2, "due_at": "2026-02-27T23:00:00+00:00"}
    # What the agenda shows behind a waiting visit: the plan's later visits, numbered in the plan.
    due = dt.datetime.fromisoformat(after_fifth["due_at"])
    assert schedule.planned_after("2026-01-31", 6, "standard", due) == [
        (7, d("2026-04-30")), (8, d("2026-05-31")), (9, d("2026-06-30"))]
    assert schedule.visit_label(7) == "7. utókövetési látogatás / follow-up visit 7"
    with pytest.raises(SegitoError, match="follow_up_months"):
        schedule.next_job_retention_visit("2026-01-31", 7)
