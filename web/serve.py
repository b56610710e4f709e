"""Serving the app: gunicorn with one worker process per CPU where it runs (Linux, macOS), else waitress.

Python runs one thread at a time per process, so on a 2-core machine a single server process leaves a core idle
and makes every request wait for the others' turns; two worker processes halve the queueing that makes the slow
tail. Each worker builds its own app, runtime and database connections after the fork (a SQLite or PostgreSQL
connection must never be shared between processes), and all of them sign sessions with one shared key.

The parent forks with no database connection and no thread that uses one (``serve`` closes them all first; the
ticker runs in each worker, started by ``on_worker_start``): a child forked while another thread of the parent
was inside a SQLite write transaction inherits SQLite's in-memory record of that lock and, its holder absent,
fails every write of its life with "database is locked" (docs/web.md, "Restarts").
"""
from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable

from flask import Flask

ACCESS_LOG_FORMAT = '%(m)s %(U)s %(s)s %(D)s'  # method, path, status, microseconds in the app


def _reset_database_after_fork(_server=None, _worker=None) -> None:
    # Connections opened before the fork (migrations, demo data, the ticker) belong to the parent: drop them
    # without closing (closing would close the parent's), and let this process open its own.
    from engine.store import db

    for engine in list(db._engines.values()):
        engine.dispose(close=False)
    db._engines.clear()
    db._lock = threading.Lock()


def settle(app: Flask) -> Flask:
    """Once a server process has built its app: read every deployed definition now (its first requests would),
    then hand everything alive to ``gc.freeze()``. Python's full collections stop every thread of the process
    while they walk all tracked objects, and ~100,000 of them are the code, the app and the parsed specs, which
    never become garbage: walking them cost 50–70 ms a pass on the 2-core machine (docs/benchmarks.md)."""
    app.extensions["segito"].settle()
    return app


def shared_secret_key() -> str:
    """The session key every worker uses: SEGITO_SECRET_KEY, or one made now for this run of the server."""
    key = os.environ.get("SEGITO_SECRET_KEY")
    if not key:
        key = os.environ["SEGITO_SECRET_KEY"] = secrets.token_hex(32)
    return key


def serve(make_app: Callable[[], Flask], host: str, port: int, workers: int, threads: int,
          on_worker_start: Callable[[Flask], object] | None = None) -> None:
    """Serve ``make_app()`` in each server process; ``on_worker_start(app)`` runs in each once its app is built
    (the ticker: a thread, so it must start after the fork, in the process that keeps it)."""
    from engine.store import db

    shared_secret_key()
    # Nothing of the database crosses the fork: pooled connections closed, the WAL checkpoint thread stopped.
    db.dispose_all()

    def worker_app() -> Flask:
        app = settle(make_app())
        if on_worker_start is not None:
            on_worker_start(app)
        return app

    try:
        from gunicorn.app.base import BaseApplication
        has_gunicorn = True
    except ImportError:  # gunicorn runs on POSIX only
        has_gunicorn = False
    if workers <= 1 or not has_gunicorn:
        from waitress import serve as waitress_serve

        waitress_serve(worker_app(), host=host, port=port, threads=threads, ident="segito")
        return

    # SEGITO_ACCESS_LOG=<file>: one line per request with the time the server spent on it (microseconds), which
    # tells time spent working from time spent queueing (tests/bench/bench_web.py reads it).
    access_log = os.environ.get("SEGITO_ACCESS_LOG") or None

    class Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                               "workers": workers, "threads": threads, "worker_class": "gthread",
                               "post_fork": _reset_database_after_fork, "proc_name": "segito",
                               "accesslog": access_log, "access_log_format": ACCESS_LOG_FORMAT,
                               "loglevel": "warning", "timeout": 120, "graceful_timeout": 10}.items():
                self.cfg.set(key, value)

        def load(self):
            return worker_app()  # in each worker, after the fork (gunicorn's default: no preload)

    Server().run()
