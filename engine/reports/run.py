"""A declared report for a user: which reports they may read, the report of a period with the option labels of
its tables, and the cases behind any figure (drill-down) under the same conditions as the figure."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, select

from ..cases import masking
from ..errors import Forbidden, ValidationFailed
from ..forms.input_check import MAX_ID, check_offset, is_id
from ..people.users import Actor
from ..store import audit, clock, keys
from ..store.models import Case
from . import compute as c
from .request import ReportRequest, authorise, may_read, may_see_names

MAX_LIMIT = 1000


def available(runtime, actor: Actor) -> list[dict]:
    """The deployed reports the actor may read: key, title, help, package."""
    with runtime.db.reading() as session:
        found = c.current(session)
    return [{"key": k, "title": r["title"], "help": r.get("help"), "package": r["package"]}
            for k, r in found.items() if may_read(actor, r["access"])]


def layout(report: dict) -> dict:
    """What a page or an export needs to show the result: titles, headings and the shown columns of each table."""
    return {"tables": [{"id": t["id"], "title": t["title"], "heading": t.get("heading"),
                        "rows": t["rows"], "columns": [{"id": col["id"], "label": col["label"],
                                                        "ratio": "ratio" in col, "paired": "paired" in col}
                                                       for col in t["columns"] if col.get("show", True)]}
                       for t in report["tables"]]}


def report(runtime, actor: Actor, key: str, req: ReportRequest) -> dict:
    """The report as the actor may see it, with the option labels of its processes' forms."""
    with runtime.db.reading() as session:
        definition = c.definition(session, key)
        req = authorise(actor, req, definition["access"])
        result = c.compute(session, definition, req)
        result["labels"] = c.labels(runtime, session, definition)
        # The caseworker filter as the service names the role, and the one asked for by name.
        result["caseworker_role"] = definition.get("caseworker_role")
        if req.caseworker_id is not None:
            from ..store.models import User

            result["caseworker_name"] = session.execute(
                select(User.display_name).where(User.id == req.caseworker_id)).scalar()
    result["names_allowed"] = may_see_names(actor, definition["access"])
    result["layout"] = layout(definition)
    return result


def _target(report: dict, target: str) -> tuple[dict, dict | None]:
    """(the measure whose cases are listed, its table or None) for an indicator id or 'table.column'."""
    figures = {f["id"]: f for f in report["indicators"]}
    tables = {t["id"]: t for t in report["tables"]}
    table_id, _, column_id = target.partition(".")
    if column_id:
        table = tables.get(table_id)
        columns = {col["id"]: col for col in (table or {}).get("columns", [])}
        if table is None or column_id not in columns:
            raise ValidationFailed(f"no column '{target}' in report '{report['key']}'",
                                   [{"field": "indicator", "message": "unknown"}])
        measure = columns[column_id]
        _refuse_anonymous(measure, target)
        if "ratio" in measure:
            of = measure["ratio"]["of"]
            return _target(report, f"{table_id}.{of}" if of in columns else of)
        return measure, table
    fig = next((f for fid, f in figures.items() if fid.lower() == target.lower()), None)
    if fig is None:
        raise ValidationFailed(f"unknown indicator '{target}'; the indicators are "
                               f"{', '.join(f['id'] for f in report['indicators'])}",
                               [{"field": "indicator", "message": "unknown"}])
    if "table" in fig and not c._is_aggregate(fig):
        table = tables[fig["table"]]
        column = fig.get("drill") or next(col["id"] for col in table["columns"] if c._is_aggregate(col))
        return _target(report, f"{table['id']}.{column}")
    if "ratio" in fig:
        return _target(report, fig["ratio"]["of"])
    _refuse_anonymous(fig, target)
    if fig.get("registrations"):
        raise ValidationFailed(f"'{fig['id']}' counts registrations, not the cases of this report",
                               [{"field": "indicator", "message": "no cases behind it"}])
    return fig, None


def _refuse_anonymous(measure: dict, target: str) -> None:
    """A figure of anonymous answers has no cases behind it, by design (docs/forms.md, "Anonymous
    questionnaires")."""
    if "paired" in measure:
        raise ValidationFailed(f"'{target}' is computed from anonymous answers: no case is behind it",
                               [{"field": "indicator", "message": "anonymous answers have no cases"}])


