"""The queries behind the indicators of seed 003: the sets of cases the definitions speak of (I1's "in the
interval", the closures of the period, an income band) and the grouped statements of each breakdown.

``engine/indicators.py`` puts their results together into the report; ``engine/indicator_cases.py`` lists the
cases behind a figure with the same conditions. Every statement reads indexed rows of ``report_models``.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, String, and_, distinct, func, literal_column, or_, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .report_models import CaseFact, CaseProblemType
from .report_request import Band, ReportRequest, period_instants, ratio
from .store.models import Case, Intake, User

# ---- the sets of cases the definitions speak of --------------------------------------------------------------

def fact_filters(req: ReportRequest, table=CaseFact) -> list:
    found = []
    if req.caseworker_id is not None:
        found.append(table.caseworker_id == req.caseworker_id)
    if req.process_key:
        found.append(table.process_key == req.process_key)
    return found


def in_care(req: ReportRequest, table=CaseFact) -> list:
    """I1's set: taken into care by the end of the period and not closed before its start."""
    return [unindexed(table.taken_into_care) <= req.date_to,
            or_(table.closure_date.is_(None), unindexed(table.closure_date) >= req.date_from),
            *fact_filters(req, table)]


def closed_in(req: ReportRequest) -> list:
    return [CaseFact.closure_date >= req.date_from, CaseFact.closure_date <= req.date_to, *fact_filters(req)]


class unindexed(FunctionElement):
    """A column the SQLite planner must not pick an index for (``+column``); the column itself elsewhere.

    I1's set is most of the table for any period of a year or more, and its 'not closed before the start' half
    cannot use an index: SQLite's planner would still walk the taken-into-care index and visit every row
    through it, several times slower than reading the table. PostgreSQL's planner weighs this itself."""

    inherit_cache = True

    def __init__(self, column):
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.clauses, **kw)


def band_condition(band: Band):
    parts: list[ColumnElement[bool]] = [CaseFact.per_capita_income.is_not(None)]
    if band.low is not None:
        parts.append(CaseFact.per_capita_income >= band.low)
    if band.high is not None:
        parts.append(CaseFact.per_capita_income < band.high)
    return and_(*parts)


def month_of(session, column):
    if session.get_bind().dialect.name == "postgresql":
        # A literal, not a parameter: PostgreSQL must see the select and the GROUP BY as the same expression.
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.substr(column, 1, 7)  # SQLite stores dates as 'YYYY-MM-DD'


# ---- the breakdowns ---------------------------------------------------------------------------------------------

def problem_types(session, req: ReportRequest) -> list[dict]:
    """I6/I7/I17 from the problem-type rows alone (they carry the case's period facts and client): grouped by
    problem type in the order of their index, whose next column is the client, so distinct clients are counted
    without a join or a sort. The halves of the agreement split are FILTER clauses: a CASE expression would feed
    every other row to the distinct count as a NULL (a fifth of the statement's time on SQLite)."""
    rows, agreed = CaseProblemType, CaseProblemType.agreed.is_(True)
    query = select(rows.problem_type, func.count(distinct(rows.client_id)),
                   func.count(distinct(rows.client_id)).filter(agreed),
                   func.count(distinct(rows.client_id)).filter(~agreed), func.count()) \
        .where(*in_care(req, rows)).group_by(rows.problem_type).order_by(rows.problem_type)
    return [{"key": key, "persons": persons, "persons_with_agreement": with_a,
             "persons_without_agreement": without_a, "processes": processes}
            for key, persons, with_a, without_a, processes in session.execute(query)]


def intakes(session, req: ReportRequest) -> int:
    start, end = period_instants(req)
    if req.caseworker_id is None:
        query = select(func.count()).select_from(Intake).where(Intake.taken_at >= start, Intake.taken_at < end)
    else:
        # One caseworker's intakes: from her cases to their intakes, never from a year of intakes to their cases
        # (SQLite's planner picked either, depending on the statistics: 3 ms or 30 ms at 100,000 cases).
        query = select(func.count()).select_from(Case).join(Intake, Intake.case_id == Case.id).where(
            unindexed(Intake.taken_at) >= start, unindexed(Intake.taken_at) < end,
            Case.caseworker_id == req.caseworker_id)
    return session.execute(query).scalar() or 0


