"""Who runs a command, as the engine sees a user (people/users.py makes one, login_sessions finds one)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who runs a command: what the engine needs of a user, detached from any database session."""

    id: int
    username: str
    display_name: str
    role_codes: frozenset[str]
    locale: str = "hu"
