"""Login sessions are kept on the server (engine/people/login_sessions.py): a copy of the cookie opens nothing after
logout, after the absolute lifetime, after the user's deactivation or a password change."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from engine.people import users
from engine.store import audit, clock, config
from engine.store.models import AuditEvent, LoginSession, User
from tests.integration.web_client import Browser, browser, make_app

COOKIE = "segito_session"


def _cookie(b: Browser) -> str:
    return b.client.get_cookie(COOKIE).value


def _replay(app, cookie: str) -> Browser:
    """Another browser carrying a copy of someone's session cookie (stolen, or left on a shared computer)."""
    thief = Browser(app)
    thief.client.set_cookie(COOKIE, cookie)
    return thief


def _opens_inbox(b: Browser) -> bool:
    response = b.get("/inbox")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def _sessions(runtime, username: str) -> list[LoginSession]:
    with runtime.db.reading() as session:
        return session.execute(select(LoginSession).join(User, User.id == LoginSession.user_id)
                               .where(User.username == username).order_by(LoginSession.id)).scalars().all()


def _events(runtime, kind: str) -> list[AuditEvent]:
    with runtime.db.reading() as session:
        return session.execute(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
                               ).scalars().all()


def _admin(runtime) -> None:
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "root", "Root", [users.ADMINISTRATOR], "pw-root", "test", clock.now())


def _user_id(runtime, username: str) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(User.id).where(User.username == username)).scalar_one()


def test_a_copied_cookie_stops_working_after_logout(runtime, people):
    app = make_app(runtime)
    anna = browser(app, "anna")
    copied = _cookie(anna)
    assert _opens_inbox(_replay(app, copied))  # the copy is as good as the original while the session lasts
    assert anna.post("/logout").status_code == 302
    assert not _opens_inbox(anna)
    assert not _opens_inbox(_replay(app, copied))  # ended on the server, not only forgotten by the browser
    [row] = _sessions(runtime, "anna")
    assert row.ended_at == clock.now() and row.end_reason == "logout"
    [login] = _events(runtime, audit.USER_LOGGED_IN)
    [logout] = _events(runtime, audit.USER_LOGGED_OUT)
    assert login.payload["session"] == logout.payload["session"] == row.id and logout.actor == "anna"
    # A new login is a new session; the old cookie stays dead.
    again = browser(app, "anna")
    assert _opens_inbox(again) and not _opens_inbox(_replay(app, copied))


def test_logging_in_again_in_the_same_browser_ends_the_session_it_had(runtime, people):
    app = make_app(runtime)
    b = browser(app, "anna")
    copied = _cookie(b)
    b.get("/login")
    assert b.post("/login", {"username": "bela", "password": "pw-bela"}).status_code == 302
    assert _opens_inbox(b) and not _opens_inbox(_replay(app, copied))
    assert [r.end_reason for r in _sessions(runtime, "anna")] == ["logout"]
    assert [e.actor for e in _events(runtime, audit.USER_LOGGED_OUT)] == ["anna"]


def test_only_a_hash_of_the_token_is_stored(runtime, people):
    app = make_app(runtime)
    anna = browser(app, "anna")
    with app.test_request_context():
        token = app.session_interface.get_signing_serializer(app).loads(_cookie(anna))["sid"]
    [row] = _sessions(runtime, "anna")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert len(token) >= 40  # 256 random bits


def test_a_session_ends_after_its_absolute_lifetime_however_active(runtime, people, monkeypatch):
    monkeypatch.setenv("SEGITO_SESSION_MAX_HOURS", "1")
    app = make_app(runtime)
    anna = browser(app, "anna")
    copied = _cookie(anna)
    idle = app.permanent_session_lifetime - dt.timedelta(minutes=5)
    for _ in range(2):  # active well within the idle limit each time
        clock.advance(idle)
        assert _opens_inbox(anna)
    clock.advance(dt.timedelta(hours=1) - 2 * idle + dt.timedelta(seconds=1))
    assert not _opens_inbox(anna)
    assert "A munkamenete lejárt" in anna.get("/login").get_data(as_text=True)
    assert not _opens_inbox(_replay(app, copied))


def test_the_absolute_lifetime_is_twelve_hours_unless_configured(monkeypatch):
    monkeypatch.delenv("SEGITO_SESSION_MAX_HOURS", raising=False)
    assert config.session_max_age() == dt.timedelta(hours=12)
    monkeypatch.setenv("SEGITO_SESSION_MAX_HOURS", "8.5")
    assert config.session_max_age() == dt.timedelta(hours=8, minutes=30)
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("SEGITO_SESSION_MAX_HOURS", bad)
        with pytest.raises(ValueError, match="SEGITO_SESSION_MAX_HOURS"):
            config.session_max_age()


def test_deactivating_a_user_ends_her_sessions_for_good(runtime, people):
    _admin(runtime)
    app = make_app(runtime)
    anna, anna_at_home = browser(app, "anna"), browser(app, "anna")
    copied = _cookie(anna)
    root = browser(app, "root")
    anna_id = _user_id(runtime, "anna")
    root.get("/admin/users")
    assert root.post(f"/admin/users/{anna_id}", {"display_name": "Anna", "roles": ["caseworker"]}
                     ).status_code == 302  # no "active": deactivated
    assert not _opens_inbox(anna) and not _opens_inbox(anna_at_home)
    assert [(r.end_reason, r.ended_at) for r in _sessions(runtime, "anna")] == [("user_deactivated", clock.now())] * 2
    [ended] = _events(runtime, audit.SESSIONS_ENDED)
    assert ended.actor == "root"
    assert ended.payload == {"username": "anna", "reason": "user_deactivated",
                             "sessions": [r.id for r in _sessions(runtime, "anna")]}
    # Active again: her old sessions stay ended; she logs in anew.
    root.get("/admin/users")
    assert root.post(f"/admin/users/{anna_id}", {"display_name": "Anna", "roles": ["caseworker"], "active": "1"}
                     ).status_code == 302
    assert not _opens_inbox(_replay(app, copied))
    assert _opens_inbox(browser(app, "anna"))


def test_a_new_password_ends_every_other_session(runtime, people):
    _admin(runtime)
    app = make_app(runtime)
    anna = browser(app, "anna")
    root, root_elsewhere = browser(app, "root"), browser(app, "root")
    anna_id, root_id = _user_id(runtime, "anna"), _user_id(runtime, "root")
    # An administrator sets anna's password: all of anna's sessions end.
    root.get("/admin/users")
    assert root.post(f"/admin/users/{anna_id}", {"display_name": "Anna", "roles": ["caseworker"], "active": "1",
                                                  "password": "a-new-long-password"}).status_code == 302
    assert not _opens_inbox(anna)
    assert Browser(app).login("anna", "a-new-long-password").status_code == 302
    # The administrator sets her own: the session she did it in stays, the other one ends.
    root.get("/admin/users")
    assert root.post(f"/admin/users/{root_id}", {"display_name": "Root", "roles": ["administrator"], "active": "1",
                                                  "password": "another-long-password"}).status_code == 302
    assert _opens_inbox(root) and not _opens_inbox(root_elsewhere)
    assert [(e.payload["username"], e.payload["reason"], len(e.payload["sessions"]))
            for e in _events(runtime, audit.SESSIONS_ENDED)] == [("anna", "password_changed", 1),
                                                                  ("root", "password_changed", 1)]
