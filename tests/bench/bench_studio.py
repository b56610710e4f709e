"""Studio benchmarks (docs/benchmarks.md, "Studio"): how long family care takes to open in the modeler, and how
long its test runs take.

Run with ``python3 -m tests.bench.bench_studio [--runs 10]``. Not collected by pytest. It starts and stops
everything itself: a migrated SQLite database in a temporary directory with the bundled packages deployed, a
designer, the app in a thread (werkzeug, as the browser tests run it) and Debian's chromium through Playwright
(tests/e2e/chromium.py), 1280×900.

- **modeler**: from the navigation's start to the modeler's ``segito:modeler`` event (the 1.7 MB script loaded,
  the BPMN fetched, imported into bpmn-js's Modeler and fitted), on the page's own clock; the first open in a fresh
  browser context (nothing cached), then the median and slowest of ``--runs`` further opens.
- **test runs**: ``engine.studio.test_runs.run`` on ``bpmn/family_care`` (the package checked as a deploy
  checks it, then every path of ``tests/paths.yaml``): the whole call, and the paths alone (the report's
  ``seconds``), median and slowest of ``--runs``.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from engine import packages, setup
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock, migrate
from engine.store.config import BPMN_DIR
from engine.store.db import Database
from engine.studio import test_runs
from tests.e2e import chromium

WATCH = """
document.addEventListener('segito:modeler', (event) => {
  window.__segitoOpened = { at: performance.now(), state: event.detail.state };
});
"""


def _open(page, path: str) -> dict:
    page.goto(path)
    page.wait_for_function("() => window.__segitoOpened !== undefined", timeout=30_000)
    found = page.evaluate("() => window.__segitoOpened")
    if found["state"] != "done":
        raise SystemExit(f"{path}: the modeler reported {found}")
    return found


def modeler(runs: int) -> str:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        rt = Runtime(Database(url))
        setup.initialise(rt)
        with rt.db.unit_of_work() as session:
            users.create_user(session, "dora", "Dora", [users.PROCESS_DESIGNER], None, "bench", clock.now(),
                              password_hash=users.hash_password("pw-dora"))
        server = make_server("127.0.0.1", 0, create_app(rt, {"TESTING": True, "SECRET_KEY": os.urandom(16).hex()}),
                             threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium.ensure(), args=chromium.LAUNCH_ARGS)
                context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}",
                                              viewport={"width": 1280, "height": 900})
                context.add_init_script(WATCH)
                page = context.new_page()
                page.goto("/login")
                page.fill("#username", "dora")
                page.fill("#password", "pw-dora")
                page.click("form.stacked button[type=submit]")
                page.wait_for_url("**/inbox**")
                path = "/studio/family_care/1/modeler?file=family_care.bpmn"
                first = _open(page, path)["at"]
                rest = [_open(page, path)["at"] for _ in range(runs)]
                browser.close()
        finally:
            server.shutdown()
            rt.db.close()
    return (f"| modeler opens family care | {first:.0f} ms | **{statistics.median(rest):.0f} ms** | "
            f"{max(rest):.0f} ms |")


def runs_of_family_care(runs: int) -> list[str]:
    setup.wire()
    whole, paths, report = [], [], {}
    for _ in range(runs + 1):
        started = time.perf_counter()
        report = test_runs.run(packages.from_folder(BPMN_DIR / "family_care"))
        whole.append((time.perf_counter() - started) * 1000)
        paths.append(report["runs"][0]["seconds"] * 1000)
    run = report["runs"][0]
    taken = sum(f["taken"] for f in run["gateway_flows"])
    what = f"{len(run['paths'])} paths, {taken}/{len(run['gateway_flows'])} gateway flows"
    return [f"| test runs of family care, checked and run ({what}) | {whole[0]:.0f} ms | "
            f"**{statistics.median(whole[1:]):.0f} ms** | {max(whole[1:]):.0f} ms |",
            f"| the paths alone | {paths[0]:.0f} ms | **{statistics.median(paths[1:]):.0f} ms** | "
            f"{max(paths[1:]):.0f} ms |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    rows = runs_of_family_care(args.runs) + [modeler(args.runs)]
    print(f"Studio, chromium {chromium.ensure()}, {args.runs} runs after the first; load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| what | first | median | slowest |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
