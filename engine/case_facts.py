"""Keeping the indicator rows (``report_models``) in step with each case, inside the command that changed it.

An observer of ``engine.runtime.advance`` (it runs at the end of every start, completion and timer firing, in the same
transaction) reads the case's current data and writes what the indicators need: the dates taken into care (1),
of the agreement (46) and of the closure (52), household size (7), total and per-capita income (39, 40),
problem types (6), closure reason (53), follow-up (54), one row per meeting (47) and per action (50).

Which data key holds which seed field is read from the process's own forms (``x-seed-field``), so a process
designer who renames a key or draws another process with the same form fields keeps the indicators working.
A process whose forms carry no field 1 has no such facts (the intake, for example).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, select

from .report_models import CaseAction, CaseFact, CaseMeeting, CaseProblemType
from .store import json_text
from .store.db import Prepared
from .store.models import Base

# The lead's agreement to a closure (steps 3.8 and 3.11): a closure recorded but not yet agreed is not one.
CLOSURE_AGREED_KEY = "closure_agreed"
SCALAR_FIELDS = {1: "taken_into_care", 6: "problem_types", 7: "household_size", 39: "total_income",
                 40: "per_capita_income", 46: "agreement_date", 52: "closure_date", 53: "closure_reason",
                 54: "follow_up"}


@dataclass
class FactKeys:
    """Where a process keeps each seed field in its case data."""

    scalars: dict[str, str] = field(default_factory=dict)  # fact name → data key
    meetings: tuple[str, str] | None = None  # (list key, date key inside an entry)
    actions: tuple[str, str] | None = None
    closure_needs_agreement: bool = False


def fact_keys(view) -> FactKeys | None:
    """The seed-field → data-key map of a deployed version (computed once, kept on the view)."""
    cached = getattr(view, "_segito_fact_keys", False)
    if not isinstance(cached, bool):  # False: not computed yet; None: this version has no fact keys
        return cached
    keys = FactKeys()
    for form in view.forms.values():
        for name, prop in (form.schema.get("properties") or {}).items():
            if "x-seed-form" in prop:  # intake fields carry their own numbering
                continue
            number = prop.get("x-seed-field")
            if number in SCALAR_FIELDS:
                keys.scalars.setdefault(SCALAR_FIELDS[number], name)
            if name == CLOSURE_AGREED_KEY:
                keys.closure_needs_agreement = True
            items = (prop.get("items") or {}).get("properties") or {}
            for item_key, item in items.items():
                if item.get("x-seed-field") == 47 and keys.meetings is None:
                    keys.meetings = (name, item_key)
                if item.get("x-seed-field") == 50 and keys.actions is None:
                    keys.actions = (name, item_key)
    result = keys if "taken_into_care" in keys.scalars else None
    view._segito_fact_keys = result
    return result


def _date(value) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value.replace(".", "-")[:10])
        except ValueError:
            return None
    return None


def _int(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dates(data: dict, where: tuple[str, str] | None) -> list[dt.date]:
    if where is None:
        return []
    entries = data.get(where[0]) or []
    found = [_date(e.get(where[1])) for e in entries if isinstance(e, dict)]
    return sorted(d for d in found if d is not None)


def facts_of(data: dict, keys: FactKeys, completed: bool) -> dict:
    """The indicator facts of one case's data (pure: no database)."""
    get = lambda name: data.get(keys.scalars[name]) if name in keys.scalars else None  # noqa: E731
    size, total = _int(get("household_size")), _int(get("total_income"))
    per_capita = get("per_capita_income")
    if not isinstance(per_capita, (int, float)) or isinstance(per_capita, bool):
        per_capita = total / size if total is not None and size else None
    taken = _date(get("taken_into_care"))
    closure = _date(get("closure_date"))
    agreed = completed or not keys.closure_needs_agreement or data.get(CLOSURE_AGREED_KEY) is True
    if closure is not None and not agreed:
        closure = None  # recorded, but the professional lead has not agreed to it (yet)
    problems = get("problem_types")
    follow_up = get("follow_up") if closure else None
    return {
        "client_status": data.get("client_status"),
        "taken_into_care": taken,
        "household_size": size,
        "total_income": total,
        "per_capita_income": float(per_capita) if per_capita is not None else None,
        "agreement_date": _date(get("agreement_date")),
        "closure_date": closure,
        "closure_reason": (get("closure_reason") or None) if closure else None,
        "follow_up": bool(follow_up) if closure and follow_up is not None else (False if closure else None),
        "care_days": (closure - taken).days if closure and taken else None,
        "problem_types": sorted({p for p in problems if isinstance(p, str)}) if isinstance(problems, list) else [],
        "meetings": _dates(data, keys.meetings),
        "actions": _dates(data, keys.actions),
    }


