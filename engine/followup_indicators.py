"""The job-retention figures of seed 000 (section 5 of DOMAIN.md), from rows kept by an advance observer.

Output indicators: clients followed up (by age, sex, target group, per mentor); employers, lay helpers and
institutions involved. Result: employed on day 180. Monitoring is per mentor and quarter.

The facts are read by the data keys of the job-retention forms (bpmn/job_retention/forms): the entry form's
``employment_start``, ``employer_name`` and ``target_groups``; each visit's ``visit_date``, ``contacts``,
``lay_helpers_involved`` and ``institution_kinds`` (one row per completed visit, since every visit writes the
same keys); the day-180 check's ``check_date`` and ``employed_on_day_180``. A process is a job-retention
process when one of its forms has ``employment_start``. Sex is counted when a form records ``sex``; none does
yet, so it shows as "not recorded" (docs/indicators.md).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from uuid import UUID

from sqlalchemy import func, or_, select

from .case_facts import _current_data, _date
from .indicators import ReportRequest, authorise, share
from .models import Client, User
from .report_models import RetentionCase, RetentionVisit

START_KEY, VISIT_KEY, CHECK_KEY = "employment_start", "visit_date", "employed_on_day_180"
AGE_GROUPS = ((0, 25, "under 25"), (25, 35, "25–34"), (35, 45, "35–44"), (45, 55, "45–54"), (55, 200, "55+"))


def _form_keys(view) -> set[str]:
    cached = getattr(view, "_segito_retention_keys", None)
    if cached is None:
        cached = {k for form in view.forms.values() for k in (form.schema.get("properties") or {})}
        view._segito_retention_keys = cached
    return cached


def _codes(value) -> str:
    return ",".join(sorted(v for v in value if isinstance(v, str))) if isinstance(value, list) else ""


def observe(advance, created_rows, completed: bool) -> None:
    """Registered in engine.advance.OBSERVERS: the case row, and one row per visit just completed."""
    if START_KEY not in _form_keys(advance.view):
        return
    session, case = advance.session, advance.case
    for sid in sorted(advance.finished_spiff_ids):
        task = advance.workflow.get_task_from_id(UUID(sid))
        meta = advance.view.catalogue.get(task.task_spec.name, {}) if task is not None else {}
        form = advance.view.forms.get(meta.get("form")) if meta.get("form") else None
        if form is None or VISIT_KEY not in (form.schema.get("properties") or {}):
            continue
        data = task.data
        day = _date(data.get(VISIT_KEY))
        if day is None:
            continue
        contacts = data.get("contacts") or []
        lay = data.get("lay_helpers_involved")
        session.execute(RetentionVisit.__table__.insert(), [dict(
            case_id=case.id, spiff_task_id=sid, mentor_id=advance.caseworker_id, visit_date=day,
            with_client="client" in contacts, with_employer="employer" in contacts,
            lay_helpers=lay if isinstance(lay, int) and not isinstance(lay, bool) else 0,
            institution_kinds=_codes(data.get("institution_kinds")))])
    data = _current_data(advance.workflow)
    check = _date(data.get("check_date")) if CHECK_KEY in data else None
    facts = dict(process_key=case.process_key, client_id=case.client_id, mentor_id=advance.caseworker_id,
                 sex=data.get("sex") if isinstance(data.get("sex"), str) else None,
                 employment_start=_date(data.get(START_KEY)),
                 employer_name=(data.get("employer_name") or None), target_groups=_codes(data.get("target_groups")),
                 check_date=check, employed_on_day_180=data.get(CHECK_KEY) if check else None,
                 ended_on=check or (advance.at.date() if completed else None))
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
    row = session.get(RetentionCase, case.id)
    if row is None:
        session.add(RetentionCase(case_id=case.id, digest=digest, **facts))
    elif row.digest != digest:
        for k, v in facts.items():
            setattr(row, k, v)
        row.digest = digest


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


def figures(session, start: dt.date, end: dt.date, mentor_id: int | None, process_key: str | None) -> dict:
    """The seed's figures for one span of days."""
    where = [RetentionCase.employment_start <= end,
             or_(RetentionCase.ended_on.is_(None), RetentionCase.ended_on >= start)]
    if mentor_id is not None:
        where.append(RetentionCase.mentor_id == mentor_id)
    if process_key:
        where.append(RetentionCase.process_key == process_key)
    followed = session.execute(select(RetentionCase, Client.birth_date)
                               .outerjoin(Client, Client.id == RetentionCase.client_id).where(*where)).all()
    case_ids = [r.case_id for r, _b in followed]
    visits = session.execute(select(RetentionVisit).where(
        RetentionVisit.case_id.in_(case_ids), RetentionVisit.visit_date >= start,
        RetentionVisit.visit_date <= end)).scalars().all() if case_ids else []
    employer_of = {r.case_id: r.employer_name for r, _b in followed}
    lay_by_case, institutions = defaultdict(int), set()
    for v in visits:
        lay_by_case[v.case_id] = max(lay_by_case[v.case_id], v.lay_helpers)
        institutions |= {(v.case_id, k) for k in v.institution_kinds.split(",") if k}
    clients = {}
    for r, birth in followed:
        clients.setdefault(r.client_id or -r.case_id, (r, birth))
    checks_where = [RetentionCase.check_date >= start, RetentionCase.check_date <= end] + where[2:]
    checks = session.execute(select(RetentionCase.employed_on_day_180, func.count()).where(*checks_where)
                             .group_by(RetentionCase.employed_on_day_180)).all()
    employed = sum(n for ok, n in checks if ok)
    checked = sum(n for _ok, n in checks)
    return {
        "clients_followed_up": len(clients),
        "by_age": dict(Counter(_age_group(b, end) for _r, b in clients.values())),
        "by_sex": dict(Counter(r.sex or "not recorded" for r, _b in clients.values())),
        "by_target_group": dict(Counter(g for r, _b in clients.values() for g in (r.target_groups or "").split(",")
                                        if g)),
        "sessions": len(visits),
        "employers_involved": len({employer_of[v.case_id] for v in visits
                                   if v.with_employer and employer_of.get(v.case_id)}),
        "employer_consultations": sum(1 for v in visits if v.with_employer),
        "lay_helpers_involved": sum(lay_by_case.values()),
        "institutions_involved": len(institutions),
        "day_180_checks": checked, "employed_on_day_180": employed, "employed_share": share(employed, checked),
    }


