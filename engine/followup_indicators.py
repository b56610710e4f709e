"""The job-retention figures of seed 000 (section 5 of DOMAIN.md), from rows kept by an advance observer.

Output indicators: clients followed up (by age, sex, target group, per mentor); employers, lay helpers and
institutions involved. Result: employed on day 180. Monitoring is per mentor and quarter.

The facts are read by the data keys of the job-retention forms (bpmn/job_retention/forms): the entry form's
``employment_start``, ``employer_name`` and ``target_groups``; each visit's ``visit_date``, ``contacts``,
``lay_helpers_involved`` and ``institution_kinds`` (one row per completed visit, since every visit writes the
same keys); the day-180 check's ``check_date`` and ``employed_on_day_180``. A process is a job-retention
process when one of its forms has ``employment_start``. Sex is the entry form's optional ``sex``; a client who
did not give it is counted as "not recorded"; age is read from the client register's birth date (intake).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from .report_models import RetentionCase, RetentionVisit
from .reports.facts import _current_data
from .reports.facts import _date as _iso_date
from .reports.request import DEFAULT_ACCESS, ReportRequest, authorise, share
from .store.models import Client, User

START_KEY, VISIT_KEY, CHECK_KEY = "employment_start", "visit_date", "employed_on_day_180"
AGE_GROUPS = ((0, 25, "under 25"), (25, 35, "25–34"), (35, 45, "35–44"), (45, 55, "45–54"), (55, 200, "55+"))


def _date(value) -> dt.date | None:
    text = _iso_date(value)
    return dt.date.fromisoformat(text) if text else None


def _form_keys(view) -> set[str]:
    cached = getattr(view, "_segito_retention_keys", None)
    if cached is None:
        cached = {k for form in view.forms.values() for k in (form.schema.get("properties") or {})}
        view._segito_retention_keys = cached
    return cached


def _codes(value) -> str:
    return ",".join(sorted(v for v in value if isinstance(v, str))) if isinstance(value, list) else ""


def _visit(view, task, case_id: int, mentor_id: int | None) -> dict | None:
    """The row of a completed task of the visit form (None for any other task, or a visit without a date)."""
    meta = view.catalogue.get(task.task_spec.name, {}) if task is not None else {}
    form = view.forms.get(meta.get("form")) if meta.get("form") else None
    if form is None or VISIT_KEY not in (form.schema.get("properties") or {}):
        return None
    data = task.data
    day = _date(data.get(VISIT_KEY))
    if day is None:
        return None
    contacts = data.get("contacts") or []
    lay = data.get("lay_helpers_involved")
    return dict(case_id=case_id, spiff_task_id=str(task.id), mentor_id=mentor_id, visit_date=day,
                with_client="client" in contacts, with_employer="employer" in contacts,
                lay_helpers=lay if isinstance(lay, int) and not isinstance(lay, bool) else 0,
                institution_kinds=_codes(data.get("institution_kinds")))


def _case_facts(case, mentor_id: int | None, data: dict, ended: dt.date | None) -> dict:
    """What the case's row holds, from its current data; ``ended``: the day the case ended, if it has."""
    check = _date(data.get("check_date")) if CHECK_KEY in data else None
    return dict(process_key=case.process_key, client_id=case.client_id, mentor_id=mentor_id,
                sex=data.get("sex") if isinstance(data.get("sex"), str) else None,
                employment_start=_date(data.get(START_KEY)),
                employer_name=(data.get("employer_name") or None), target_groups=_codes(data.get("target_groups")),
                check_date=check, employed_on_day_180=data.get(CHECK_KEY) if check else None,
                ended_on=check or ended)


def _write_case(session, case, mentor_id: int | None, data: dict, ended: dt.date | None) -> None:
    """The case's row from its current data; ``ended``: the day the case ended, if it has."""
    facts = _case_facts(case, mentor_id, data, ended)
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
    row = session.get(RetentionCase, case.id)
    if row is None:
        session.add(RetentionCase(case_id=case.id, digest=digest, **facts))
    elif row.digest != digest:
        for k, v in facts.items():
            setattr(row, k, v)
        row.digest = digest


def note_facts(advance) -> None:
    """Registered in engine.runtime.advance.BEGIN_OBSERVERS: the case row's facts as the command begins.

    The row was brought in step by the command before, so a command that completes no task, does not end the
    case and leaves these facts as they were (every timer firing: it issues a visit, schedules the next one)
    has nothing to write, and ``observe`` skips the row's look-up."""
    if START_KEY in _form_keys(advance.view) and getattr(advance.case, "state", None) != b"":
        advance.retention_facts = _case_facts(advance.case, advance.caseworker_id,
                                              _current_data(advance.workflow, advance.ready_before), None)