def _current_data(workflow, ready: dict | None = None) -> dict:
    # The same source as engine.cases.cases.case_data: what the waiting tasks see, or what the last task left.
    # ``ready``: the advance's ready user tasks (in tree order, as get_tasks gives them), saving a tree walk.
    waiting = list(ready.values()) if ready is not None else workflow.get_tasks(state=TaskState.READY, manual=True)
    source = waiting[0] if waiting else workflow.last_task
    return source.data if source is not None else {}


# json.dumps(..., sort_keys=True, default=str) builds an encoder per call; this one writes the same text.
_digest_json = json_text.one_shot(json.JSONEncoder(sort_keys=True, default=str))


def _digest(case, caseworker_id, facts: dict) -> str:
    body = _digest_json([case.process_key, case.client_id, caseworker_id, facts])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _problem_copies(case, caseworker_id, facts: dict) -> dict:
    """The case's facts each problem-type row carries (see ``CaseProblemType``)."""
    return dict(client_id=case.client_id, caseworker_id=caseworker_id, process_key=case.process_key,
                taken_into_care=facts["taken_into_care"], closure_date=facts["closure_date"],
                agreed=facts["agreement_date"] is not None)


def _problem_rows(case, caseworker_id, facts: dict) -> list[dict]:
    copies = _problem_copies(case, caseworker_id, facts)
    return [dict(copies, case_id=case.id, problem_type=p) for p in facts["problem_types"]]


_facts_table = CaseFact.__table__
_UPDATE_FACTS: dict[tuple[str, ...], Prepared] = {}  # by the columns an update sets


def _update_fact(columns: tuple[str, ...]) -> Prepared:
    """The UPDATE of a fact row that sets these columns only: SQLite rewrites the index entries of every column in
    the SET list, even to the same value, and a command mostly changes one or two facts, no indexed one."""
    statement = _UPDATE_FACTS.get(columns)
    if statement is None:
        statement = _UPDATE_FACTS[columns] = Prepared(
            _facts_table.update().where(_facts_table.c.case_id == bindparam("k_case_id"))
            .values({name: bindparam(name) for name in columns}))
    return statement


_INSERT_ROWS = {table: Prepared(table.__table__.insert()) for table in (CaseProblemType, CaseMeeting, CaseAction)}
_INSERT_FACT = Prepared(_facts_table.insert())
_problems_table = CaseProblemType.__table__
_UPDATE_PROBLEMS = Prepared(_problems_table.update().where(_problems_table.c.case_id == bindparam("k_case_id")).values(
    {name: bindparam(name) for name in ("client_id", "caseworker_id", "process_key", "taken_into_care",
                                        "closure_date", "agreed")}))


def observe(advance, created_rows, completed: bool) -> None:
    """The observer registered in ``engine.runtime.advance.OBSERVERS``."""
    write(advance.session, advance.case, advance.view, advance.workflow, advance.caseworker_id, advance.at,
          completed, getattr(advance, "ready_after", None))


def write(session, case, view, workflow, caseworker_id: int | None, at: dt.datetime, completed: bool,
          ready: dict | None = None) -> None:
    """Bring one case's fact rows in line with its workflow's data; writes nothing when nothing changed."""
    keys = fact_keys(view)
    if keys is None:
        return
    facts = facts_of(_current_data(workflow, ready), keys, completed)
    # What this workflow object last wrote: it lives in the workflow cache, which is keyed by lock version and
    # evicted when a command fails, so it is what the row holds now.
    known = getattr(workflow, "_segito_facts", None)
    workflow._segito_facts = None
    ident = (case.process_key, case.client_id, caseworker_id)
    if known is not None and known[2] == ident and known[1] == facts and session.in_transaction():
        workflow._segito_facts = known  # nothing the digest covers changed: no hashing, no statement
        return
    digest = _digest(case, caseworker_id, facts)
    row = dict(_scalars(facts), client_id=case.client_id, caseworker_id=caseworker_id, digest=digest, updated_at=at)
    if known is not None and session.in_transaction():
        if known[0] != digest:
            # Core statements on the transaction's connection: the ORM layer adds only time.
            _write_changes(session.connection(), case, caseworker_id, facts, known, row)
    elif getattr(case, "state", None) == b"" and session.in_transaction():
        # A case being started (its state not yet saved) has no rows yet: insert them, no look-up, no ORM.
        conn = session.connection()
        _INSERT_FACT.execute(conn, dict(row, case_id=case.id, process_key=case.process_key))
        _insert_children(conn, _child_rows(case, caseworker_id, facts))
    else:
        _write_by_lookup(session, case, caseworker_id, facts, row)
    workflow._segito_facts = (digest, facts, ident)


