"""A caseworker's follow-up calendar: the dated appointments to come (timer rows with a ``purpose``, and behind
a waiting timer the later days of its plan, its ``planned`` property), the ones waiting in the inbox (task rows
with a ``purpose``), and the same as an iCalendar feed (RFC 5545) a calendar app can subscribe to. What is an
appointment, of which kind, with which label, is the processes' to say (docs/timers.md, "Mentor, caseload,
agenda"); the engine knows no service's steps.

The feed is read without a session, by a secret token in its URL, looked up by its SHA-256. The token is kept
so the agenda page always shows the link; resetting it makes a new one and the old link stops working.
Events carry the client's pseudonymous code, never a name.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import bindparam, delete, or_, select

from ..people import access
from ..people.users import CASEWORKER, Actor
from ..sandbox.calendar_helpers import local_date, start_of_day
from ..store import audit, clock
from ..store.models import Case, Client, HumanTask, User
from ..store.timer_models import CalendarFeed, Timer

CALENDAR_FEED_CREATED = "calendar_feed_created"
CALENDAR_FEED_RESET = "calendar_feed_reset"
OPEN_TIMERS = ("scheduled", "incident")


def _items(session, user_id: int, start: dt.datetime, end: dt.datetime) -> list[dict]:
    now = clock.now()
    timers = session.execute(
        select(Timer, Case.process_key, Client.client_code).join(Case, Case.id == Timer.case_id)
        .outerjoin(Client, Client.id == Case.client_id)
        .where(Case.caseworker_id == user_id, Case.status == "running", Timer.state.in_(OPEN_TIMERS),
               Timer.purpose.is_not(None), Timer.due_at < end)  # past ones too: not fired, overdue
    ).all()
    tasks = session.execute(
        select(HumanTask, Case.process_key, Client.client_code).join(Case, Case.id == HumanTask.case_id)
        .outerjoin(Client, Client.id == Case.client_id)
        .where(HumanTask.state == "ready", HumanTask.purpose.is_not(None),
               or_(HumanTask.assignee_id == user_id, Case.caseworker_id == user_id), HumanTask.due_at.is_not(None),
               HumanTask.due_at < end)
    ).all()
    items = []
    for t, key, code in timers:
        # A timer past its due time has not fired yet: it is overdue, and one in incident waits for the
        # administrator's retry (docs/timers.md, "Failures") — the caseworker sees it rather than losing it.
        day = local_date(t.due_at)
        items.append({"date": day.isoformat(), "kind": t.purpose, "label": t.label, "case_id": t.case_id,
                      "process_key": key, "client_code": code,
                      "state": "overdue" if t.due_at < now else "scheduled", "task_id": None,
                      "uid": f"{t.case_id}-{t.purpose}-{day.isoformat()}",
                      "waiting_for_administrator": t.state == "incident"})
        for planned in _planned_after(t):
            at = start_of_day(dt.date.fromisoformat(planned["date"]))
            if start <= at < end:
                items.append({"date": planned["date"], "kind": t.purpose, "label": planned["label"] or t.label,
                              "case_id": t.case_id, "process_key": key, "client_code": code, "state": "planned",
                              "task_id": None, "uid": f"{t.case_id}-{t.purpose}-{planned['date']}",
                              "waiting_for_administrator": False})
    for t, key, code in tasks:
        day = local_date(t.due_at)  # a task is due by the end of its day
        items.append({"date": day.isoformat(), "kind": t.purpose, "label": t.name, "bpmn_id": t.bpmn_id,
                      "case_id": t.case_id,
                      "process_key": key, "client_code": code, "state": "overdue" if t.due_at < now else "due",
                      "task_id": t.id, "uid": f"{t.case_id}-{t.purpose}-{day.isoformat()}",
                      "waiting_for_administrator": False})
    return sorted(items, key=lambda i: (i["date"], i["client_code"] or "", i["case_id"]))


def _planned_after(timer) -> list[dict]:
    """The days its process planned after a waiting timer (its ``planned`` property): a loop keeps only the
    next one as a timer, the calendar shows the whole plan."""
    due = local_date(timer.due_at).isoformat()
    return [p for p in timer.planned or () if p["date"] > due]


# Built once: every inbox of a caseworker runs it, and building it cost more than running it (it finds nothing
# on most days).
_IN_INCIDENT = (select(Timer.id, Timer.case_id, Timer.purpose, Timer.label, Timer.due_at, Case.process_key,
                       Client.client_code).select_from(Timer).join(Case, Case.id == Timer.case_id)
                .outerjoin(Client, Client.id == Case.client_id)
                .where(Timer.state == "incident", Case.caseworker_id == bindparam("user_id"),
                       Case.status == "running", Timer.purpose.is_not(None))
                .order_by(Timer.due_at, Timer.id))


def waiting_for_administrator(session, user_id: int) -> list[dict]:
    """The appointments of the user's running cases whose timers are in incident: overdue, and waiting for
    an administrator to retry them (the inbox shows them beside the tasks). Oldest first. ``session``: an ORM
    Session or a plain connection (the statement reads columns, not objects)."""
    rows = session.execute(_IN_INCIDENT, {"user_id": user_id}).all()
    return [{"timer_id": t.id, "case_id": t.case_id, "process_key": t.process_key, "client_code": t.client_code,
             "kind": t.purpose, "label": t.label, "date": local_date(t.due_at).isoformat(),
             "due_at": t.due_at.isoformat()} for t in rows]


def case_calendar(runtime, case_id: int) -> list[dict]:
    """A case's appointments to come: its waiting timers with a purpose and, behind each, the later days of its
    plan ([{date, kind, label, state}], by date). Used by tests and by anyone who may read the case."""
    with runtime.db.reading() as session:
        rows = session.execute(select(Timer).where(Timer.case_id == case_id, Timer.state.in_(OPEN_TIMERS),
                                                   Timer.purpose.is_not(None))).scalars().all()
        items = []
        for t in rows:
            items.append({"date": local_date(t.due_at).isoformat(), "kind": t.purpose, "label": t.label,
                          "state": "scheduled"})
            items += [{"date": p["date"], "kind": t.purpose, "label": p["label"] or t.label, "state": "planned"}
                      for p in _planned_after(t)]
    return sorted(items, key=lambda i: (i["date"], i["state"] == "planned", i["kind"]))


def agenda(runtime, actor: Actor, days: int = 28) -> dict:
    """The actor's appointments from today for ``days`` days, and any overdue ones, by local day."""
    access.require_role(actor, CASEWORKER)
    days = max(1, min(int(days), 200))
    today = local_date(clock.now())
    start = start_of_day(today)
    end = start_of_day(today + dt.timedelta(days=days))
    with runtime.db.reading() as session:
        items = _items(session, actor.id, start, end)
        has_feed = session.get(CalendarFeed, actor.id) is not None
    by_day: dict[str, list] = {}
    for item in items:
        by_day.setdefault(item["date"], []).append(item)
    return {"from": today.isoformat(), "days": days, "by_day": [{"date": d, "items": v} for d, v in by_day.items()],
            "count": len(items), "has_feed": has_feed}


