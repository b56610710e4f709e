"""The `segito` command with the web app: the engine's commands (engine/cli.py) and `run`, which serves the app.

`run` lives here so that the engine never imports the web app: the console script points at this module.
"""
from __future__ import annotations

import os

import click

from engine import demo, setup
from engine.cli import main
from engine.runtime.runtime import Runtime


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=int(os.environ.get("PORT", "5000")), show_default=True)
@click.option("--no-demo", is_flag=True, help="do not create demo users and cases")
@click.option("--workers", default=min(os.cpu_count() or 1, 4), show_default=True,
              help="server processes (gunicorn; 1: a single waitress process)")
@click.option("--threads", default=4, show_default=True, help="request threads per server process")
def run(host, port, no_demo, workers, threads):
    """Initialise the database (SQLite by default), load demo data, and serve the app."""
    # Imported here: every other `segito` command starts without loading Flask and the scheduler.
    from engine.observability import logs, metrics
    from engine.timers import ticker

    from .app import create_app
    from .serve import serve

    logs.configure()
    # The server's processes add up each other's request counts through one directory (docs/operations.md).
    metrics.prepare_directory()
    runtime = Runtime()
    setup.initialise(runtime)
    if not no_demo:
        demo.ensure(runtime)
    # Secure cookies need HTTPS; a browser on this machine talks plain HTTP to a loopback address, so the flag is
    # set unless the app is served on loopback (SEGITO_SECURE_COOKIES=1/0 decides explicitly, e.g. behind TLS).
    secure = os.environ.get("SEGITO_SECURE_COOKIES")
    loopback = host in ("127.0.0.1", "localhost", "::1")
    web_config = {"SESSION_COOKIE_SECURE": secure == "1" if secure else not loopback,
                  "WTF_CSRF_SSL_STRICT": secure == "1" if secure else not loopback}
    click.echo(f"Segito is running at http://{host}:{port}/  (API: http://{host}:{port}/api/openapi.json)")
    click.echo(f"Database: {runtime.db.engine.url.render_as_string(hide_password=True)}")
    if not no_demo:
        click.echo(f"Demo logins (password '{setup.DEMO_PASSWORD}'): "
                   + ", ".join(f"{u} ({'/'.join(r)})" for u, _n, r in setup.DEMO_USERS))
    # The in-app ticker runs in each server process, never in the parent that forks them (web/serve.py);
    # SEGITO_TICKER=0 leaves the timers to `segito worker` processes.
    in_app_ticker = os.environ.get("SEGITO_TICKER", "1") != "0"
    # Each server process builds its own app and database connections (web/serve.py).
    serve(lambda: create_app(Runtime(), web_config), host, port, workers, threads,
          on_worker_start=(lambda app: ticker.start_background(app.extensions["segito"])) if in_app_ticker else None)


if __name__ == "__main__":
    main()