def _row_conditions(comp: c.Compiler, report: dict, table: dict | None, row_key: str | None, collection,
                    req: ReportRequest) -> tuple[list, dt.date, dt.date]:
    """The conditions that pick a table's row, and the period (a month's or quarter's row narrows it)."""
    start, end = req.date_from, req.date_to
    if table is None:
        return [], start, end
    period, split = c._splits(table["rows"])
    if not row_key:
        if split.kind == "bands":
            raise ValidationFailed(f"'{table['id']}' needs the number of a band as key",
                                   [{"field": "key", "message": "missing"}])
        if split.kind in ("values",) and period is None:
            raise ValidationFailed(f"'{table['id']}' needs a row's key (e.g. one of its values)",
                                   [{"field": "key", "message": "missing"}])
        return [], start, end
    key = row_key
    if period is not None:
        spans = {k: (a, b) for k, a, b in c.subperiods(period.kind, start, end)}
        pkey, _, key = row_key.partition("/") if split.kind != "none" else (row_key, "", "")
        if pkey not in spans:
            raise ValidationFailed(f"'{pkey}' is no {period.kind} of the period", [{"field": "key",
                                                                                   "message": "unknown"}])
        start, end = spans[pkey]
        if split.kind == "none" or not key:
            return [], start, end
    src = c.E if collection is not None else c.C
    if split.kind == "bands":
        bands = c._bands_of(split, req)
        try:
            # ASCII digits only: int() also takes "-1" (the last band, silently) and " 1".
            band = bands[int(key) if key.isascii() and key.isdigit() else -len(bands) - 1]
        except IndexError:
            raise ValidationFailed(f"'{table['id']}' needs the number of a band (0–{len(bands) - 1}), not '{key}'",
                                   [{"field": "key", "message": "no such band"}]) from None
        return [comp.band_condition(split, band, end, collection)], start, end
    if split.kind == "caseworker":
        if not key.isdigit():
            return [src.c.caseworker_id.is_(None)], start, end
        if not is_id(key):  # "²" is a digit to str.isdigit, not to int; a longer one fits no id column
            raise ValidationFailed(f"'{key[:40]}' is no caseworker's id (1 to {MAX_ID})",
                                   [{"field": "key", "message": f"must be a caseworker's id from 1 to {MAX_ID}"}])
        return [src.c.caseworker_id == int(key)], start, end
    if split.kind == "values":
        return [c.E.c.value == key], start, end
    if split.kind == "fact":
        expr = comp.value(split.name or "", collection)
        return [expr.is_(None) if key == split.missing else expr == key], start, end
    return [], start, end


CLIENT_NAMES_LISTED = "client_names_listed"


def cases_behind(runtime, actor: Actor, key: str, req: ReportRequest, target: str, row_key: str | None = None,
                 with_names: bool = False, limit: int = 100, offset: int = 0) -> dict:
    """The cases a figure counts (the same conditions), with their facts; names only for ``access.names``."""
    check_offset("offset", offset)
    with runtime.db.reading() as session:
        report = c.definition(session, key)
        req = authorise(actor, req, report["access"])
        if with_names and not may_see_names(actor, report["access"]):
            raise Forbidden("the list by name is for the roles: " + ", ".join(report["access"]["names"]))
        found = cases_in(session, report, req, target, row_key, with_names, limit, offset)
        if not may_see_names(actor, report["access"]):
            _mask_personal_facts(runtime, session, actor, report, found["items"])
    if with_names and found["items"]:
        # A list by name shows clients' personal data: who saw whose names is an event of the privacy stream.
        with runtime.db.unit_of_work() as session:
            audit.record_system_event(session, actor.username, clock.now(), CLIENT_NAMES_LISTED,
                                      {"report": key, "indicator": target, "row": row_key,
                                       "period": found["period"],
                                       "clients": sorted({i["client_code"] for i in found["items"]
                                                          if i.get("client_code")})}, stream="privacy")
    return found


def _mask_personal_facts(runtime, session, actor: Actor, report: dict, items: list[dict]) -> None:
    """A drill-down lists each case's facts: those read from a field its process declares personal (free text,
    identifying, financial: engine/cases/masking.py), or computed from one, read ``•••`` to a role outside the
    report's ``access.names``, as on the case page — except in the cases whose page shows them to ``actor`` (a
    caseworker's own cases); the client code, dates and categories stay."""
    if not items:
        return
    of_case = {row.id: row for row in session.execute(
        select(Case.id, Case.definition_id, Case.caseworker_id, Case.started_by)
        .where(Case.id.in_({i["case_id"] for i in items})))}
    personal: dict[int, frozenset[str]] = {}
    for item in items:
        case = of_case.get(item["case_id"])
        if case is None or masking.sees_names(actor, case):
            continue
        definition = case.definition_id
        if definition not in personal:
            personal[definition] = _personal_facts(report, masking.identifying_fields(
                runtime.definition(session, definition)))
        for name in personal[definition]:
            if item.get(name) not in (None, "", []):
                item[name] = masking.MASK