def observe(advance, created_rows, completed: bool) -> None:
    """Registered in engine.runtime.advance.OBSERVERS: the case row, and one row per visit just completed."""
    if START_KEY not in _form_keys(advance.view):
        return
    before = getattr(advance, "retention_facts", None)
    data = _current_data(advance.workflow, advance.ready_after)
    if before is not None and not advance.finished_spiff_ids and not completed \
            and _case_facts(advance.case, advance.caseworker_id, data, None) == before:
        return
    visits = [_visit(advance.view, advance.workflow.get_task_from_id(UUID(sid)), advance.case.id,
                     advance.caseworker_id) for sid in sorted(advance.finished_spiff_ids)]
    if any(visits):
        advance.session.execute(RetentionVisit.__table__.insert(), [v for v in visits if v])
    _write_case(advance.session, advance.case, advance.caseworker_id, data, advance.at.date() if completed else None)


def _stored_cases(runtime, session, case_ids: list[int] | None, wanted):
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
    """Recompute the case rows of existing job-retention cases from their stored state (``segito rebuild-facts``).

    Visit rows are not recomputed: each is written when its visit is recorded and never changes (a recorded
    visit cannot be edited), and the stored state no longer holds a finished task's data
    (engine/definitions/serialization.py prunes it), so the rows are the only place that keeps it outside the audit
    log."""
    done = 0
    with runtime.db.unit_of_work() as session:
        for case, _view, workflow in _stored_cases(runtime, session, case_ids, lambda v: START_KEY in _form_keys(v)):
            ended = case.completed_at.date() if workflow.is_completed() and case.completed_at else None
            _write_case(session, case, case.caseworker_id, _current_data(workflow), ended)
            done += 1
    return done


