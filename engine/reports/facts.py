"""Keeping the rows of declared reports in step with each case, inside the command that changed it.

An observer of ``engine.runtime.advance`` (it runs at the end of every start, completion and timer firing, in the same
transaction) reads the case's current data and, for every report of the case's package version that follows its
process, writes the case's facts (``report_cases``) and the entries of its collections (``report_entries``):
only what changed, and nothing when nothing did. A completed step of a form a report collects
(``completions``) adds one entry, written once. Which field becomes which fact is the report's declaration
(docs/reports.md), never code.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, select

from ..cases import members
from ..store import json_text
from ..store.db import Prepared
from ..store.models import Client, ProcessDefinition
from .kinds import kind_of
from .models import ReportCase, ReportDefinition, ReportEntry
from .request import service_zone

_cases = ReportCase.__table__
_entries = ReportEntry.__table__
_INSERT_CASE = Prepared(_cases.insert())
_INSERT_ENTRIES = Prepared(_entries.insert())
_UPDATE_CASE = Prepared(_cases.update().where(_cases.c.id == bindparam("k_id")).values(
    {name: bindparam(name) for name in ("client_id", "caseworker_id", "start_day", "end_day", "facts", "digest",
                                        "updated_at")}))
_digest_json = json_text.one_shot(json.JSONEncoder(sort_keys=True, default=str))


_CARRIED: dict[int, tuple[dict, list[str]]] = {}


def _carried(report: dict) -> list[str]:
    """The case facts the report's entries carry (``compute.carried_facts``), once per stored definition."""
    kept = _CARRIED.get(id(report))
    if kept is None or kept[0] is not report:
        from .compute import carried_facts  # the computation's own reading of the figures

        kept = _CARRIED[id(report)] = (report, carried_facts(report))
        if len(_CARRIED) > 256:  # definitions are few; a long-lived process reading many keeps the newest
            _CARRIED.pop(next(iter(_CARRIED)))
    return kept[1]


def reports_of(session, view) -> list[dict]:
    """The reports that follow a deployed process version: those stored with its package version that name its
    process (read once per version, kept on the view: a version's reports never change)."""
    cached = getattr(view, "_segito_reports", None)
    if cached is None:
        version_id = session.execute(select(ProcessDefinition.package_version_id)
                                     .where(ProcessDefinition.id == view.id)).scalar()
        rows = session.execute(select(ReportDefinition.definition).where(
            ReportDefinition.package_version_id == version_id)).scalars().all() if version_id is not None else []
        cached = [r for r in rows if view.process_key in r["processes"]]
        view._segito_reports = cached
    return cached


# ---- facts of data (pure) -------------------------------------------------------------------------------------

def _date(value) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value.replace(".", "-")[:10]).isoformat()
        except ValueError:
            return None
    return None


def typed(value, kind: str | None):
    """A form value as a fact of the declared type (None when it is not one)."""
    if kind == "date":
        return _date(value)
    if kind == "integer":
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "number":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "list":
        return sorted({v for v in value if isinstance(v, str)}) if isinstance(value, list) else []
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float, bool)):
        return value
    return None


def holds(cond: dict, get, data: dict, completed: bool) -> bool:
    """A condition (docs/reports.md, "Conditions") over facts (``get``) and the case's data."""
    if "any" in cond:
        return any(holds(c, get, data, completed) for c in cond["any"])
    if "all" in cond:
        return all(holds(c, get, data, completed) for c in cond["all"])
    if "not" in cond:
        return not holds(cond["not"], get, data, completed)
    if "completed" in cond:
        return completed
    value = get(cond["fact"]) if "fact" in cond else data.get(cond["field"])
    if "equals" in cond:
        return value == cond["equals"] and isinstance(value, bool) == isinstance(cond["equals"], bool)
    if "in" in cond:
        return value in cond["in"]
    if "above" in cond:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > cond["above"]
    filled = value not in (None, "", [])
    return filled == cond["filled"]