def _personal_facts(report: dict, fields: frozenset[str]) -> frozenset[str]:
    """The report's facts read from a personal field (of a records collection: one of its rows' fields), or
    computed from such a fact (``divide``, ``days_between``, ``otherwise``)."""
    facts = report.get("facts") or {}
    found: set[str] = set()
    for name, spec in facts.items():
        field = spec.get("field") if isinstance(spec, dict) else None
        if field in fields or any(f"{field}/{sub}" in fields for sub in (spec.get("fields") or {})):
            found.add(name)
    grew = True
    while grew:  # facts computed from personal ones, however deep
        grew = False
        for name, spec in facts.items():
            if name in found or not isinstance(spec, dict):
                continue
            sources = [*(spec.get("divide") or ()), *(spec.get("days_between") or ()), spec.get("otherwise")]
            if any(s in found for s in sources):
                found.add(name)
                grew = True
    return frozenset(found)


def cases_in(session, report: dict, req: ReportRequest, target: str, row_key: str | None = None,
             with_names: bool = False, limit: int = 100, offset: int = 0) -> dict:
    """``cases_behind`` inside a session the caller holds, for a request already authorised."""
    from ..store.models import Client, User

    key = report["key"]
    measure, table = _target(report, target)
    comp = c.Compiler(report, req, session)
    split = c._splits(table["rows"])[1] if table is not None else c.Split()
    collection = comp.source_of(measure, split)
    conds, start, end = _row_conditions(comp, report, table, row_key, collection, req)
    conds += comp.period_condition(measure, start, end)
    if "where" in measure:
        conds.append(comp.condition(measure["where"], collection))
    if measure.get("process"):
        conds.append(c.C.c.process_key == measure["process"])
    elif req.process_key:
        conds.append(c.C.c.process_key == req.process_key)
    src = c.E if collection is not None else c.C
    conds.append(src.c.report_key == key)
    if req.caseworker_id is not None:
        conds.append(src.c.caseworker_id == req.caseworker_id)
    columns: list[Any] = [c.C.c.case_id, c.C.c.process_key, c.C.c.start_day, c.C.c.end_day, c.C.c.facts,
                          Client.client_code, User.display_name]
    if with_names:
        columns += [Client.family_name, Client.given_name]  # sealed: opened row by row below
    if collection is not None:
        conds.append(c.E.c.collection == collection)
        entries = select(c.E.c.case_id, func.count().label("entries")).select_from(c.E).join(
            c.C, and_(c.C.c.report_key == c.E.c.report_key, c.C.c.case_id == c.E.c.case_id)) \
            .outerjoin(c.CL, c.CL.c.id == c.E.c.client_id).where(*conds).group_by(c.E.c.case_id).subquery()
        query = select(*columns, entries.c.entries).select_from(c.C).join(
            entries, entries.c.case_id == c.C.c.case_id).where(c.C.c.report_key == key)
    else:
        query = select(*columns).select_from(c.C).where(*conds)
    query = query.outerjoin(Client, Client.id == c.C.c.client_id).outerjoin(User, User.id == c.C.c.caseworker_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = session.execute(query.order_by(c.C.c.case_id).limit(min(limit, MAX_LIMIT)).offset(offset)).all()
    items: list[dict] = []
    for row in rows:
        item = {"case_id": row.case_id, "process_key": row.process_key, "client_code": row.client_code,
                "caseworker": row.display_name, "start": _iso(row.start_day), "end": _iso(row.end_day),
                **(row.facts or {})}
        if with_names:
            family = keys.open_text(session, row.family_name, keys.CLIENT)
            item["name"] = f"{family} {keys.open_text(session, row.given_name, keys.CLIENT)}" if family else None
        if collection is not None:
            item["entries"] = row.entries
        items.append(item)
    return {"report": key, "indicator": target, "key": row_key,
            "period": {"from": req.date_from.isoformat(), "to": req.date_to.isoformat()},
            "caseworker_id": req.caseworker_id, "total": total, "items": items, "with_names": with_names}


def _iso(value):
    return value.isoformat() if value is not None else None