def new_feed_token(runtime, actor: Actor) -> str:
    """A new secret feed token for the actor; an earlier link stops working (the audit event says it was
    replaced, and when the replaced one was made)."""
    access.require_role(actor, CASEWORKER)
    token = secrets.token_urlsafe(32)
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        old = session.get(CalendarFeed, actor.id)
        before = {"created_at": old.created_at.isoformat()} if old is not None else None
        session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
        session.add(CalendarFeed(user_id=actor.id, token_hash=_hash(token), token=token, created_at=at))
        audit.record_system_event(session, actor.username, at,
                                  CALENDAR_FEED_RESET if old is not None else CALENDAR_FEED_CREATED,
                                  {"user_id": actor.id, "before": before, "after": {"created_at": at.isoformat()}})
    return token


def feed_token(runtime, actor: Actor) -> str:
    """The actor's feed token for the agenda page's link, made (audited) when the actor has none kept yet."""
    access.require_role(actor, CASEWORKER)
    with runtime.db.reading() as session:
        row = session.get(CalendarFeed, actor.id)
        if row is not None and row.token:
            return row.token
    return new_feed_token(runtime, actor)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed(runtime, token: str, days_back: int = 31, days_ahead: int = 200) -> str | None:
    """The iCalendar text of the token's owner, or None when the token is unknown (or its user inactive)."""
    if not token or len(token) > 100:
        return None
    now = clock.now()
    today = local_date(now)
    with runtime.db.reading() as session:
        owner = session.execute(select(User).join(CalendarFeed, CalendarFeed.user_id == User.id)
                                .where(CalendarFeed.token_hash == _hash(token))).scalar_one_or_none()
        if owner is None or not owner.active:
            return None
        items = _items(session, owner.id, start_of_day(today - dt.timedelta(days=days_back)),
                       start_of_day(today + dt.timedelta(days=days_ahead)))
    return to_ical(items, now, owner.display_name)


def _escape(text: str) -> str:
    """RFC 5545 3.3.11: backslash, semicolon, comma and newline are escaped in TEXT values."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets are folded (CRLF + one space), never inside a UTF-8 character."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # do not split a multi-byte character
            end -= 1
        parts.append(raw[start:end].decode("utf-8"))
        start, limit = end, 74  # continuation lines begin with the folding space
    return "\r\n ".join(parts)


def to_ical(items: list[dict], stamp: dt.datetime, calendar_name: str) -> str:
    utc = stamp.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Segito//Follow-up calendar//HU", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape('Segítő – ' + calendar_name)}",
             "REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-PUBLISHED-TTL:PT1H"]
    for item in items:
        day = dt.date.fromisoformat(item["date"])
        summary = f"{item['label']}: {item['client_code'] or ('#' + str(item['case_id']))}"
        description = f"{item['label']}\nEset / case #{item['case_id']} ({item['process_key']})"
        lines += ["BEGIN:VEVENT", f"UID:{item['uid']}@segito", f"DTSTAMP:{utc}",
                  f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}",
                  f"DTEND;VALUE=DATE:{(day + dt.timedelta(days=1)).strftime('%Y%m%d')}",
                  f"SUMMARY:{_escape(summary)}", f"DESCRIPTION:{_escape(description)}",
                  "TRANSP:TRANSPARENT", "STATUS:CONFIRMED", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