def facts_of(report: dict, data: dict, completed: bool, started_on: str | None = None,
             completed_on: str | None = None) -> dict[str, Any]:
    """The scalar facts of one case's data (pure: no database). ``client`` facts are read when computing."""
    declared = report["facts"]
    found: dict[str, Any] = {}

    def get(name: str):
        if name in found:
            return found[name]
        found[name] = None  # a cycle reads None rather than recursing
        fact = declared[name]
        value: Any = None
        if "field" in fact:
            value = typed(data.get(fact["field"]), fact.get("type"))
        elif "divide" in fact:
            a, b = (get(n) for n in fact["divide"])
            value = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
        elif "days_between" in fact:
            a, b = (get(n) for n in fact["days_between"])
            value = (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days if a and b else None
        elif fact.get("case") == "started":
            value = started_on
        elif fact.get("case") == "completed":
            value = completed_on if completed else None
        if value is None and "otherwise" in fact:
            value = get(fact["otherwise"])
        if "when" in fact and not holds(fact["when"], get, data, completed):
            value = None
        elif value is None and "default" in fact:
            value = fact["default"]
        found[name] = value
        return value

    return {name: get(name) for name, fact in declared.items() if kind_of(fact) == "scalar" and "client" not in fact}


def entries_of(report: dict, data: dict) -> dict[str, list[dict]]:
    """The entries of the collections read from the case's data (lists of values and of records), by collection."""
    result: dict[str, list[dict]] = {}
    for name, fact in report["facts"].items():
        kind = kind_of(fact)
        if kind == "values":
            values = typed(data.get(fact.get("values") or fact["field"]), "list")
            result[name] = [{"position": i, "day": None, "value": v[:300], "fields": {}} for i, v in enumerate(values)]
        elif kind == "records":
            items = data.get(fact["field"]) or []
            rows = []
            for i, item in enumerate(i for i in items if isinstance(i, dict)):
                day = _date(item.get(fact["date"])) if "date" in fact else None
                if "date" in fact and day is None:
                    continue
                row = {"position": i, "day": day, "value": None, "fields": _fields(fact, item)}
                if "client_field" in fact:  # the entry is about the client whose code the record holds
                    code = item.get(fact["client_field"])
                    row["client_code"] = code if isinstance(code, str) else None
                rows.append(row)
            result[name] = sorted(rows, key=lambda r: (r["day"] or "", r["position"]))
    return result


def _fields(fact: dict, source: dict) -> dict:
    out = {}
    for name, spec in (fact.get("fields") or {}).items():
        if isinstance(spec, dict):
            value = source.get(spec["field"])
            if "contains" in spec:
                out[name] = isinstance(value, list) and spec["contains"] in value
            else:
                out[name] = typed(value, spec.get("type"))
        else:
            out[name] = typed(source.get(name), spec)
    return out


def completion_entries(fact: dict, data: dict) -> list[dict]:
    """The entries a completed step of the collected form adds: one, or with ``values`` one per distinct value of
    that list field of the step (none without its date, when it has one)."""
    day = _date(data.get(fact["date"])) if "date" in fact else None
    if "date" in fact and day is None:
        return []
    fields = _fields(fact, data)
    if "values" in fact:
        return [{"position": i, "day": day, "value": v[:300], "fields": fields}
                for i, v in enumerate(typed(data.get(fact["values"]), "list"))]
    return [{"position": 0, "day": day, "value": None, "fields": fields}]


def period_days(report: dict, facts: dict) -> tuple[str | None, str | None]:
    start = facts.get(report["case"]["start"])
    end = None
    for name in report["case"]["end"]:
        end = facts.get(name)
        if end:
            break
    return start, end


# ---- writing ----------------------------------------------------------------------------------------------------

def _current_data(workflow, ready: dict | None = None) -> dict:
    # What the waiting tasks see, or what the last task left (as engine.cases.cases.case_data reads it). ``ready``: the
    # advance's ready user tasks in tree order, saving a tree walk.
    waiting = list(ready.values()) if ready is not None else workflow.get_tasks(state=TaskState.READY, manual=True)
    source = waiting[0] if waiting else workflow.last_task
    return source.data if source is not None else {}


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _local_day(at: dt.datetime | None) -> str | None:
    return at.astimezone(service_zone()).date().isoformat() if at is not None else None


def note_before(advance) -> None:
    """Registered in ``engine.runtime.observers.BEGIN_OBSERVERS``: each report's rows as the case's data gives them
    before the command. The command before brought the rows in step, so a command that completes no step and
    leaves the facts as they were (most timer firings) writes nothing and does not look its rows up."""
    if getattr(advance.case, "state", None) == b"":
        return  # a case being started has no rows yet
    reports = reports_of(advance.session, advance.view)
    if reports:
        data = _current_data(advance.workflow, getattr(advance, "ready_before", None))
        advance.report_rows_before = {r["key"]: _state(r, advance.case, data, advance.caseworker_id, advance.at,
                                                       False) for r in reports}


def observe(advance, created_rows, completed: bool) -> None:
    """The observer registered in ``engine.runtime.advance.OBSERVERS`` (engine/setup.py)."""
    reports = reports_of(advance.session, advance.view)
    if not reports:
        return
    data = _current_data(advance.workflow, getattr(advance, "ready_after", None))
    data = members.overlay(advance.session, getattr(advance.view, "members", None) or {}, advance.case.id, data)
    finished = sorted(getattr(advance, "finished_spiff_ids", ()) or ())
    before = getattr(advance, "report_rows_before", None) or {}
    for report in reports:
        completions = _completions(advance, report, finished)
        write(advance.session, report, advance.case, advance.workflow, data, advance.caseworker_id, advance.at,
              completed, completions, before=before.get(report["key"]))


def _completions(advance, report: dict, finished: list[str]) -> list[tuple[str, dict]]:
    collected: dict[str, list[str]] = {}  # form file → the collections of its completed steps
    for name, f in report["facts"].items():
        if "completions" in f:
            for form in [f["completions"]] if isinstance(f["completions"], str) else f["completions"]:
                collected.setdefault(form, []).append(name)
    if not collected or not finished:
        return []
    found = []
    for sid in finished:
        task = advance.workflow.get_task_from_id(UUID(sid))
        form = (advance.view.catalogue.get(task.task_spec.name) or {}).get("form") if task is not None else None
        for name in collected.get(form or "", []):
            found += [(name, entry) for entry in completion_entries(report["facts"][name], task.data)]
    return found


def _state(report: dict, case, data: dict, caseworker_id: int | None, at: dt.datetime, completed: bool) -> tuple:
    """What one case's rows of one report hold: (facts, entries, start day, end day, (process, client, caseworker))."""
    started_on = _local_day(getattr(case, "started_at", None))
    completed_on = _local_day(getattr(case, "completed_at", None) or at) if completed else None
    facts = facts_of(report, data, completed, started_on, completed_on)
    start, end = period_days(report, facts)
    return facts, entries_of(report, data), start, end, (case.process_key, case.client_id, caseworker_id)


def write(session, report: dict, case, workflow, data: dict, caseworker_id: int | None, at: dt.datetime,
          completed: bool, completions: list[tuple[str, dict]] | None = None, lookup: bool = False,
          before: tuple | None = None) -> None:
    """Bring one case's rows of one report in line with its data; writes nothing when nothing changed.
    ``before``: the rows as the data gave them before the command (``note_before``)."""
    key = report["key"]
    state = _state(report, case, data, caseworker_id, at, completed)
    facts, entries, start, end, ident = state
    memo = getattr(workflow, "_segito_report_rows", None)
    if memo is None:
        memo = workflow._segito_report_rows = {}
    known = None if lookup else memo.pop(key, None)
    if known is None and before == state and not completions and not lookup:
        return  # as the command before left them: no look-up, no statement
    in_tx = session.in_transaction()
    conn = session.connection()
    # What each entry carries of its case (engine/reports/models.py ReportEntry): its period and some facts.
    case_facts = {n: facts.get(n) for n in _carried(report)}
    carried = dict(start_day=_day(start), end_day=_day(end), case_facts=case_facts)
    common = dict(report_key=key, case_id=case.id, caseworker_id=caseworker_id, client_id=case.client_id, **carried)
    if completions:
        _INSERT_ENTRIES.execute(conn, [dict(common, collection=name, position=e["position"], day=_day(e["day"]),
                                            value=e["value"], fields=e["fields"]) for name, e in completions])
    if known is not None and known[1] == state and in_tx:
        memo[key] = known  # nothing changed: no hashing, no statement
        return
    digest = hashlib.sha256(_digest_json([key, facts, entries, start, end, ident]).encode()).hexdigest()
    row = dict(client_id=case.client_id, caseworker_id=caseworker_id, start_day=_day(start), end_day=_day(end),
               facts=facts, digest=digest, updated_at=at)
    if known is not None and in_tx:
        row_id, (old_facts, old_entries, old_start, old_end, old_ident) = known[0], known[1]
        if (old_facts, old_start, old_end, old_ident) != (facts, start, end, ident):
            _UPDATE_CASE.execute(conn, dict(row, k_id=row_id))
        if old_ident != ident or (old_start, old_end) != (start, end) or any(
                old_facts.get(n) != facts.get(n) for n in case_facts):
            _retag_entries(conn, report, case, caseworker_id, carried)
        _write_entries(conn, common, entries, old_entries, report)
    elif getattr(case, "state", None) == b"" and in_tx and not lookup:
        # A case being started (its state not yet saved) has no rows yet: insert them, no look-up.
        row_id = conn.execute(_cases.insert().values(dict(row, report_key=key, case_id=case.id,
                                                          process_key=case.process_key))).inserted_primary_key[0]
        _write_entries(conn, common, entries, {}, report)
    else:
        stored = conn.execute(select(_cases.c.id, _cases.c.digest).where(
            _cases.c.report_key == key, _cases.c.case_id == case.id)).first()
        if stored is None:
            row_id = conn.execute(_cases.insert().values(dict(row, report_key=key, case_id=case.id,
                                                              process_key=case.process_key))).inserted_primary_key[0]
        else:
            row_id = stored.id
            if stored.digest != digest:
                _UPDATE_CASE.execute(conn, dict(row, k_id=row_id))
        if stored is None or stored.digest != digest or lookup:
            # A rebuild also brings the entries of completed steps (kept) in line with the case.
            _retag_entries(conn, report, case, caseworker_id, carried)
        if stored is None or stored.digest != digest:
            names = list(entries)
            if names:
                conn.execute(delete(_entries).where(_entries.c.case_id == case.id, _entries.c.report_key == key,
                                                    _entries.c.collection.in_(names)))
            _write_entries(conn, common, entries, {}, report)
    memo[key] = (row_id, state)


def _write_entries(conn, common: dict, entries: dict, old: dict, report: dict) -> None:
    rows = []
    for name, now in entries.items():
        before = old.get(name) or []
        if now == before:
            continue
        if before and now[:len(before)] == before and kind_of(report["facts"][name]) == "records":
            fresh = now[len(before):]  # only appended: insert the new ones
        else:
            if before:
                conn.execute(delete(_entries).where(_entries.c.case_id == common["case_id"],
                                                    _entries.c.report_key == common["report_key"],
                                                    _entries.c.collection == name))
            fresh = now
        rows += [dict(common, collection=name, position=e["position"], day=_day(e["day"]), value=e["value"],
                      fields=e["fields"]) for e in fresh]
    _own_clients(conn, rows, entries)
    if rows:
        _INSERT_ENTRIES.execute(conn, rows)


def _retag_entries(conn, report: dict, case, caseworker_id: int | None, carried: dict) -> None:
    """The case's entries take its caseworker, client, period days and carried facts; those of a collection with
    ``client_field`` keep the client their record names."""
    own = [name for name, fact in report["facts"].items() if "client_field" in fact]
    where = [_entries.c.case_id == case.id, _entries.c.report_key == report["key"]]
    if not own:
        conn.execute(_entries.update().where(*where).values(caseworker_id=caseworker_id, client_id=case.client_id,
                                                            **carried))
        return
    conn.execute(_entries.update().where(*where).values(caseworker_id=caseworker_id, **carried))
    conn.execute(_entries.update().where(*where, _entries.c.collection.not_in(own)).values(client_id=case.client_id))


def _own_clients(conn, rows: list[dict], entries: dict) -> None:
    """Entries of a collection with ``client_field`` count for the client whose code their record holds (a
    group's members), not for the case's client: their ``client_id`` is that client's."""
    coded = [(row, e) for name, listed in entries.items() for e in listed if "client_code" in e
             for row in rows if row["collection"] == name and row["position"] == e["position"]]
    if not coded:
        return
    codes = {e["client_code"] for _, e in coded if e["client_code"]}
    ids = dict(conn.execute(select(Client.client_code, Client.id).where(Client.client_code.in_(codes))).all()) \
        if codes else {}
    for row, e in coded:
        row["client_id"] = ids.get(e["client_code"])


def stored_cases(runtime, session, case_ids: list[int] | None):
    """(case, view, workflow) of every started case, or of those in ``case_ids``, followed by some report; each
    workflow goes back into the runtime's cache afterwards, as a command leaves it."""
    from ..store.models import Case

    query = select(Case).where(Case.state != b"")
    if case_ids:
        query = query.where(Case.id.in_(case_ids))
    for case in session.execute(query).scalars().all():
        view = runtime.definition(session, case.definition_id)
        if not reports_of(session, view):
            continue
        workflow = runtime.workflow(session, case)
        yield case, view, workflow
        runtime.workflows.put(case.id, case.lock_version, workflow)


def rebuild(runtime, case_ids: list[int] | None = None) -> int:
    """Recompute the rows of existing cases from their stored state (after an upgrade; never on a hot path).
    Entries of completed steps are kept: each is written when its step completes, and a case's stored state no
    longer holds a finished task's data (engine/definitions/serialization.py)."""
    from ..store import clock

    done = 0
    with runtime.db.unit_of_work() as session:
        for case, view, workflow in stored_cases(runtime, session, case_ids):
            data = members.overlay(session, getattr(view, "members", None) or {}, case.id, _current_data(workflow))
            for report in reports_of(session, view):
                write(session, report, case, workflow, data, case.caseworker_id, clock.now(),
                      workflow.is_completed(), lookup=True)
            done += 1
    return done

