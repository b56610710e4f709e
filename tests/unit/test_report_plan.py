"""A figure's plan for the period asked (engine/reports/plan.py; docs/reports.md, "Plans")."""
import datetime as dt

import pytest

from engine.reports.plan import planned, reached, spans
from engine.reports.request import ReportRequest

D = dt.date


@pytest.mark.parametrize(("per", "start", "end", "expected"), [
    ("quarter", D(2026, 1, 1), D(2026, 12, 31), 4.0),
    ("quarter", D(2026, 4, 1), D(2026, 6, 30), 1.0),
    ("quarter", D(2026, 7, 5), D(2026, 8, 28), 55 / 92),
    ("quarter", D(2026, 12, 1), D(2027, 1, 31), 31 / 92 + 31 / 90),  # across the year's end
    ("month", D(2026, 2, 1), D(2026, 3, 31), 2.0),
    ("month", D(2028, 2, 15), D(2028, 2, 29), 15 / 29),  # a leap February
    ("year", D(2026, 1, 1), D(2027, 6, 30), 1 + 181 / 365),
])
def test_the_spans_a_period_covers(per, start, end, expected):
    assert spans(per, start, end) == pytest.approx(expected)


def test_the_plan_of_the_period_and_of_one_caseworker():
    year = ReportRequest(D(2026, 1, 1), D(2026, 12, 31))
    own = ReportRequest(D(2026, 1, 1), D(2026, 12, 31), caseworker_id=7)
    plan = {"value": 160, "caseworker": 80, "per": "quarter"}
    assert planned(plan, year) == 640 and planned(plan, own) == 320
    assert planned({"value": 40}, own) == 40  # no caseworker's plan: the service's
    assert planned({"value": 70}, ReportRequest(D(2026, 7, 5), D(2026, 8, 28))) == 70
    assert planned({"value": 160, "per": "quarter"}, ReportRequest(D(2026, 7, 5), D(2026, 8, 28))) == 95.65
    assert planned(None, year) is None


def test_the_share_reached():
    assert reached(20, 640) == 3.13
    assert reached(0, 95.65) == 0.0
    assert reached(None, 70) is None and reached(5, 0) is None and reached(5, None) is None
