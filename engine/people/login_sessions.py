"""Browser logins kept on the server: a session lives until logout, its absolute lifetime, or its user's
deactivation or password change, whatever the browser (or a copy of its cookie) keeps.

Each login is a ``login_sessions`` row; the cookie carries a random token (256 bits) and the row only its SHA-256,
so a copy of the database opens no session. Every request looks the token up together with its user and roles
(one query, as the user was read before), and is served only while the row is not ended, is younger than
``config.session_max_age()`` and its user is active. Ending writes ``ended_at`` and why; rows are never deleted.
Starting and ending are audit events on the ``security`` stream, in the transaction that changes the row: the
login (``user_logged_in``) and logout (``user_logged_out``) name the session; ``sessions_ended`` lists the
sessions a deactivation or a password change ended. Idle expiry stays with the web layer (docs/web.md).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import NamedTuple, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from ..store import audit
from ..store.models import LoginSession, User, UserRole
from .actor import Actor

STREAM = "security"
OPEN, ENDED, EXPIRED, UNKNOWN = "open", "ended", "expired", "unknown"
LOGOUT, USER_DEACTIVATED, PASSWORD_CHANGED = "logout", "user_deactivated", "password_changed"


class Found(NamedTuple):
    """What a token stands for: ``status`` (OPEN, ENDED, EXPIRED or UNKNOWN), the session's id, and its user's actor
    when the session is open and the user active (else None)."""

    status: str
    session_id: int | None
    actor: Actor | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(session: Session, user_id: int, at: dt.datetime) -> tuple[int, str]:
    """A new session of the user: (its id, the token for the cookie). The caller records the login event."""
    token = secrets.token_urlsafe(32)
    row = LoginSession(token_hash=_hash(token), user_id=user_id, started_at=at)
    session.add(row)
    session.flush()
    return row.id, token


def lookup(session: Session, token: str | None, now: dt.datetime, max_age: dt.timedelta) -> Found:
    """The session of a cookie's token and its user, in one query."""
    if not token or not isinstance(token, str):
        return Found(UNKNOWN, None, None)
    rows = session.execute(
        select(LoginSession.id, LoginSession.started_at, LoginSession.ended_at, User.id.label("user_id"),
               User.username, User.display_name, User.locale, User.active, UserRole.role)
        .join(User, User.id == LoginSession.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(LoginSession.token_hash == _hash(token))
    ).all()
    if not rows:
        return Found(UNKNOWN, None, None)
    first = rows[0]
    if first.ended_at is not None or not first.active:
        return Found(ENDED, first.id, None)
    if now - first.started_at > max_age:  # UtcDateTime: aware on every database
        return Found(EXPIRED, first.id, None)
    actor = Actor(first.user_id, first.username, first.display_name, frozenset(r.role for r in rows if r.role),
                  first.locale)
    return Found(OPEN, first.id, actor)


def end(session: Session, session_id: int, at: dt.datetime, reason: str) -> bool:
    """End one session; False if it had ended already (the caller records the event)."""
    done = session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
                           .values(ended_at=at, end_reason=reason).execution_options(synchronize_session=False))
    return cast(CursorResult, done).rowcount == 1


def end_all_of_user(session: Session, user_id: int, username: str, actor: str, at: dt.datetime, reason: str,
                    keep: int | None = None) -> list[int]:
    """End every open session of a user (but ``keep``, the session of a user changing her own password) and
    record which in one ``sessions_ended`` event; the ids ended."""
    query = select(LoginSession.id).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    ids = list(session.execute(query.order_by(LoginSession.id)).scalars())
    if ids:
        session.execute(update(LoginSession).where(LoginSession.id.in_(ids))
                        .values(ended_at=at, end_reason=reason).execution_options(synchronize_session=False))
        audit.record_system_event(session, actor, at, audit.SESSIONS_ENDED,
                                  {"username": username, "reason": reason, "sessions": ids}, stream=STREAM)
    return ids