def dated(session, req: ReportRequest, table, on) -> dict:
    """Entries (meetings or actions) dated in the period, by caseworker and month.

    Grouped first by day and caseworker, the order of the (date, caseworker) index, so the database streams
    the index without sorting the entries; those groups (at most 366 × caseworkers a year) are then summed into
    months by the database too, so only months × caseworkers rows reach Python (building a row object per day
    and caseworker was a tenth of the report's time at 100,000 cases)."""
    days = select(on.label("day"), table.caseworker_id.label("cw"), func.count().label("n")) \
        .where(on >= req.date_from, on <= req.date_to, *fact_filters(req, table)) \
        .group_by(on, table.caseworker_id).subquery()
    month = month_of(session, days.c.day)
    rows = session.execute(select(month, days.c.cw, func.sum(days.c.n)).group_by(month, days.c.cw)).all()
    by_cw: defaultdict[int | None, int] = defaultdict(int)
    by_month: defaultdict[str, int] = defaultdict(int)
    for m, cw, n in rows:
        by_cw[cw] += int(n)
        by_month[m] += int(n)
    return {"total": sum(by_cw.values()), "by_caseworker": by_cw, "by_month": by_month}


def closures(session, req: ReportRequest) -> dict:
    rows = session.execute(select(CaseFact.caseworker_id, CaseFact.closure_reason, func.count(),
                                  func.sum(CaseFact.care_days), month_of(session, CaseFact.closure_date))
                           .where(*closed_in(req))
                           .group_by(CaseFact.caseworker_id, CaseFact.closure_reason,
                                     month_of(session, CaseFact.closure_date))).all()
    result: dict[str, Any] = {"total": 0, "days": 0, "by_reason": defaultdict(int),
                              "by_caseworker": defaultdict(lambda: [0, 0]), "by_month": defaultdict(int)}
    for cw, reason, n, days, m in rows:
        result["total"] += n
        days = int(days or 0)
        result["days"] += days
        result["by_reason"][reason or "unknown"] += n
        result["by_caseworker"][cw][0] += n
        result["by_caseworker"][cw][1] += days
        result["by_month"][m] += n
    result["follow_up_persons"] = session.execute(
        select(func.count(distinct(CaseFact.client_id))).where(*closed_in(req), CaseFact.follow_up.is_(True))
    ).scalar() or 0
    return result


def per_caseworker(session, req: ReportRequest, meetings: dict, actions: dict, closed: dict) -> list[dict]:
    rows = session.execute(select(CaseFact.caseworker_id, func.count(), func.count(distinct(CaseFact.client_id)))
                           .where(*in_care(req)).group_by(CaseFact.caseworker_id)).all()
    processes = {cw: (n, clients) for cw, n, clients in rows}
    ids = set(processes) | set(meetings["by_caseworker"]) | set(actions["by_caseworker"]) \
        | set(closed["by_caseworker"])
    names = dict(session.execute(select(User.id, User.display_name)
                                 .where(User.id.in_([i for i in ids if i is not None]))).all()) if ids else {}
    result = []
    for cw in sorted(ids, key=lambda i: (names.get(i) or "", i or 0)):
        n, clients = processes.get(cw, (0, 0))
        closed_n, days = closed["by_caseworker"].get(cw, (0, 0))
        result.append({"key": str(cw) if cw is not None else "", "caseworker_id": cw,
                       "name": names.get(cw, "—"), "processes": n, "clients": clients,
                       "meetings": meetings["by_caseworker"].get(cw, 0), "actions": actions["by_caseworker"].get(cw, 0),
                       "closures": closed_n, "average_days": ratio(days, closed_n)})
    return result


def months(session, req: ReportRequest, meetings: dict, actions: dict, closed: dict) -> list[dict]:
    # By day, the order of the taken-into-care index (no sort); the days are summed into months here.
    taken: defaultdict[str, int] = defaultdict(int)
    for day, n in session.execute(select(type_coerce(CaseFact.taken_into_care, String), func.count())
                                  .where(CaseFact.taken_into_care >= req.date_from,
                                         CaseFact.taken_into_care <= req.date_to, *fact_filters(req))
                                  .group_by(CaseFact.taken_into_care)):
        taken[str(day)[:7]] += n
    closed_by_month = closed["by_month"]
    result, day = [], req.date_from.replace(day=1)
    while day <= req.date_to:
        key = f"{day.year:04d}-{day.month:02d}"
        result.append({"key": key, "taken_into_care": taken.get(key, 0), "closures": closed_by_month.get(key, 0),
                       "meetings": meetings["by_month"].get(key, 0), "actions": actions["by_month"].get(key, 0)})
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return result
