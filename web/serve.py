"""Serving the app: gunicorn with one worker process per CPU where it runs (Linux, macOS), else waitress.

Python runs one thread at a time per process, so on a 2-core machine a single server process leaves a core idle
and makes every request wait for the others' turns; two worker processes halve the queueing that makes the slow
tail. Each worker builds its own app, runtime and database connections after the fork (a SQLite or PostgreSQL
connection must never be shared between processes), and all of them sign sessions with one shared key.
"""
from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable

from flask import Flask


def _reset_database_after_fork(_server=None, _worker=None) -> None:
    # Connections opened before the fork (migrations, demo data, the ticker) belong to the parent: drop them
    # without closing (closing would close the parent's), and let this process open its own.
    from engine import db

    for engine in list(db._engines.values()):
        engine.dispose(close=False)
    db._engines.clear()
    db._lock = threading.Lock()


def shared_secret_key() -> str:
    """The session key every worker uses: SEGITO_SECRET_KEY, or one made now for this run of the server."""
    key = os.environ.get("SEGITO_SECRET_KEY")
    if not key:
        key = os.environ["SEGITO_SECRET_KEY"] = secrets.token_hex(32)
    return key


def serve(make_app: Callable[[], Flask], host: str, port: int, workers: int, threads: int) -> None:
    shared_secret_key()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # gunicorn runs on POSIX only
        BaseApplication = None
    if workers <= 1 or BaseApplication is None:
        from waitress import serve as waitress_serve

        waitress_serve(make_app(), host=host, port=port, threads=threads, ident="segito")
        return

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                               "workers": workers, "threads": threads, "worker_class": "gthread",
                               "post_fork": _reset_database_after_fork, "proc_name": "segito",
                               "accesslog": None, "loglevel": "warning", "timeout": 120,
                               "graceful_timeout": 10}.items():
                self.cfg.set(key, value)

        def load(self):
            return make_app()

    Server().run()
