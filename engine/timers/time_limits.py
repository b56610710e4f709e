"""The weekly time a service allows per client (docs/services.md, ``caseloads.<key>.time``), from the logged time.

A caseload may say how much time a week a client may take (case management: at most 2 hours, seed 001 section 10)
and where the time is logged: a case-log block of the case (``log``, an ``x-append-only`` block), each row with its
date (``date``) and length in minutes (``minutes``). After every command on a case of the package, this observer
sums the log per week (Monday to Sunday, by the row's date) into ``logged_time``; a week that goes over the limit
warns whoever logged it and writes ``time_limit_exceeded`` to the case's history; the caseload page lists the
clients over the limit this week.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from ..forms import entries
from ..packages import settings as package_settings
from ..store.models import Case, Client
from ..store.timer_models import LoggedTime

TIME_LIMIT_EXCEEDED = "time_limit_exceeded"


def _rules(view) -> dict[str, dict]:
    """The caseloads with a weekly time of the version's own package (kept on the view: it never changes)."""
    cached = getattr(view, "_segito_time_rules", None)
    if cached is None:
        manifest = view.manifest
        own = package_settings.caseload_rules([manifest]) if manifest else {}
        cached = {k: r for k, r in own.items()
                  if r.get("time") and view.process_key in (manifest.get("processes") or {})}
        view._segito_time_rules = cached
    return cached


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_minutes(rows: list[dict], date_field: str, minutes_field: str) -> dict[dt.date, int]:
    """Minutes per week (by its Monday) of the log's rows; a row without a date or a length counts nothing."""
    weeks: dict[dt.date, int] = {}
    for row in rows:
        minutes = row.get(minutes_field)
        try:
            day = dt.date.fromisoformat(str(row.get(date_field)))
        except ValueError:
            continue
        if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
            weeks[week_start(day)] = weeks.get(week_start(day), 0) + minutes
    return weeks


def observe(step, created, completed) -> None:
    """Keep the case's weekly totals in step with its log; warn when a week's total goes over the limit."""
    rules = _rules(step.view)
    if not rules:
        return
    session = step.session
    for key, rule in rules.items():
        time = rule["time"]
        weeks = weekly_minutes(entries.rows(step.workflow, {}, time["log"]), time["date"], time["minutes"])
        stored = {r.week_start: r for r in session.execute(select(LoggedTime).where(
            LoggedTime.case_id == step.case.id, LoggedTime.caseload == key)).scalars()}
        limit = time["per_week_minutes"]
        for week, minutes in sorted(weeks.items()):
            row = stored.pop(week, None)
            before = row.minutes if row is not None else 0
            if row is None:
                session.add(LoggedTime(case_id=step.case.id, caseload=key, week_start=week,
                                       client_id=step.case.client_id, caseworker_id=step.caseworker_id,
                                       minutes=minutes))
            elif (row.minutes, row.client_id, row.caseworker_id) != (minutes, step.case.client_id,
                                                                     step.caseworker_id):
                row.minutes, row.client_id, row.caseworker_id = minutes, step.case.client_id, step.caseworker_id
            if minutes > limit and minutes > before:
                _warn(step, key, rule, week, minutes, limit)
        for week in stored:  # a corrected row moved its time to another week
            session.execute(delete(LoggedTime).where(LoggedTime.case_id == step.case.id,
                                                     LoggedTime.caseload == key, LoggedTime.week_start == week))
        session.flush()


def _warn(step, key: str, rule: dict, week: dt.date, minutes: int, limit: int) -> None:
    """A warning for the person (its code and figures; the web app words it in the reader's language) and the same
    figures in the case's history."""
    label = rule["time"].get("label") or {"hu": "egy kliensre fordított idő", "en": "time with one client"}
    step.warnings = [*getattr(step, "warnings", []), {
        "code": TIME_LIMIT_EXCEEDED, "caseload": key, "label": label, "week_start": week.isoformat(),
        "week_end": (week + dt.timedelta(days=6)).isoformat(), "minutes": minutes, "limit": limit}]
    step.audit.add(TIME_LIMIT_EXCEEDED, {"caseload": key, "week_start": week.isoformat(), "minutes": minutes,
                                         "limit": limit, "caseworker_id": step.caseworker_id})


def over_the_limit(session, key: str, rule: dict, week: dt.date) -> dict[int, list[dict]]:
    """caseworker id -> the clients over the weekly limit in the week (client id and minutes), for running
    cases; a client's time in several cases of the caseload is added up."""
    limit = rule["time"]["per_week_minutes"]
    rows = session.execute(select(LoggedTime.caseworker_id, LoggedTime.client_id, LoggedTime.case_id,
                                  LoggedTime.minutes, Client.client_code)
                           .join(Case, Case.id == LoggedTime.case_id)
                           .outerjoin(Client, Client.id == LoggedTime.client_id)
                           .where(LoggedTime.caseload == key, LoggedTime.week_start == week,
                                  Case.status == "running")).all()
    totals: dict[tuple, dict] = {}
    for worker, client, case_id, minutes, code in rows:
        entry = totals.setdefault((worker, client if client is not None else -case_id),
                                  {"client_code": code, "minutes": 0})
        entry["minutes"] += minutes
    found: dict[int, list[dict]] = {}
    for (worker, _client), entry in sorted(totals.items(), key=lambda kv: -kv[1]["minutes"]):
        if entry["minutes"] > limit and worker is not None:
            found.setdefault(worker, []).append(entry)
    return found
