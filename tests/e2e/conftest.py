"""Browser tests: the app on a free localhost port in a thread, against a fresh SQLite database, driven by
Playwright through Debian's chromium.

Fixtures for every e2e test module:
- ``live_server``: ``.url`` (e.g. http://127.0.0.1:54321), ``.runtime``, ``.people`` (anna, bela: caseworker;
  lea: professional_lead; dora: process_designer; mark: manager; admin: administrator; password "pw-<name>").
- ``page``: a Playwright page in a fresh browser context (own cookies) with ``page.base_url`` set.
- ``login(page, username)``: logs in through the login form and waits for the inbox.
- ``shot(page, name)``: saves a full-page screenshot to test-artifacts/<name>.png.

Without chromium the tests skip on a developer's machine, and fail under CI=true (they must run there).
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest

from engine import setup
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock
from engine.store.db import Database
from tests.conftest import People, _password_hash
from tests.e2e import chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class LiveServer:
    def __init__(self, runtime: Runtime, people: People):
        from werkzeug.serving import make_server

        from web.app import create_app

        self.runtime = runtime
        self.people = people
        self.app = create_app(runtime, {"TESTING": True, "SECRET_KEY": "e2e-" + uuid.uuid4().hex})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def e2e_runtime(tmp_path, sqlite_initialised):
    """A runtime on a fresh copy of the SQLite file with the bundled packages deployed (tests/conftest.py)."""
    path = tmp_path / f"e2e-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(sqlite_initialised, path)
    rt = Runtime(Database(f"sqlite:///{path}"))
    setup.initialise(rt)
    yield rt
    rt.db.close()


@pytest.fixture
def live_server(e2e_runtime):
    people = People(e2e_runtime)
    with e2e_runtime.db.unit_of_work() as session:
        users.create_user(session, "admin", "Admin", [users.ADMINISTRATOR], None, "test", clock.now(),
                          password_hash=_password_hash("admin"))
    server = LiveServer(e2e_runtime, people)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium_path():
    try:
        return chromium.ensure()
    except RuntimeError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run under CI=true: {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=chromium.LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.base_url = live_server.url
    errors: list[str] = []
    # A CSP violation or a script error is a test failure, not a silent console line.
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture
def login():
    def _login(page, username: str, password: str | None = None) -> None:
        page.goto("/login")
        page.fill("#username", username)
        page.fill("#password", password or f"pw-{username}")
        page.click("form.stacked button[type=submit]")
        page.wait_for_url("**/inbox**")

    return _login


@pytest.fixture
def shot():
    def _shot(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
