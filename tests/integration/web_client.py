"""A logged-in Flask test client for the HTML pages: CSRF tokens read from the page, as a browser would send."""
from __future__ import annotations

import re

from web.app import create_app

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(runtime, **config):
    return create_app(runtime, {"TESTING": True, "SECRET_KEY": "test-secret", **config})


class Browser:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = None

    def get(self, path, **kw):
        response = self.client.get(path, **kw)
        # A download (a PDF, a workbook) carries no form to take a token from, and need not be text.
        found = _TOKEN.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kw)

    def login(self, username, password=None):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password or f"pw-{username}"})
        self.get("/inbox")
        return response


def browser(app, username=None):
    b = Browser(app)
    if username:
        response = b.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return b
