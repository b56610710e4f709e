"""Authorization on every page: anonymous users are sent to the login page, a caseworker reaches only her own
cases and her role's tasks, and every refusal is an audit event (IDOR attempts are visible to an auditor)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.store import audit
from engine.store.models import AuditEvent, HumanTask
from tests import demo_data
from tests.integration.helpers import task_of
from tests.integration.web_client import Browser, browser, make_app

PUBLIC = {"auth.login", "auth.logout", "auth.language", "static", "inbox.home",
          # The probes answer everyone; /metrics answers this machine or its token (tests/integration/test_ops.py).
          "ops.healthz", "ops.readyz", "ops.metrics_text"}


def _denials(runtime, actor):
    with runtime.db.reading() as session:
        return session.execute(select(AuditEvent).where(AuditEvent.kind == audit.ACCESS_DENIED,
                                                        AuditEvent.actor == actor)).scalars().all()


def _example_path(rule) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "family_care" if m.group(1) == "key" else "1", rule.rule)


def test_every_page_needs_a_login(runtime, people):
    """Every route of the app except the login, the API (HTTP Basic) and static files: none answers a stranger."""
    app = make_app(runtime)
    stranger = Browser(app)
    stranger.get("/login")
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.rule.startswith("/api/"):
            continue
        path = _example_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = stranger.post(path) if method == "POST" else stranger.client.open(path, method=method)
            # A page sends the stranger to the login form; a route with a credential of its own in the URL
            # (e.g. a calendar feed's token) refuses an unknown one. None answers with content.
            assert response.status_code in (302, 401, 403, 404), \
                f"{method} {path} answered {response.status_code} without a login"
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], f"{method} {path} redirects elsewhere"
            checked += 1
    assert checked >= 10


def _two_caseworkers(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    annas = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.3")
    code = demo_data.run_intake(runtime, people.bela, 1)
    belas = demo_data.run_family_care(runtime, people.bela, people.lea, code, stop_at="3.3")
    return annas, belas


def test_another_caseworkers_case_is_refused_and_logged(runtime, people):
    annas, belas = _two_caseworkers(runtime, people)
    app = make_app(runtime)
    bela = browser(app, "bela")
    assert bela.get(f"/cases/{belas}").status_code == 200
    refused = bela.get(f"/cases/{annas}")
    assert refused.status_code == 403
    text = refused.get_data(as_text=True)
    assert "Ezt az oldalt nem tekintheti meg" in text and "Kovács" not in text  # nothing of the case shows
    denied = _denials(runtime, "bela")
    assert len(denied) == 1 and denied[0].payload["path"] == f"/cases/{annas}"
    # The cases list shows only bela's own.
    listing = bela.get("/cases").get_data(as_text=True)
    assert f"/cases/{belas}\"" in listing and f"/cases/{annas}\"" not in listing


def test_another_caseworkers_task_cannot_be_claimed_released_or_opened(runtime, people):
    annas, _ = _two_caseworkers(runtime, people)
    task_id = task_of(runtime, annas, "step_3_3")
    app = make_app(runtime)
    bela = browser(app, "bela")
    assert bela.post(f"/inbox/tasks/{task_id}/claim").status_code == 403
    assert bela.post(f"/inbox/tasks/{task_id}/release").status_code == 403
    task_page = next((r for r in app.url_map.iter_rules() if r.rule.startswith("/tasks/<")
                      and "GET" in r.methods), None)
    if task_page is not None:
        assert bela.get(task_page.rule.split("<")[0] + str(task_id)).status_code in (403, 404)
    with runtime.db.reading() as session:
        assert session.get(HumanTask, task_id).assignee_id == people.anna.id
    assert len(_denials(runtime, "bela")) >= 2
    # Her inbox does not list it.
    assert f'data-task-id="{task_id}"' not in bela.get("/inbox").get_data(as_text=True)


def test_a_missing_case_is_not_found(runtime, people):
    anna = browser(make_app(runtime), "anna")
    assert anna.get("/cases/999999").status_code == 404


@pytest.mark.parametrize("username", ["lea", "mark"])
def test_overseers_see_every_case(runtime, people, username):
    annas, belas = _two_caseworkers(runtime, people)
    b = browser(make_app(runtime), username)
    assert b.get(f"/cases/{annas}").status_code == 200
    assert b.get(f"/cases/{belas}").status_code == 200


def test_only_an_administrator_manages_users(runtime, people):
    from engine.people import users
    from engine.store import clock

    with runtime.db.unit_of_work() as session:
        users.create_user(session, "root", "Root", [users.ADMINISTRATOR], "pw-root", "test", clock.now())
    app = make_app(runtime)
    for username in ("anna", "lea", "dora", "mark"):
        b = browser(app, username)
        assert b.get("/admin/users").status_code == 403, username
        assert b.post("/admin/users", {"username": "x", "display_name": "X", "roles": "administrator",
                                       "password": "long-enough-pw"}).status_code == 403
        assert "/admin/users" not in b.get("/inbox").get_data(as_text=True)  # no menu entry either
    assert len(_denials(runtime, "anna")) == 2
    root = browser(app, "root")
    assert root.get("/admin/users").status_code == 200
    with runtime.db.reading() as session:
        assert users.by_username(session, "root")
        assert session.execute(select(users.User).where(users.User.username == "x")).first() is None


def test_only_a_caseworker_starts_cases(runtime, people):
    lea = browser(make_app(runtime), "lea")
    assert lea.post("/cases/start", {"process_key": "intake"}).status_code == 403
