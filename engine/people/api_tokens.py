"""API tokens: credentials for the JSON API that are checked in microseconds, unlike a password.

A password is hashed with argon2, slow on purpose, and an API client sends it with every call; a token is a
random 256-bit secret, so a plain SHA-256 of it is as safe to keep as a slow hash of a password and the lookup is
one indexed query. The client sees the secret once, when it is issued; the row keeps only its hash.

A token acts as its user, with the user's roles as they are at each call (a role taken away is gone for the token
too, and a deactivated user's tokens are revoked), narrowed by its scopes: the JSON API asks for ``read`` on every
reading route, ``work`` to start cases and claim, draft, complete or correct, ``admin`` to deploy and to retry a
timer. A token never gives more than its user's roles: the engine checks the roles on every command as for any
login, and ``admin`` is issued only to a user whose roles can use it.

Users issue, list and revoke their own tokens; an administrator does so for anyone. Issuing, revoking and listing
are audit events on the ``security`` stream. The last use is written at most once a minute, so a busy client does
not turn every read into a write.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import NamedTuple

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..errors import Forbidden, NotFound, SegitoError
from ..store import audit, clock
from ..store.db import Database, Prepared
from ..store.models import ApiToken, User, UserRole
from .actor import Actor
from .roles import ADMINISTRATOR, PROCESS_DESIGNER

STREAM = "security"
READ, WORK, ADMIN = "read", "work", "admin"
SCOPES = (READ, WORK, ADMIN)
# The roles that can use the admin scope (deploying needs a designer or an administrator, a timer's retry an
# administrator): to anyone else it would give nothing, so it is refused when issued.
ADMIN_SCOPE_ROLES = {PROCESS_DESIGNER, ADMINISTRATOR}
ACTIVE, REVOKED, EXPIRED, UNKNOWN = "active", "revoked", "expired", "unknown"
PREFIX = "sgt_"  # makes a leaked token recognisable (secret scanners, logs)
MAX_NAME = 100
TOUCH_EVERY = dt.timedelta(minutes=1)


class Found(NamedTuple):
    """What a presented token stands for: ``status`` (ACTIVE, REVOKED, EXPIRED or UNKNOWN), the token's id, its
    user's actor and its scopes when active (else None and an empty set)."""

    status: str
    token_id: int | None
    actor: Actor | None
    scopes: frozenset[str]
    last_used_at: dt.datetime | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(scopes: list[str] | tuple[str, ...] | str) -> list[str]:
    """The scopes asked for, checked: known ones only, at least one; in SCOPES' order."""
    asked = scopes.replace(",", " ").split() if isinstance(scopes, str) else [s.strip() for s in scopes]
    unknown = sorted({s for s in asked if s not in SCOPES})
    if unknown:
        raise SegitoError(f"unknown scope(s): {', '.join(unknown)}; scopes are {', '.join(SCOPES)}",
                          [{"field": "scopes", "message": f"unknown scope '{s}'"} for s in unknown])
    if not asked:
        raise SegitoError(f"choose at least one scope ({', '.join(SCOPES)})",
                          [{"field": "scopes", "message": "required"}])
    return [s for s in SCOPES if s in asked]


def _may_manage(actor: Actor, user_id: int) -> bool:
    return actor.id == user_id or ADMINISTRATOR in actor.role_codes


def _user(session: Session, actor: Actor, username: str | None) -> User:
    """The user whose tokens ``actor`` manages: herself, or anyone for an administrator."""
    if username is None or username == actor.username:
        user = session.get(User, actor.id)
    else:
        if ADMINISTRATOR not in actor.role_codes:
            raise Forbidden("only an administrator manages another user's API tokens")
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(f"no active user '{username or actor.username}'",
                       [{"field": "username", "message": "no such active user"}])
    return user


def issue(session: Session, actor: Actor, name: str, scopes: list[str] | tuple[str, ...] | str, at: dt.datetime,
          expires_at: dt.datetime | None = None, username: str | None = None) -> tuple[dict, str]:
    """A new token of ``username`` (default: the actor herself): (its description, the secret, shown only now)."""
    user = _user(session, actor, username)
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise SegitoError(f"a token needs a name of 1 to {MAX_NAME} characters (what uses it, e.g. 'reporting')",
                          [{"field": "name", "message": "required, at most 100 characters"}])
    wanted = parse_scopes(scopes)
    if ADMIN in wanted and not user.role_codes & ADMIN_SCOPE_ROLES:
        raise SegitoError(f"the scope 'admin' needs the role process_designer or administrator, which "
                          f"'{user.username}' does not have", [{"field": "scopes", "message": "admin not allowed"}])
    if expires_at is not None and expires_at <= at:
        raise SegitoError(f"the expiry {expires_at.isoformat()} is not in the future",
                          [{"field": "expires_at", "message": "not in the future"}])
    secret = PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    row = ApiToken(token_hash=_hash(secret), user_id=user.id, name=name, scopes=" ".join(wanted), created_at=at,
                   created_by=actor.username, expires_at=expires_at)
    session.add(row)
    session.flush()
    audit.record_system_event(session, actor.username, at, audit.API_TOKEN_ISSUED,
                              {"username": user.username, "token": row.id, "token_name": name, "scopes": wanted,
                               "expires_at": expires_at.isoformat() if expires_at else None}, stream=STREAM)
    return _describe(row, user.username, at), secret


