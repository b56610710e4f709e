"""A figure's plan for the period asked, and the share of it reached (docs/reports.md, "Plans").

A plan is declared per figure: a level (`{value: 30}`: the same for any period, e.g. clients in follow-up at a
time) or an amount per calendar span (`{value: 120, per: quarter}`), which the period asked for takes as many
times as it covers such spans (a span cut by the period counts by its days in the period). `caseworker` is the
plan of one caseworker, used when the report is asked for one."""
from __future__ import annotations

import datetime as dt

from .request import ReportRequest, rounded, share


def _span(day: dt.date, per: str) -> tuple[dt.date, dt.date]:
    """The calendar month, quarter or year around the day: its first and last days."""
    if per == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    first_month = day.month if per == "month" else 3 * ((day.month - 1) // 3) + 1
    start = dt.date(day.year, first_month, 1)
    months = 1 if per == "month" else 3
    year, month = divmod(first_month - 1 + months, 12)
    return start, dt.date(day.year + year, month + 1, 1) - dt.timedelta(days=1)


def spans(per: str, date_from: dt.date, date_to: dt.date) -> float:
    """How many months, quarters or years the period covers: whole ones count 1, cut ones their share of days."""
    total = 0.0
    day = date_from
    while day <= date_to:
        start, end = _span(day, per)
        last = min(end, date_to)
        total += ((last - day).days + 1) / ((end - start).days + 1)
        day = last + dt.timedelta(days=1)
    return total


def planned(plan: dict | None, req: ReportRequest) -> float | int | None:
    """The plan of the period asked (and of the caseworker asked for, when the plan names one)."""
    if not plan:
        return None
    value = plan["caseworker"] if req.caseworker_id is not None and "caseworker" in plan else plan["value"]
    if "per" in plan:
        value = value * spans(plan["per"], req.date_from, req.date_to)
    value = rounded(value, 2)
    return int(value) if value is not None and value == int(value) else value


def reached(value, plan) -> float | None:
    """The share of the plan reached, in percent (none without a plan or a value)."""
    if value is None or not plan:
        return None
    return share(value, plan)