def report(runtime, actor, req: ReportRequest) -> dict:
    """The figures for the period, then per quarter and per mentor (a caseworker sees their own only)."""
    req = authorise(actor, req)
    with runtime.db.reading() as session:
        mentors = sorted({m for m in session.execute(select(RetentionCase.mentor_id).distinct()).scalars()
                          if m is not None and req.caseworker_id in (None, m)})
        names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(mentors))).all())
        period = figures(session, req.date_from, req.date_to, req.caseworker_id, req.process_key)
        rows = [dict(quarter=q, mentor_id=m, mentor=names.get(m, "—"),
                     **figures(session, a, b, m, req.process_key))
                for q, a, b in _quarters(req.date_from, req.date_to) for m in mentors]
    return {"period": {"from": req.date_from.isoformat(), "to": req.date_to.isoformat()},
            "caseworker_id": req.caseworker_id, "totals": period,
            "by_quarter_and_mentor": [r for r in rows if r["clients_followed_up"] or r["sessions"]]}


def to_text(result: dict) -> str:
    t = result["totals"]
    lines = [f"Job retention follow-up {result['period']['from']} – {result['period']['to']}"]
    for key in ("clients_followed_up", "sessions", "employers_involved", "employer_consultations",
                "lay_helpers_involved", "institutions_involved", "day_180_checks", "employed_on_day_180",
                "employed_share"):
        lines.append(f"  {key.replace('_', ' '):<26} {'—' if t[key] is None else t[key]}")
    for key in ("by_age", "by_sex", "by_target_group"):
        lines.append(f"  {key.replace('_', ' '):<26} " + ", ".join(f"{k}: {v}" for k, v in sorted(t[key].items())))
    for r in result["by_quarter_and_mentor"]:
        lines.append(f"  {r['quarter']} {r['mentor']}: {r['clients_followed_up']} clients, {r['sessions']} sessions, "
                     f"{r['employed_on_day_180']}/{r['day_180_checks']} employed on day 180")
    return "\n".join(lines) + "\n"
