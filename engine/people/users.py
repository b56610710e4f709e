"""Users and their roles. Passwords are hashed with argon2; the engine never stores or logs a plain one."""
from __future__ import annotations

import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotFound, SegitoError
from ..store import audit
from ..store.models import User, UserRole
from . import api_tokens, login_sessions
from .actor import Actor as Actor  # where the rest of the engine takes it from
from .roles import (
    ADMINISTRATOR,
    CASEWORKER,
    MANAGER,
    PROCESS_DESIGNER,
    PROFESSIONAL_LEAD,
    ROLES,
)
from .roles import DATA_PROTECTION_OFFICER as DATA_PROTECTION_OFFICER  # where the rest takes every role from

# The users of the default run's demo (engine/setup.py creates them; the packages' demo scripts act as them).
DEMO_PASSWORD = "segito-demo"
DEMO_USERS = [
    ("anna", "Kiss Anna", [CASEWORKER]),
    ("bela", "Nagy Béla", [CASEWORKER]),
    ("lea", "Szabó Lea", [PROFESSIONAL_LEAD]),
    ("dora", "Tóth Dóra", [PROCESS_DESIGNER]),
    ("mark", "Varga Márk", [MANAGER]),
    ("admin", "Adminisztrátor", [ADMINISTRATOR]),
]

# OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): argon2-cffi's default takes ~0.5 s per login on 2 cores.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.display_name, frozenset(user.role_codes), user.locale)


def actor(session: Session, username: str) -> Actor:
    return actor_of(by_username(session, username))


def create_user(session: Session, username: str, display_name: str, roles: list[str], password: str | None,
                actor: str, at: dt.datetime, locale: str = "hu", password_hash: str | None = None) -> User:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise SegitoError(f"unknown role(s): {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise SegitoError(f"user '{username}' already exists")
    user = User(username=username, display_name=display_name, locale=locale, active=True, created_at=at,
                password_hash=password_hash or (_hasher.hash(password) if password else None),
                roles=[UserRole(role=r) for r in sorted(set(roles))])
    session.add(user)
    session.flush()
    audit.record_system_event(session, actor, at, audit.USER_CREATED,
                              {"username": username, "roles": sorted(set(roles))})
    return user


def by_username(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        raise NotFound(f"no active user '{username}'")
    return user


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- Managing users (the administrator's page) and the user's own settings. Every change is audited. ---

LOCALES = ("hu", "en")


def by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def active_actor(session: Session, user_id: int) -> Actor | None:
    """The actor of an active user by id in one query (every web request asks), or None."""
    rows = session.execute(
        select(User.id, User.username, User.display_name, User.locale, UserRole.role)
        .outerjoin(UserRole, UserRole.user_id == User.id).where(User.id == user_id, User.active.is_(True))
    ).all()
    if not rows:
        return None
    first = rows[0]
    return Actor(first.id, first.username, first.display_name, frozenset(r.role for r in rows if r.role),
                 first.locale)


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def set_locale(session: Session, user_id: int, locale: str, actor: str, at: dt.datetime) -> User:
    if locale not in LOCALES:
        raise SegitoError(f"unknown language '{locale}'; choose one of {', '.join(LOCALES)}",
                          [{"field": "locale", "message": f"'{locale}' is not one of {', '.join(LOCALES)}"}])
    user = by_id(session, user_id)
    if user.locale != locale:
        audit.record_system_event(session, actor, at, audit.USER_LOCALE_CHANGED,
                                  {"username": user.username, "before": {"locale": user.locale},
                                   "after": {"locale": locale}})
        user.locale = locale
    return user


def update_user(session: Session, user_id: int, actor: str, at: dt.datetime, *, display_name: str | None = None,
                roles: list[str] | None = None, active: bool | None = None, password: str | None = None,
                keep_session: int | None = None) -> User:
    """Change a user's name, roles, active flag or password; one audit event lists what changed (never the
    password itself). Deactivating ends the user's sessions and revokes her API tokens, a new password ends all
    sessions but ``keep_session`` (the session of a user setting her own; engine/people/login_sessions.py). An
    administrator cannot take away their own administrator role or deactivate themselves, so the app always keeps
    someone who can manage users."""
    user = by_id(session, user_id)
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    if display_name is not None:
        display_name = display_name.strip()
        if not display_name:
            raise SegitoError("the name must not be empty", [{"field": "display_name", "message": "required"}])
        if display_name != user.display_name:
            before["display_name"], after["display_name"] = user.display_name, display_name
            user.display_name = display_name
    if roles is not None:
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise SegitoError(f"unknown role(s): {', '.join(unknown)}; roles are {', '.join(ROLES)}",
                              [{"field": "roles", "message": f"unknown role {r}"} for r in unknown])
        if user.username == actor and ADMINISTRATOR in user.role_codes and ADMINISTRATOR not in roles:
            raise SegitoError("you cannot remove your own administrator role",
                              [{"field": "roles", "message": "own administrator role"}])
        if set(roles) != user.role_codes:
            before["roles"], after["roles"] = sorted(user.role_codes), sorted(set(roles))
            user.roles = [UserRole(role=r) for r in sorted(set(roles))]
    if active is not None and active != user.active:
        if user.username == actor and not active:
            raise SegitoError("you cannot deactivate yourself", [{"field": "active", "message": "own account"}])
        before["active"], after["active"] = user.active, active
        user.active = active
    if password:
        before["password"], after["password"] = "(old)", "(new)"
        user.password_hash = _hasher.hash(password)
    if after:
        audit.record_system_event(session, actor, at, audit.USER_CHANGED,
                                  {"username": user.username, "before": before, "after": after})
    # A deactivated user's sessions end (a later reactivation opens none of them again); a new password ends
    # every other session, as one set by someone who knew the old one may be open somewhere.
    if after.get("active") is False:
        login_sessions.end_all_of_user(session, user.id, user.username, actor, at, login_sessions.USER_DEACTIVATED)
        api_tokens.revoke_all_of_user(session, user.id, user.username, actor, at)
    elif password:
        login_sessions.end_all_of_user(session, user.id, user.username, actor, at, login_sessions.PASSWORD_CHANGED,
                                       keep=keep_session)
    session.flush()
    return user
