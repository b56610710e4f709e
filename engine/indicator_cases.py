"""Drill-down: the cases behind any figure of the report, so a manager can check a number.

Each indicator (and each row of a breakdown, named by ``key``) maps to the same condition the figure counts;
the list shows pseudonymous client codes, and names only to the roles allowed to see them (``NAME_ROLES``).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select

from .errors import Forbidden, ValidationFailed
from .forms.input_check import check_offset
from .indicator_queries import band_condition, closed_in, fact_filters, in_care
from .indicators import DEFINITIONS
from .people.users import Actor
from .report_models import CaseAction, CaseFact, CaseMeeting, CaseProblemType
from .report_request import ReportRequest, authorise, may_see_names
from .store.models import Client, User

MAX_LIMIT = 1000


def _condition(req: ReportRequest, indicator: str,
               key: str | None) -> tuple[list, type[CaseMeeting] | type[CaseAction] | None]:
    """(where-clauses on case_facts, optional dated-entry table) for one figure."""
    if indicator in ("I1", "I2", "I4", "I9"):
        return in_care(req), None
    if indicator in ("I3", "I8"):
        return in_care(req) + [CaseFact.client_status == "new"], None
    if indicator == "I5":
        try:
            band = req.bands[int(key or "")]
        except (ValueError, IndexError):
            raise ValidationFailed(f"I5 needs the number of an income band (0–{len(req.bands) - 1}), not '{key}'",
                                   [{"field": "key", "message": "no such band"}]) from None
        return in_care(req) + [band_condition(band)], None
    if indicator in ("I6", "I7", "I17"):
        if not key:
            raise ValidationFailed(f"{indicator} needs a problem type as key (e.g. 'financial' or "
                                   f"'financial:with_agreement')", [{"field": "key", "message": "missing"}])
        problem, _, split = key.partition(":")
        where = in_care(req) + [exists().where(CaseProblemType.case_id == CaseFact.case_id,
                                               CaseProblemType.problem_type == problem)]
        if split == "with_agreement":
            where.append(CaseFact.agreement_date.is_not(None))
        elif split == "without_agreement":
            where.append(CaseFact.agreement_date.is_(None))
        elif split:
            raise ValidationFailed(f"'{split}' is neither 'with_agreement' nor 'without_agreement'",
                                   [{"field": "key", "message": "unknown split"}])
        return where, None
    if indicator == "I10":
        return fact_filters(req), CaseMeeting
    if indicator == "I11":
        return fact_filters(req), CaseAction
    if indicator in ("I12", "I13", "I14"):
        return closed_in(req) + ([CaseFact.closure_reason == key] if key else []), None
    if indicator in ("I15", "I16"):
        return closed_in(req) + [CaseFact.follow_up.is_(True)], None
    raise ValidationFailed(f"unknown indicator '{indicator}'; the indicators are {', '.join(DEFINITIONS)}",
                           [{"field": "indicator", "message": "unknown"}])


def cases_behind(runtime, actor: Actor, req: ReportRequest, indicator: str, key: str | None = None,
                 with_names: bool = False, limit: int = 100, offset: int = 0) -> dict:
    check_offset("offset", offset)
    req = authorise(actor, req)
    if with_names and not may_see_names(actor):
        raise Forbidden("the list by name is for the professional lead and the manager")
    indicator = indicator.upper()
    where, dated = _condition(req, indicator, key)
    columns: list[Any] = [CaseFact, Client.client_code, User.display_name]  # an entity and columns
    if with_names:
        columns += [Client.family_name, Client.given_name]
    query = select(*columns).outerjoin(Client, Client.id == CaseFact.client_id) \
        .outerjoin(User, User.id == CaseFact.caseworker_id).where(*where)
    if dated is not None:
        on = dated.met_on if issubclass(dated, CaseMeeting) else dated.acted_on
        entries = select(dated.case_id, func.count().label("entries")) \
            .where(on >= req.date_from, on <= req.date_to, *fact_filters(req, dated)) \
            .group_by(dated.case_id).subquery()
        query = query.add_columns(entries.c.entries).join(entries, entries.c.case_id == CaseFact.case_id)
    with runtime.db.reading() as session:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
        rows = session.execute(query.order_by(CaseFact.case_id).limit(min(limit, MAX_LIMIT)).offset(offset)).all()
    items = []
    for row in rows:
        fact = row[0]
        item = {"case_id": fact.case_id, "process_key": fact.process_key, "client_code": row[1],
                "caseworker": row[2], "client_status": fact.client_status,
                "taken_into_care": _iso(fact.taken_into_care), "agreement_date": _iso(fact.agreement_date),
                "closure_date": _iso(fact.closure_date), "closure_reason": fact.closure_reason,
                "follow_up": fact.follow_up, "household_size": fact.household_size,
                "total_income": fact.total_income, "per_capita_income": fact.per_capita_income,
                "care_days": fact.care_days}
        if with_names:
            item["name"] = f"{row[3]} {row[4]}" if row[3] else None
        if dated is not None:
            item["entries"] = row[-1]
        items.append(item)
    return {"indicator": indicator, "key": key, "period": {"from": req.date_from.isoformat(),
                                                           "to": req.date_to.isoformat()},
            "caseworker_id": req.caseworker_id, "total": total, "items": items, "with_names": with_names}


def _iso(value):
    return value.isoformat() if value is not None else None