def _quarters(start: dt.date, end: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    result, q = [], dt.date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while q <= end:
        nxt = dt.date(q.year + (q.month + 3 > 12), (q.month + 2) % 12 + 1, 1)
        result.append((f"{q.year}-Q{(q.month - 1) // 3 + 1}", max(q, start), min(nxt - dt.timedelta(days=1), end)))
        q = nxt
    return result


def _age_group(birth: dt.date | None, on: dt.date) -> str:
    if birth is None:
        return "unknown"
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return next(label for low, high, label in AGE_GROUPS if low <= age < high)


def _span(session, start: dt.date, end: dt.date, mentor_id: int | None, process_key: str | None) -> dict:
    """The rows behind one span's figures, for one mentor or all: four statements, whatever the number of cases."""
    filters = [RetentionCase.mentor_id == mentor_id] if mentor_id is not None else []
    if process_key:
        filters.append(RetentionCase.process_key == process_key)
    where = [RetentionCase.employment_start <= end,
             or_(RetentionCase.ended_on.is_(None), RetentionCase.ended_on >= start), *filters]
    followed = session.execute(select(RetentionCase, Client.birth_date)
                               .outerjoin(Client, Client.id == RetentionCase.client_id).where(*where)).all()
    visits = session.execute(select(RetentionVisit).join(RetentionCase, RetentionCase.case_id == RetentionVisit.case_id)
                             .where(*where, RetentionVisit.visit_date >= start, RetentionVisit.visit_date <= end)
                             ).scalars().all()
    # Sex describes the person: the one recorded at their latest entry that records it, in any of their cases.
    others = aliased(RetentionCase)
    sex_of = dict(session.execute(
        select(others.client_id, others.sex)
        .where(others.client_id.in_(select(RetentionCase.client_id).where(*where)), others.sex.is_not(None))
        .order_by(others.employment_start, others.case_id)).all())
    checks = session.execute(select(RetentionCase.mentor_id, RetentionCase.employed_on_day_180).where(
        RetentionCase.check_date >= start, RetentionCase.check_date <= end, *filters)).all()
    return {"followed": followed, "visits": visits, "sex_of": sex_of, "checks": checks}


def _of_mentor(span: dict, mentor_id: int) -> dict:
    followed = [f for f in span["followed"] if f[0].mentor_id == mentor_id]
    cases = {r.case_id for r, _b in followed}
    return {"followed": followed, "visits": [v for v in span["visits"] if v.case_id in cases],
            "sex_of": span["sex_of"], "checks": [c for c in span["checks"] if c.mentor_id == mentor_id]}


def _figures(span: dict, end: dt.date) -> dict:
    """The seed's figures for one span of days, from its rows."""
    followed, visits = span["followed"], span["visits"]
    employer_of = {r.case_id: r.employer_name for r, _b in followed}
    lay_by_case: defaultdict[int, int] = defaultdict(int)
    institutions: set[tuple[int, str]] = set()
    for v in visits:
        lay_by_case[v.case_id] = max(lay_by_case[v.case_id], v.lay_helpers)
        institutions |= {(v.case_id, k) for k in v.institution_kinds.split(",") if k}
    # A client followed up in two cases of the span is one person, under every target group ticked at either
    # entry (the groups describe the person at that entry).
    clients: dict[int, dict] = {}
    for r, birth in followed:
        person = clients.setdefault(r.client_id or -r.case_id, {"birth": birth, "sex": r.sex, "groups": set()})
        person["groups"] |= {g for g in (r.target_groups or "").split(",") if g}
    for client_id, person in clients.items():
        person["sex"] = span["sex_of"].get(client_id) or person["sex"]
    employed = sum(1 for _m, ok in span["checks"] if ok)
    checked = len(span["checks"])
    return {
        "clients_followed_up": len(clients),
        "by_age": dict(Counter(_age_group(p["birth"], end) for p in clients.values())),
        "by_sex": dict(Counter(p["sex"] or "not recorded" for p in clients.values())),
        "by_target_group": dict(Counter(g for p in clients.values() for g in p["groups"])),
        "sessions": len(visits),
        "employers_involved": len({employer_of[v.case_id] for v in visits
                                   if v.with_employer and employer_of.get(v.case_id)}),
        "employer_consultations": sum(1 for v in visits if v.with_employer),
        "lay_helpers_involved": sum(lay_by_case.values()),
        "lay_helper_consultations": sum(1 for v in visits if v.lay_helpers),
        "institutions_involved": len(institutions),
        "day_180_checks": checked, "employed_on_day_180": employed, "employed_share": share(employed, checked),
    }


def figures(session, start: dt.date, end: dt.date, mentor_id: int | None, process_key: str | None) -> dict:
    """The seed's figures for one span of days, for one mentor or the whole service."""
    return _figures(_span(session, start, end, mentor_id, process_key), end)


def report(runtime, actor, req: ReportRequest) -> dict:
    """The figures for the period, then per quarter and per mentor (a caseworker sees their own only)."""
    req = authorise(actor, req, DEFAULT_ACCESS)
    with runtime.db.reading() as session:
        mentors = sorted({m for m in session.execute(select(RetentionCase.mentor_id).distinct()).scalars()
                          if m is not None and req.caseworker_id in (None, m)})
        names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(mentors))).all())
        period = figures(session, req.date_from, req.date_to, req.caseworker_id, req.process_key)
        rows = []
        for quarter, a, b in _quarters(req.date_from, req.date_to):
            # One span's rows for every mentor at once, split here: the statements do not grow with the mentors.
            span = _span(session, a, b, req.caseworker_id, req.process_key)
            rows += [dict(quarter=quarter, mentor_id=m, mentor=names.get(m, "—"), **_figures(_of_mentor(span, m), b))
                     for m in mentors]
    return {"period": {"from": req.date_from.isoformat(), "to": req.date_to.isoformat()},
            "caseworker_id": req.caseworker_id, "totals": period,
            "by_quarter_and_mentor": [r for r in rows if r["clients_followed_up"] or r["sessions"]]}


def to_text(result: dict) -> str:
    t = result["totals"]
    lines = [f"Job retention follow-up {result['period']['from']} – {result['period']['to']}"]
    for key in ("clients_followed_up", "sessions", "employers_involved", "employer_consultations",
                "lay_helpers_involved", "lay_helper_consultations", "institutions_involved", "day_180_checks",
                "employed_on_day_180", "employed_share"):
        lines.append(f"  {key.replace('_', ' '):<26} {'—' if t[key] is None else t[key]}")
    for key in ("by_age", "by_sex", "by_target_group"):
        lines.append(f"  {key.replace('_', ' '):<26} " + ", ".join(f"{k}: {v}" for k, v in sorted(t[key].items())))
    for r in result["by_quarter_and_mentor"]:
        lines.append(f"  {r['quarter']} {r['mentor']}: {r['clients_followed_up']} clients, {r['sessions']} sessions, "
                     f"{r['employers_involved']} employers, {r['lay_helpers_involved']} lay helpers, "
                     f"{r['institutions_involved']} institutions, "
                     f"{r['employed_on_day_180']}/{r['day_180_checks']} employed on day 180")
    return "\n".join(lines) + "\n"
