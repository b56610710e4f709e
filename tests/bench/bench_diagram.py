"""Diagram viewer benchmark (docs/benchmarks.md, "Diagram viewer"): how long family care takes to open in the
browser's bpmn-js viewer.

Run with ``python3 -m tests.bench.bench_diagram [--runs 15]``. Not collected by pytest (the file name does not start
with ``test_``). It starts and stops everything itself: a migrated SQLite database in a temporary directory with
the processes deployed and one family-care case waiting at 3.3, the app in a thread (werkzeug, as the browser
tests run it: the XML is one request, so the server's kind hardly matters) and Debian's chromium through
Playwright (tests/e2e/chromium.py), 1280×900.

For the catalogue's family-care page and the case page (with its marks) it prints, per page, the first open in a
fresh browser context (nothing cached) and the median and slowest of ``--runs`` further opens:

- **drawn**: from the navigation's start to the viewer's ``segito:diagram`` event (XML fetched, imported,
  drawn, marked and fitted), read from the page's own clock (``performance.now()``);
- **import**: the part of it after the XML arrived (the resource timing's ``responseEnd``): bpmn-js's parsing
  and drawing, and the marks;
- **xml**: the BPMN's request, from its start to its last byte.
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

from engine import setup
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import clock, migrate
from engine.store.db import Database
from tests import demo_data
from tests.e2e import chromium

# Set before the page's own scripts run: the moment the viewer reports its result, on the page's clock.
WATCH = """
document.addEventListener('segito:diagram', (event) => {
  window.__segitoDrawn = { at: performance.now(), state: event.detail.state, warnings: event.detail.messages.length };
});
"""
READ = """
() => {
  const xml = performance.getEntriesByType('resource').find((e) => e.name.endsWith('diagram.bpmn'));
  return { drawn: window.__segitoDrawn.at, state: window.__segitoDrawn.state,
           warnings: window.__segitoDrawn.warnings, xmlStart: xml.startTime, xmlEnd: xml.responseEnd };
}
"""


class _People:
    """The two users the benchmark logs in as (the test suite's People needs pytest's fixtures)."""

    def __init__(self, rt: Runtime):
        with rt.db.unit_of_work() as session:
            for username, role in (("anna", users.CASEWORKER), ("lea", users.PROFESSIONAL_LEAD)):
                users.create_user(session, username, username.title(), [role], None, "bench", clock.now(),
                                  password_hash=users.hash_password(f"pw-{username}"))
        with rt.db.reading() as session:
            self.anna, self.lea = users.actor(session, "anna"), users.actor(session, "lea")


def _open(page, path: str) -> dict:
    started = time.perf_counter()
    page.goto(path)
    page.wait_for_function("() => window.__segitoDrawn !== undefined", timeout=30_000)
    found = page.evaluate(READ)
    found["wall"] = (time.perf_counter() - started) * 1000
    if found["state"] != "done" or found["warnings"]:
        raise SystemExit(f"{path}: the viewer reported {found}")
    return found


def _row(label: str, first: dict, rest: list[dict]) -> str:
    def med(key):
        return statistics.median(r[key] for r in rest)

    def top(key):
        return max(r[key] for r in rest)

    def imp(r):
        return r["drawn"] - r["xmlEnd"]

    def xml(r):
        return r["xmlEnd"] - r["xmlStart"]

    return (f"| {label} | {first['drawn']:.0f} ms | {imp(first):.0f} ms | **{med('drawn'):.0f} ms** | "
            f"{top('drawn'):.0f} ms | {statistics.median(imp(r) for r in rest):.0f} ms | "
            f"{statistics.median(xml(r) for r in rest):.1f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        rt = Runtime(Database(url))
        setup.initialise(rt)
        people = _People(rt)
        case_id = demo_data.run_family_care(rt, people.anna, people.lea, demo_data.run_intake(rt, people.anna, 0),
                                            stop_at="3.3")
        server = make_server("127.0.0.1", 0, create_app(rt, {"TESTING": True, "SECRET_KEY": os.urandom(16).hex()}),
                             threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        rows = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium.ensure(), args=chromium.LAUNCH_ARGS)
                for label, path in (("catalogue: family care", "/processes/family_care"),
                                    (f"case page at 3.3 (marks), case {case_id}", f"/cases/{case_id}")):
                    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
                    context.add_init_script(WATCH)
                    page = context.new_page()
                    page.goto("/login")
                    page.fill("#username", "anna")
                    page.fill("#password", "pw-anna")
                    page.click("form.stacked button[type=submit]")
                    page.wait_for_url("**/inbox**")
                    first = _open(page, path)
                    rest = [_open(page, path) for _ in range(args.runs)]
                    rows.append(_row(label, first, rest))
                    context.close()
                browser.close()
        finally:
            server.shutdown()
            rt.db.close()
    load = os.getloadavg()[0]
    print(f"Diagram viewer, chromium {chromium.ensure()}, {args.runs} runs after the first; "
          f"load average {load:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("| page | first open: drawn | first: import | drawn, median | drawn, slowest | import, median | xml, median |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
