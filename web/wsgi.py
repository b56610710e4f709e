"""The app for a WSGI server of one's choice (e.g. ``gunicorn -w 2 web.wsgi:app``): DATABASE_URL names the
database, SEGITO_SECRET_KEY must be set and shared by every worker (sessions are signed with it). The database
is not migrated here: run ``segito init-db`` first."""
from __future__ import annotations

import os

from web.app import create_app

if not os.environ.get("SEGITO_SECRET_KEY"):
    raise RuntimeError("set SEGITO_SECRET_KEY: every worker must sign sessions with the same key")

app = create_app(config={"SESSION_COOKIE_SECURE": os.environ.get("SEGITO_SECURE_COOKIES", "1") == "1",
                         "WTF_CSRF_SSL_STRICT": os.environ.get("SEGITO_SECURE_COOKIES", "1") == "1"})
