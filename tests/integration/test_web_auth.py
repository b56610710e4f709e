"""Logging in and out, lockout after repeated failures, idle expiry, CSRF, cookie flags, headers, language."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from engine.people import logins
from engine.store import audit, clock
from engine.store.models import AuditEvent, User
from tests.integration.web_client import Browser, browser, make_app


def _events(runtime, kind, actor=None):
    with runtime.db.reading() as session:
        query = select(func.count(AuditEvent.id)).where(AuditEvent.kind == kind)
        if actor:
            query = query.where(AuditEvent.actor == actor)
        return session.execute(query).scalar()


def test_login_opens_the_inbox_and_logout_ends_the_session(runtime, people):
    app = make_app(runtime)
    b = Browser(app)
    assert b.get("/inbox").status_code == 302  # not logged in
    response = b.login("anna")
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    page = b.get("/inbox")
    assert page.status_code == 200 and "Anna" in page.get_data(as_text=True)
    assert _events(runtime, audit.USER_LOGGED_IN, "anna") == 1
    assert b.post("/logout").status_code == 302
    after = b.get("/inbox")
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert _events(runtime, audit.USER_LOGGED_OUT, "anna") == 1


def test_wrong_password_and_unknown_user_get_the_same_answer_and_are_audited(runtime, people):
    b = Browser(make_app(runtime))
    wrong = b.login("anna", "nope")
    unknown = b.login("nobody", "nope")
    assert wrong.status_code == unknown.status_code == 401
    text = wrong.get_data(as_text=True)
    assert "Ismeretlen felhasználónév vagy hibás jelszó." in text
    assert 'value="anna"' in text  # the username is kept; the password never is
    assert _events(runtime, audit.LOGIN_FAILED, "anna") == 1
    assert _events(runtime, audit.LOGIN_FAILED, "nobody") == 1


def test_repeated_failures_lock_the_username_for_a_while(runtime, people):
    b = Browser(make_app(runtime))
    for _ in range(logins.MAX_FAILURES):
        assert b.login("anna", "guess").status_code == 401
    locked = b.login("anna")  # even the right password is refused now
    assert locked.status_code == 429
    assert "Túl sok sikertelen bejelentkezés" in locked.get_data(as_text=True)
    assert b.get("/inbox").status_code == 302
    # Another user is not affected.
    assert browser(make_app(runtime), "bela").get("/inbox").status_code == 200
    # The lockout is counted in the database, so another app process (a second app here) sees it too.
    assert Browser(make_app(runtime)).login("anna").status_code == 429
    clock.advance(logins.LOCKOUT + dt.timedelta(minutes=1))
    assert b.login("anna").status_code == 302


def test_a_successful_login_ends_the_run_of_failures(runtime, people):
    b = Browser(make_app(runtime))
    for _ in range(logins.MAX_FAILURES - 1):
        b.login("anna", "guess")
    assert b.login("anna").status_code == 302
    b.post("/logout")
    for _ in range(logins.MAX_FAILURES - 1):
        b.login("anna", "guess")
    assert b.login("anna").status_code == 302


def test_an_idle_session_expires_and_activity_keeps_it(runtime, people):
    app = make_app(runtime)
    b = browser(app, "anna")
    lifetime = app.permanent_session_lifetime
    for _ in range(3):
        clock.advance(lifetime - dt.timedelta(minutes=1))
        assert b.get("/inbox").status_code == 200
    clock.advance(lifetime + dt.timedelta(seconds=1))
    expired = b.get("/inbox")
    assert expired.status_code == 302 and "/login" in expired.headers["Location"]
    assert "A munkamenete lejárt" in b.get("/login").get_data(as_text=True)


def test_a_deactivated_user_is_logged_out_at_once(runtime, people):
    b = browser(make_app(runtime), "anna")
    with runtime.db.unit_of_work() as session:
        session.execute(select(User).where(User.username == "anna")).scalar_one().active = False
    assert b.get("/inbox").status_code == 302


def test_post_without_or_with_a_foreign_csrf_token_is_refused(runtime, people):
    app = make_app(runtime)
    anna = browser(app, "anna")
    no_token = anna.post("/language", {"locale": "en"}, csrf=False)
    assert no_token.status_code == 400
    other = browser(app, "bela")
    foreign = anna.post("/language", {"locale": "en", "csrf_token": other.token}, csrf=False)
    assert foreign.status_code == 400
    with runtime.db.reading() as session:
        assert session.execute(select(User.locale).where(User.username == "anna")).scalar() == "hu"
    # A login form posted without the token does not log anyone in.
    fresh = Browser(app)
    assert fresh.post("/login", {"username": "anna", "password": "pw-anna"}, csrf=False).status_code == 400
    assert _events(runtime, audit.USER_LOGGED_IN, "anna") == 1  # only anna's real login above


def test_the_api_uses_basic_auth_and_needs_no_csrf_token(runtime, people):
    import base64

    client = make_app(runtime).test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(b"anna:pw-anna").decode()}
    response = client.post("/api/cases", json={"process_key": "intake"}, headers=auth)
    assert response.status_code == 201


def test_cookie_flags_and_security_headers(runtime, people):
    b = Browser(make_app(runtime))
    b.login("anna")
    page = b.get("/inbox")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    production = Browser(make_app(runtime, TESTING=False))
    production.get("/login")
    response = production.post("/login", {"username": "anna", "password": "pw-anna"},
                               base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_pages_carry_no_inline_script(runtime, people):
    import re

    b = browser(make_app(runtime), "anna")
    for path in ("/login", "/inbox", "/cases", "/processes", "/processes/family_care"):
        html = b.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "onclick" not in html, path


def test_language_switch_is_stored_on_the_user_and_audited(runtime, people):
    app = make_app(runtime)
    b = browser(app, "anna")
    assert '<html lang="hu">' in b.get("/inbox").get_data(as_text=True)
    assert b.post("/language", {"locale": "en", "next": "/cases"}).headers["Location"].endswith("/cases")
    page = b.get("/inbox").get_data(as_text=True)
    assert '<html lang="en">' in page and ">Inbox<" in page
    with runtime.db.reading() as session:
        assert session.execute(select(User.locale).where(User.username == "anna")).scalar() == "en"
    assert _events(runtime, audit.USER_LOCALE_CHANGED) == 1
    # The choice follows the user to a new session.
    again = browser(app, "anna").get("/inbox").get_data(as_text=True)
    assert '<html lang="en">' in again
    # An unknown language is refused, nothing changes.
    assert b.post("/language", {"locale": "de"}).status_code == 400


def test_the_login_page_can_switch_language_before_logging_in(runtime, people):
    b = Browser(make_app(runtime))
    assert "Bejelentkezés" in b.get("/login").get_data(as_text=True)
    b.post("/language", {"locale": "en", "next": "/login"})
    assert ">Log in<" in b.get("/login").get_data(as_text=True)


def test_login_redirects_only_to_paths_of_this_site(runtime, people):
    b = Browser(make_app(runtime))
    b.get("/login")
    evil = b.post("/login?next=https://evil.example/x", {"username": "anna", "password": "pw-anna"})
    assert evil.headers["Location"].endswith("/inbox")
    b.get("/inbox")  # a new session at login: the page after it carries the new CSRF token
    b.post("/logout")
    b.get("/login")
    good = b.post("/login?next=/cases", {"username": "anna", "password": "pw-anna"})
    assert good.headers["Location"].endswith("/cases")


def test_the_api_counts_towards_the_lockout_and_honours_it(runtime, people):
    import base64

    app = make_app(runtime)
    client = app.test_client()

    def basic(password):
        token = base64.b64encode(f"anna:{password}".encode()).decode()
        return client.get("/api/inbox", headers={"Authorization": f"Basic {token}"}).status_code

    assert basic("pw-anna") == 200
    for _ in range(logins.MAX_FAILURES):
        assert basic("guess") == 401
    assert basic("pw-anna") == 401  # locked: the API is no way around it
    assert Browser(app).login("anna").status_code == 429
    assert _events(runtime, audit.LOGIN_FAILED, "anna") == logins.MAX_FAILURES + 1  # the form's try counts too
