"""Users and their roles. Passwords are hashed with argon2; the engine never stores or logs a plain one."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .errors import NotFound, SegitoError
from .models import User, UserRole

CASEWORKER = "caseworker"
PROFESSIONAL_LEAD = "professional_lead"
PROCESS_DESIGNER = "process_designer"
MANAGER = "manager"
ADMINISTRATOR = "administrator"
ROLES = (CASEWORKER, PROFESSIONAL_LEAD, PROCESS_DESIGNER, MANAGER, ADMINISTRATOR)

# OWASP's argon2id profile (19 MiB, 2 passes, 1 lane): argon2-cffi's default takes ~0.5 s per login on 2 cores.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class Actor:
    """Who runs a command: what the engine needs of a user, detached from any database session."""

    id: int
    username: str
    display_name: str
    role_codes: frozenset[str]
    locale: str = "hu"


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