def _scalars(facts: dict) -> dict:
    return {k: v for k, v in facts.items() if k not in ("problem_types", "meetings", "actions")}


def _child_rows(case, caseworker_id, facts: dict) -> list[tuple[str, type[Base], list[dict]]]:
    """(fact name, table, rows) of the one-to-many facts: problem types, meetings, actions."""
    common = dict(case_id=case.id, caseworker_id=caseworker_id, process_key=case.process_key)
    return [("problem_types", CaseProblemType, _problem_rows(case, caseworker_id, facts)),
            ("meetings", CaseMeeting, [dict(common, met_on=d) for d in facts["meetings"]]),
            ("actions", CaseAction, [dict(common, acted_on=d) for d in facts["actions"]])]


def _insert_children(conn, children) -> None:
    for _name, table, rows in children:
        if rows:
            _INSERT_ROWS[table].execute(conn, rows)


def _write_changes(conn, case, caseworker_id, facts: dict, known: tuple, row: dict) -> None:
    """Update the rows this workflow wrote last (``known``) to ``facts``: only what changed."""
    prev = known[1]
    before = dict(_scalars(prev), client_id=known[2][1], caseworker_id=known[2][2])
    changed = {k: v for k, v in row.items() if k in ("digest", "updated_at") or k not in before or before[k] != v}
    _update_fact(tuple(changed)).execute(conn, dict(changed, k_case_id=case.id))
    copies = _problem_copies(case, caseworker_id, facts)
    if facts["problem_types"] == prev["problem_types"] and facts["problem_types"] \
            and copies != dict(_problem_copies(case, known[2][2], prev), client_id=known[2][1]):
        _UPDATE_PROBLEMS.execute(conn, dict(copies, k_case_id=case.id))
    for name, table, rows in _child_rows(case, caseworker_id, facts):
        if facts[name] == prev[name]:
            continue
        old = prev[name]
        if old and facts[name][:len(old)] == old and name != "problem_types":
            rows = rows[len(old):]           # only appended: insert the new ones
        elif old:
            conn.execute(table.__table__.delete().where(table.__table__.c.case_id == case.id))
        _insert_children(conn, [(name, table, rows)])


def _write_by_lookup(session, case, caseworker_id, facts: dict, row: dict) -> None:
    """Without knowing what was written before (a workflow loaded from the database): read the row and compare."""
    stored = session.get(CaseFact, case.id)
    if stored is not None and stored.digest == row["digest"]:
        return
    if stored is None:
        session.add(CaseFact(case_id=case.id, process_key=case.process_key, **row))
    else:
        for name, value in row.items():
            setattr(stored, name, value)
        for table in (CaseProblemType, CaseMeeting, CaseAction):
            session.execute(delete(table).where(table.case_id == case.id))
    session.flush()
    _insert_children(session.connection(), _child_rows(case, caseworker_id, facts))


def stored_cases(runtime, session, case_ids: list[int] | None, wanted):
    """(case, view, workflow) of every started case, or of those in ``case_ids``, whose process version
    ``wanted(view)``; each workflow goes back into the runtime's cache afterwards, as a command leaves it."""
    from .store.models import Case

    query = select(Case).where(Case.state != b"")
    if case_ids:
        query = query.where(Case.id.in_(case_ids))
    for case in session.execute(query).scalars().all():
        view = runtime.definition(session, case.definition_id)
        if not wanted(view):
            continue
        workflow = runtime.workflow(session, case)
        yield case, view, workflow
        runtime.workflows.put(case.id, case.lock_version, workflow)


def rebuild(runtime, case_ids: list[int] | None = None) -> int:
    """Recompute the facts of existing cases from their stored state (after an upgrade; never on a hot path)."""
    from .store import clock

    done = 0
    with runtime.db.unit_of_work() as session:
        for case, view, workflow in stored_cases(runtime, session, case_ids, lambda v: fact_keys(v) is not None):
            workflow._segito_facts = None  # recompute from the data: the rows may no longer be what it wrote
            write(session, case, view, workflow, case.caseworker_id, clock.now(), workflow.is_completed())
            done += 1
    return done