def _status(row: ApiToken, now: dt.datetime) -> str:
    if row.revoked_at is not None:
        return REVOKED
    if row.expires_at is not None and row.expires_at <= now:
        return EXPIRED
    return ACTIVE


def _describe(row: ApiToken, username: str, now: dt.datetime) -> dict:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": row.id, "username": username, "name": row.name, "scopes": row.scopes.split(),
            "status": _status(row, now), "created_at": iso(row.created_at), "created_by": row.created_by,
            "expires_at": iso(row.expires_at), "last_used_at": iso(row.last_used_at),
            "revoked_at": iso(row.revoked_at), "revoked_by": row.revoked_by}


def list_tokens(session: Session, actor: Actor, at: dt.datetime, username: str | None = None,
                everyone: bool = False) -> list[dict]:
    """The tokens of ``username`` (default: the actor), or of every user (``everyone``, an administrator), newest
    first; never a secret. Recorded as an audit event: who looked at whose credentials."""
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if everyone:
        if ADMINISTRATOR not in actor.role_codes:
            raise Forbidden("only an administrator lists every user's API tokens")
    else:
        query = query.where(ApiToken.user_id == _user(session, actor, username).id)
    rows = session.execute(query.order_by(ApiToken.id.desc())).all()
    audit.record_system_event(session, actor.username, at, audit.API_TOKENS_LISTED,
                              {"username": "*" if everyone else (username or actor.username), "count": len(rows)},
                              stream=STREAM)
    return [_describe(row, name, at) for row, name in rows]


def revoke(session: Session, actor: Actor, token_id: int, at: dt.datetime) -> dict:
    """Revoke a token at once (the next call with it is refused). A token already revoked stays as it was."""
    found = session.execute(select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.id == token_id)).first()
    if found is None or not _may_manage(actor, found[0].user_id):
        # The same answer whether the token is someone else's or does not exist: ids reveal nothing.
        raise NotFound(f"API token {token_id} is not one you can manage",
                       [{"field": "token", "message": "no such token of yours"}])
    row, username = found
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = at, actor.username
        audit.record_system_event(session, actor.username, at, audit.API_TOKEN_REVOKED,
                                  {"username": username, "token": row.id, "token_name": row.name}, stream=STREAM)
        session.flush()
    return _describe(row, username, at)


def revoke_all_of_user(session: Session, user_id: int, username: str, actor: str, at: dt.datetime) -> list[int]:
    """Revoke every live token of a user (a deactivation: a later reactivation revives none); one event."""
    ids = list(session.execute(select(ApiToken.id).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                               .order_by(ApiToken.id)).scalars())
    if ids:
        session.execute(update(ApiToken).where(ApiToken.id.in_(ids)).values(revoked_at=at, revoked_by=actor)
                        .execution_options(synchronize_session=False))
        audit.record_system_event(session, actor, at, audit.API_TOKENS_REVOKED,
                                  {"username": username, "reason": "user_deactivated", "tokens": ids},
                                  stream=STREAM)
    return ids


# Every API call with a token runs this: a prebuilt Core statement on the DBAPI cursor (engine/store/db.py), as
# SQLAlchemy's per-statement work would cost more than the query itself.
_tokens, _users, _roles = ApiToken.__table__, User.__table__, UserRole.__table__
_LOOKUP = Prepared(
    select(_tokens.c.id, _tokens.c.scopes, _tokens.c.expires_at, _tokens.c.revoked_at, _tokens.c.last_used_at,
           _users.c.id.label("user_id"), _users.c.username, _users.c.display_name, _users.c.locale,
           _users.c.active, _roles.c.role)
    .select_from(_tokens.join(_users, _users.c.id == _tokens.c.user_id)
                 .outerjoin(_roles, _roles.c.user_id == _users.c.id))
    .where(_tokens.c.token_hash == bindparam("token_hash")))


def lookup(connection: Connection, secret: str | None, now: dt.datetime) -> Found:
    """The token of a presented secret with its user and roles, in one query."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return Found(UNKNOWN, None, None, frozenset())
    rows = _LOOKUP.all(connection, {"token_hash": _hash(secret)})
    if not rows:
        return Found(UNKNOWN, None, None, frozenset())
    first = rows[0]
    if first.revoked_at is not None or not first.active:
        return Found(REVOKED, first.id, None, frozenset())
    if first.expires_at is not None and first.expires_at <= now:
        return Found(EXPIRED, first.id, None, frozenset())
    actor = Actor(first.user_id, first.username, first.display_name, frozenset(r.role for r in rows if r.role),
                  first.locale)
    return Found(ACTIVE, first.id, actor, frozenset(first.scopes.split()), first.last_used_at)


def check(db: Database, secret: str | None) -> Found:
    """A presented token, checked (one read); its last use is written when the one kept is a minute old."""
    now = clock.now()
    with db.read_connection() as connection:
        found = lookup(connection, secret, now)
    if found.status == ACTIVE and (found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY):
        with db.unit_of_work() as session:
            session.execute(
                update(ApiToken).where(ApiToken.id == found.token_id,
                                       or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now))
                .values(last_used_at=now).execution_options(synchronize_session=False))
    return found
