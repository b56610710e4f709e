"""The rhythms written in the processes (bpmn/job_retention, bpmn/family_care) give DOMAIN.md 5's visit dates for
every start day of a leap year and the next: the scripts run in the sandbox as the engine runs them."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from engine import sandbox
from engine.sandbox import calendar_helpers as cal

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
# DOMAIN.md 5: days after S of the weekly and fortnightly visits, then months after S of the monthly ones.
LADDER = {"standard": ((7, 14, 21, 28, 42, 56), (3, 4, 5)),
          "intensive": ((7, 14, 21, 28, 35, 42, 49, 56, 70, 84), (4, 5)),
          "light": ((14, 28), (2, 3, 4, 5))}
STEPS = {"weekly": 7, "fortnightly": 14}


def script(service: str, task_id: str) -> str:
    root = etree.parse(str(BPMN / service / f"{service}.bpmn"))
    [text] = root.xpath(f"//bpmn:scriptTask[@id='{task_id}']/bpmn:script/text()", namespaces=NS)
    return str(text)


def start_days():
    day = dt.date(2024, 1, 1)
    while day < dt.date(2025, 3, 1):
        yield day
        day += dt.timedelta(days=3)


def expected_visits(s: dt.date, months: int, intensity: str) -> list[str]:
    days, monthly = LADDER[intensity]
    end, check = cal.months_later(s, months), s + dt.timedelta(days=180)
    dates = [s + dt.timedelta(days=n) for n in days] + [cal.months_later(s, m) for m in monthly]
    return [d.isoformat() for d in sorted(d for d in dates if d <= end and d < check)]


def expected_contacts(c: dt.date, frequency: str, months: int) -> list[str]:
    if frequency == "monthly":
        return [cal.months_later(c, k).isoformat() for k in range(1, months + 1)]
    end, step = cal.months_later(c, months), STEPS[frequency]
    return [(c + dt.timedelta(days=step * k)).isoformat() for k in range(1, 40)
            if c + dt.timedelta(days=step * k) <= end]


@pytest.mark.parametrize("intensity", sorted(LADDER))
def test_the_job_retention_plan_and_its_first_visit(intensity):
    source = script("job_retention", "jr_next_visit")
    for s in start_days():
        for months in range(1, 7):
            data = {"employment_start": s.isoformat(), "follow_up_months": months, "intensity": intensity,
                    "visit": None, "plan_changed_at": None}
            sandbox.execute(source, data)
            plan = expected_visits(s, months, intensity)
            assert data["visit_plan"] == plan, (s, months)
            assert data["visit"] == {"n": 1, "date": plan[0], "due_at": cal.day_start(plan[0])}


def test_the_job_retention_loop_walks_the_plan_then_stops_and_a_change_counts_from_its_instant():
    source = script("job_retention", "jr_next_visit")
    data = {"employment_start": "2026-01-31", "follow_up_months": 6, "intensity": "standard", "visit": None,
            "plan_changed_at": None}
    seen = []
    while True:
        sandbox.execute(source, data)
        if data["visit"] is None:
            break
        seen.append((data["visit"]["n"], data["visit"]["date"]))
    assert seen == list(enumerate(expected_visits(dt.date(2026, 1, 31), 6, "standard"), 1))
    # A change on 14 February at 11:00 to light: the new plan's days beginning after that instant.
    data.update(intensity="light", follow_up_months=3, plan_changed_at="2026-02-14T10:00:00+00:00")
    sandbox.execute(source, data)
    assert data["visit"]["date"] == "2026-02-28" and data["plan_changed_at"] is None
    assert data["visit_plan"] == ["2026-02-14", "2026-02-28", "2026-03-31", "2026-04-30"]


def test_the_day_180_check_is_the_start_of_local_day_s_plus_180():
    data = {"employment_start": "2026-01-31"}
    sandbox.execute(script("job_retention", "jr_schedule_check"), data)
    assert data["day_180_check_due"] == "2026-07-29T22:00:00+00:00"  # 30 July, local midnight (CEST)


@pytest.mark.parametrize("frequency", ["weekly", "fortnightly", "monthly"])
def test_the_family_care_contacts(frequency):
    source = script("family_care", "plan_follow_up_3_10")
    for c in start_days():
        for months in range(1, 7):
            data = {"closure_date": c.isoformat(), "follow_up_frequency": frequency, "follow_up_months": months}
            sandbox.execute(source, data)
            assert data["follow_up_visits"] == [{"n": n, "due_at": cal.day_start(d)} for n, d in
                                                enumerate(expected_contacts(c, frequency, months), 1)], (c, months)
