"""Logging in with a password, throttled: repeated failures lock the username for a while.

Failures are audit events (``login_failed``, actor = the username tried), so the count is the same for every
process serving the app and the security log and the lockout can never disagree. A successful login ends the
run of failures. The password is checked outside any write transaction (argon2 is slow on purpose, and SQLite
would otherwise hold its write lock meanwhile).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ..errors import SegitoError
from ..store import audit, clock, config
from ..store.db import Database
from ..store.models import AuditEvent, User
from . import login_sessions
from .users import Actor, _hasher, actor_of, check_password

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
STREAM = "security"
# Verified against when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("segito-no-such-user")


class LoginRefused(SegitoError):
    status = 401
    code = "login_refused"


class LockedOut(LoginRefused):
    code = "locked_out"

    def __init__(self, message: str, until: dt.datetime):
        super().__init__(message)
        self.until = until


def _failures_since_last_success(session, username: str, now: dt.datetime) -> list[dt.datetime]:
    last_success = session.execute(
        select(func.max(AuditEvent.occurred_at))
        .where(AuditEvent.actor == username, AuditEvent.kind == audit.USER_LOGGED_IN)
    ).scalar()
    since = now - LOCKOUT
    if last_success is not None:
        # SQLite hands back a naive value from max(); the stored times are all UTC.
        if last_success.tzinfo is None:
            last_success = last_success.replace(tzinfo=dt.timezone.utc)
        since = max(since, last_success)
    rows = session.execute(
        select(AuditEvent.occurred_at)
        .where(AuditEvent.actor == username, AuditEvent.kind == audit.LOGIN_FAILED, AuditEvent.occurred_at > since)
        .order_by(AuditEvent.occurred_at)
    ).scalars().all()
    return [r if r.tzinfo else r.replace(tzinfo=dt.timezone.utc) for r in rows]


def locked_until(db: Database, username: str) -> dt.datetime | None:
    now = clock.now()
    with db.reading() as session:
        failures = _failures_since_last_success(session, username, now)
    if len(failures) >= MAX_FAILURES:
        return failures[-MAX_FAILURES] + LOCKOUT
    return None


def _waste_time(password: str) -> None:
    try:
        _hasher.verify(_DUMMY_HASH, password or "-")
    except Exception:  # a mismatch is the expected outcome; only the time spent matters
        pass


def _record(db: Database, username: str, kind: str, payload: dict) -> None:
    with db.unit_of_work() as session:
        audit.record_system_event(session, username[:80], clock.now(), kind, payload, stream=STREAM)


def _verified(db: Database, username: str, password: str, remote_addr: str | None, via: str | None,
              record_lockout: bool) -> Actor:
    """The active user with these credentials, or LockedOut / LoginRefused (a failure is an audit event)."""
    extra = {"via": via} if via else {}
    until = locked_until(db, username)
    if until is not None:
        if record_lockout:
            _record(db, username, audit.LOGIN_FAILED, {"reason": "locked", "remote_addr": remote_addr, **extra})
        raise LockedOut(f"too many failed logins; try again after {until.isoformat()}", until)
    with db.reading() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        found = actor_of(user) if user is not None and user.active else None
        if user is not None and found:
            ok = check_password(user, password)
        else:
            _waste_time(password)
            ok = False
    if not ok or found is None:  # ok only for a found user
        _record(db, username, audit.LOGIN_FAILED, {"reason": "bad_credentials", "remote_addr": remote_addr, **extra})
        raise LoginRefused("unknown user or wrong password")
    return found


def log_in(db: Database, username: str, password: str, remote_addr: str | None = None) -> tuple[Actor, str]:
    """A new browser session for these credentials: (the actor, the session's token for the cookie), or
    LoginRefused / LockedOut. Every outcome is an audit event; the login's names its session."""
    username = (username or "").strip()
    found = _verified(db, username, password, remote_addr, via=None, record_lockout=True)
    with db.unit_of_work() as session:
        at = clock.now()
        session_id, token = login_sessions.start(session, found.id, at)
        audit.record_system_event(session, username, at, audit.USER_LOGGED_IN,
                                  {"remote_addr": remote_addr, "session": session_id}, stream=STREAM)
    return found, token


def check_basic(db: Database, username: str, password: str, remote_addr: str | None = None) -> Actor:
    """Credentials sent with each API call (HTTP Basic): the same lockout as the login form, and failures count
    towards it, so the API is no way around it. A success is not an event (it would be one per call)."""
    return _verified(db, (username or "").strip(), password, remote_addr, via="api", record_lockout=False)


def current_session(db: Database, token: str | None) -> login_sessions.Found:
    """The browser session of a cookie's token and its user, checked against the absolute lifetime."""
    with db.reading() as session:
        return login_sessions.lookup(session, token, clock.now(), config.session_max_age())


def log_out(db: Database, session_id: int, username: str) -> None:
    """End a browser session on the server, so a copy of its cookie opens nothing any more (audited)."""
    with db.unit_of_work() as session:
        at = clock.now()
        if login_sessions.end(session, session_id, at, login_sessions.LOGOUT):
            audit.record_system_event(session, username, at, audit.USER_LOGGED_OUT, {"session": session_id},
                                      stream=STREAM)


def record_access_denied(db: Database, username: str, payload: dict) -> None:
    _record(db, username or "anonymous", audit.ACCESS_DENIED, payload)
