"""Web app benchmark (docs/benchmarks.md): 20 logged-in users against the app started as the README starts it.

Run with ``python3 -m tests.bench.bench_web [--pairs 5000] [--small-pairs 500] [--seconds 60] [--users 20]``
(``--workers``/``--threads`` only to compare server settings; the figures use ``segito run``'s defaults).
Not collected by pytest (the file name does not start with ``test_``). It starts and stops everything itself:

1. A SQLite database in a temporary directory (the README's default kind), migrated, processes deployed, and
   filled directly (bulk inserts, not by running workflows one by one) with real states: a few template cases
   are run through the engine (an intake and a family-care case waiting at 3.1, at 3.3 after 20 casework
   rounds, at the lead's closure agreement after 20 rounds, and closed after 20 rounds), then every row of each
   template pair (case, task rows, audit events with their hash chain recomputed, client, intake, the indicator
   and timer rows other parts keep) is cloned for a new client and a new caseworker, with the workflow state's
   task ids renewed so every clone is a case the engine can move on. Default: 5,000 pairs = 10,000 cases and
   ~100,000 task rows; 200 caseworkers with 50 cases each (a caseload that does not grow with the service).
2. ``segito run --no-demo`` (the README's run command without the demo data: gunicorn, one worker process per
   CPU) on a free port, in a subprocess with ``DATABASE_URL`` pointing at that database and
   ``SEGITO_ACCESS_LOG`` at a file, from which the server's own time per request is read ("in the app": the
   rest of a latency is queueing for a thread or a CPU); waits until the login page answers, and stops it at
   the end.
3. ``--users`` threads, each a caseworker logged in through the login form (session cookie, CSRF token from the
   page), for ``--seconds`` seconds: inbox, one of my case pages, the task page of my waiting casework step
   (3.3), and submitting that form (a meeting, "continue": the case loops back to a new 3.3), thinking
   0.5–1.5 × ``--think`` seconds before each request. Latency is measured per request at the client; p50/p95
   per page and requests per second are printed. Then the same users without think time (``--saturate``
   seconds): the rate the app reaches when it is the bottleneck.
4. The same with a small database (``--small-pairs``, default 500 pairs = 1,000 cases, 20 caseworkers); then
   whether the inbox grows with the number of cases: one caseworker's and the lead's inbox (the lead sees every
   closure waiting for agreement in the service, ten times as many in the big one) on the two databases in
   turn, one request at a time, printed side by side with the ratio of the medians.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import select

from engine import setup
from engine.cases import cases, tasks
from engine.definitions import serialization
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.store import audit, clock
from engine.store.db import Database
from engine.store.models import Case
from tests import demo_data

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password"
LOOPS = 20
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# ---------------------------------------------------------------------------------------------- the database

def _task(rt, actor, case_id, bpmn_id):
    box = tasks.inbox(rt, actor, limit=200)
    found = [t["task_id"] for t in box["items"] if t["case_id"] == case_id and t["bpmn_id"] == bpmn_id]
    if not found:
        raise LookupError(f"no {bpmn_id} waiting in case {case_id}")
    return found[0]


def _family_care(rt, cw, lead, code, state: str) -> int:
    case_id = cases.start_case(rt, "family_care", cw, code)["case_id"]
    if state == "3.1":
        return case_id
    tasks.complete(rt, _task(rt, cw, case_id, "step_3_1"), demo_data.assessment_data(), cw)
    tasks.complete(rt, _task(rt, cw, case_id, "step_3_2"), {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, cw)
    meetings = []
    for n in range(LOOPS):
        meetings.append(demo_data.meeting(6 + n % 20))
        tasks.complete(rt, _task(rt, cw, case_id, "step_3_3"), {"meetings": list(meetings),
                                                                "casework_next": "continue"}, cw)
    if state == "3.3":
        return case_id
    tasks.complete(rt, _task(rt, cw, case_id, "step_3_3"),
                   {"meetings": list(meetings), "actions": [demo_data.action(10)], "casework_next": "review"}, cw)
    tasks.complete(rt, _task(rt, cw, case_id, "step_3_6"), demo_data.review_data(True), cw)
    tasks.complete(rt, _task(rt, cw, case_id, "step_3_8"), demo_data.closure_data(follow_up=False), cw)
    if state == "agree":
        return case_id
    tasks.complete(rt, _task(rt, lead, case_id, "agree_closure_success"), {"closure_agreed": True}, lead)
    return case_id


def make_templates(rt) -> tuple[list[tuple[int, int, int, str]], dict]:
    """(intake case, family-care case, client id, state) of each template pair, run through the engine."""
    hashed = users.hash_password(PASSWORD)
    with rt.db.unit_of_work() as session:
        users.create_user(session, "tpl", "Template", [users.CASEWORKER], None, "bench", clock.now(),
                          password_hash=hashed)
        users.create_user(session, "lead", "Lead", [users.PROFESSIONAL_LEAD], None, "bench", clock.now(),
                          password_hash=hashed)
    with rt.db.reading() as session:
        cw, lead = users.actor(session, "tpl"), users.actor(session, "lead")
    pairs = []
    for i, state in enumerate(("3.1", "3.3", "agree", "closed")):
        code = demo_data.run_intake(rt, cw, 100 + i)
        fc = _family_care(rt, cw, lead, code, state)
        with rt.db.reading() as session:
            row = session.get(Case, fc)
            intake_id = session.execute(select(Case.id).where(Case.client_id == row.client_id,
                                                              Case.process_key == "intake")).scalar()
            pairs.append((intake_id, fc, row.client_id, state))
    return pairs, {"tpl_id": cw.id, "hash": hashed}


def _tables(conn) -> dict[str, list[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                        "AND name NOT LIKE 'sqlite_%'")]
    return {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}


class Cloner:
    """Copies the rows of template pairs in bulk, renumbering ids and renewing the workflows' task ids."""

    def __init__(self, conn: sqlite3.Connection, templates, tpl_id: int):
        self.conn = conn
        self.tpl_id = tpl_id
        self.tables = _tables(conn)
        self.case_tables = [t for t, cols in self.tables.items() if "case_id" in cols and t not in
                            ("cases", "human_tasks", "audit_events", "intakes")]
        # Tables numbered by an integer id; the data keys' ids are random text and are not renumbered.
        numbered = {r[0] for r in conn.execute("SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c "
                                              "WHERE m.type = 'table' AND c.name = 'id' AND c.type = 'INTEGER'")}
        self.next_id = {t: (conn.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{t}"').fetchone()[0] + 1)
                        for t in self.tables if t in numbered}
        self.rows: dict[str, list[tuple]] = {t: [] for t in self.tables}
        self.templates = []
        for intake_id, fc_id, client_id, state in templates:
            self.templates.append({
                "state": state,
                "client": self._select("clients", "id = ?", client_id)[0],
                "cases": {cid: self._case_rows(cid) for cid in (intake_id, fc_id)},
                "intake_case": intake_id,
            })

    def _select(self, table, where, *args):
        cols = self.tables[table]
        return [dict(zip(cols, r)) for r in
                self.conn.execute(f'SELECT * FROM "{table}" WHERE {where}', args).fetchall()]

    def _case_rows(self, case_id):
        return {"cases": self._select("cases", "id = ?", case_id),
                "human_tasks": self._select("human_tasks", "case_id = ? ORDER BY id", case_id),
                "audit_events": self._select("audit_events", "case_id = ? ORDER BY seq", case_id),
                "intakes": self._select("intakes", "case_id = ?", case_id),
                **{t: self._select(t, "case_id = ?", case_id) for t in self.case_tables}}

    def _id(self, table):
        value = self.next_id[table]
        self.next_id[table] += 1
        return value

    def clone(self, template, user_id: int, username: str, n: int) -> dict:
        client = dict(template["client"])
        old_code = client["client_code"]
        client.update(id=self._id("clients"), client_code=f"K-B{n:07d}", dedup_key=uuid.uuid4().hex * 2,
                      given_name=f"{client['given_name']} {n}")
        self.rows["clients"].append(tuple(client[c] for c in self.tables["clients"]))
        out = {"cases": {}, "ready": []}
        for old_case, rows in template["cases"].items():
            uuids: dict[bytes, bytes] = {}

            def renew(match, uuids=uuids):
                return uuids.setdefault(match.group(0), str(uuid.uuid4()).encode())

            def renew_text(text, uuids=uuids):
                return UUID_TEXT.sub(
                    lambda m: uuids.setdefault(m.group(0).encode(), str(uuid.uuid4()).encode()).decode(), text)

            case = dict(rows["cases"][0])
            new_case = self._id("cases")
            case.update(id=new_case, client_id=client["id"] if case["client_id"] else None,
                        caseworker_id=user_id if case["caseworker_id"] == self.tpl_id else case["caseworker_id"],
                        started_by=username if case["started_by"] == "tpl" else case["started_by"],
                        state=serialization.pack_state(UUID_RE.sub(renew, serialization.state_json(case["state"]))))
            task_ids = {}
            for t in rows["human_tasks"]:
                t = dict(t)
                task_ids[t["id"]] = t["id"] = self._id("human_tasks")
                t.update(case_id=new_case, spiff_task_id=renew_text(t["spiff_task_id"]),
                         assignee_id=user_id if t["assignee_id"] == self.tpl_id else t["assignee_id"],
                         completed_by=username if t["completed_by"] == "tpl" else t["completed_by"])
                if t["state"] == "ready":
                    due = random.choice([None, None, -5, -1, 3, 10, 20])
                    t["due_at"] = None if due is None else (
                        dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=due)).strftime("%Y-%m-%d %H:%M:%S.%f")
                    out["ready"].append((t["id"], t["bpmn_id"], t["role"]))
                self.rows["human_tasks"].append(tuple(t[c] for c in self.tables["human_tasks"]))
            head = ""
            for e in rows["audit_events"]:
                e = dict(e)
                payload_text = renew_text(e["payload"]).replace(old_code, client["client_code"])
                actor = username if e["actor"] == "tpl" else e["actor"]
                task_id = task_ids.get(e["task_id"]) if e["task_id"] is not None else None
                at = dt.datetime.fromisoformat(e["occurred_at"]).replace(tzinfo=dt.timezone.utc)
                digest = audit.event_hash(head, e["seq"], at, actor, e["kind"], new_case, task_id,
                                          json.loads(payload_text))
                e.update(id=self._id("audit_events"), case_id=new_case, actor=actor, task_id=task_id,
                         payload=payload_text, prev_hash=head, hash=digest)
                head = digest
                self.rows["audit_events"].append(tuple(e[c] for c in self.tables["audit_events"]))
            case["audit_head"] = head
            self.rows["cases"].append(tuple(case[c] for c in self.tables["cases"]))
            for i in rows["intakes"]:
                i = dict(i, id=self._id("intakes"), case_id=new_case, client_id=client["id"])
                self.rows["intakes"].append(tuple(i[c] for c in self.tables["intakes"]))
            for table in self.case_tables:
                cols = self.tables[table]
                for r in rows[table]:
                    r = dict(r, case_id=new_case)
                    if "id" in cols:
                        r["id"] = self._id(table)
                    if "client_id" in cols and r["client_id"] is not None:
                        r["client_id"] = client["id"]
                    for col in ("caseworker_id", "mentor_id"):
                        if col in cols and r[col] == self.tpl_id:
                            r[col] = user_id
                    if "spiff_task_id" in cols and r["spiff_task_id"]:
                        r["spiff_task_id"] = renew_text(r["spiff_task_id"])
                    self.rows[table].append(tuple(r[c] for c in cols))
            out["cases"][new_case] = template["state"] if old_case != template["intake_case"] else "intake"
        return out

    def flush(self) -> None:
        order = ["clients", "cases", "human_tasks", "audit_events", "intakes"] + self.case_tables
        with self.conn:
            for table in order:
                rows = self.rows[table]
                if rows:
                    cols = self.tables[table]
                    self.conn.executemany(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES '
                                          f'({", ".join("?" * len(cols))})', rows)
                self.rows[table] = []


def build_database(path: Path, pairs: int, per_caseworker: int = 25) -> dict:
    """The bench database: templates run through the engine, then cloned. Returns who has which cases."""
    started = time.perf_counter()
    url = f"sqlite:///{path}"
    rt = Runtime(Database(url))
    setup.initialise(rt)
    templates, info = make_templates(rt)
    rt.db.close()
    caseworkers = max(1, pairs // per_caseworker)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    next_user = conn.execute("SELECT MAX(id) FROM users").fetchone()[0] + 1
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    people = [(next_user + i, f"cw{i:04d}") for i in range(caseworkers)]
    with conn:
        conn.executemany("INSERT INTO users (id, username, display_name, password_hash, locale, active, created_at)"
                         " VALUES (?, ?, ?, ?, 'hu', 1, ?)",
                         [(uid, name, f"Családgondozó {name}", info["hash"], now) for uid, name in people])
        conn.executemany("INSERT INTO user_roles (user_id, role) VALUES (?, 'caseworker')",
                         [(uid,) for uid, _ in people])
    cloner = Cloner(conn, templates, info["tpl_id"])
    owned: dict[str, dict] = {name: {"cases": [], "casework": []} for _, name in people}
    for n in range(pairs):
        uid, name = people[n % caseworkers]
        # Each caseworker gets every kind of case in turn (n // caseworkers), whatever the number of them.
        made = cloner.clone(cloner.templates[(n // caseworkers) % len(cloner.templates)], uid, name, n)
        owned[name]["cases"].extend(made["cases"])
        owned[name]["casework"].extend(tid for tid, bpmn_id, _ in made["ready"] if bpmn_id == "step_3_3")
        if n % 500 == 499:
            cloner.flush()
    cloner.flush()
    conn.execute("ANALYZE")
    counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
              for t in ("cases", "human_tasks", "audit_events", "clients")}
    counts["ready_tasks"] = conn.execute("SELECT COUNT(*) FROM human_tasks WHERE state = 'ready'").fetchone()[0]
    conn.close()
    return {"people": owned, "counts": counts, "seconds": time.perf_counter() - started, "url": url}


# ---------------------------------------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(url: str, port: int, server_options: list[str] = (), access_log: Path | None = None) -> subprocess.Popen:
    """`segito run --no-demo`, as the README's run command does (the venv's `segito` when it is there);
    ``server_options`` (e.g. ``--workers 3``) only to compare settings, the figures use the defaults."""
    segito = Path(sys.executable).with_name("segito")
    cmd = [str(segito)] if segito.exists() else [sys.executable, "-m", "web.cli"]
    cmd += ["run", "--no-demo", "--host", "127.0.0.1", "--port", str(port), *server_options]
    env = dict(os.environ, DATABASE_URL=url, PYTHONUNBUFFERED="1")
    if access_log is not None:
        env["SEGITO_ACCESS_LOG"] = str(access_log)  # the server's own time per request (web/serve.py)

    # The server's output goes to a file, not a pipe: it logs a line per request, and a pipe nobody reads fills
    # up and stops every server thread at its next log line.
    with tempfile.NamedTemporaryFile(prefix="segito-bench-server-", suffix=".log", delete=False) as output:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited: {Path(output.name).read_text(errors='replace')}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read()
            return proc
        except (TimeoutError, urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the app did not answer within 120 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---------------------------------------------------------------------------------------------- the users

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class User:
    def __init__(self, base: str, username: str, mine: dict, results: dict, lock: threading.Lock):
        self.base, self.username, self.mine = base, username, mine
        self.results, self.lock = results, lock
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        self.token = None
        self.errors: list[str] = []
        self.casework = list(mine.get("casework", []))  # kept across runs: a completed step is gone for good
        self.think_time = 0.0

    def request(self, page: str | None, path: str, data: dict | None = None) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, text, headers = resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
        except urllib.error.HTTPError as e:
            status, text, headers = e.code, e.read().decode("utf-8", "replace"), dict(e.headers)
        elapsed = time.perf_counter() - started
        if page:
            with self.lock:
                self.results.setdefault(page, []).append(elapsed)
        found = TOKEN.search(text)
        if found:
            self.token = found.group(1)
        return status, text, headers

    def login(self) -> None:
        self.request(None, "/login")
        status, _, _ = self.request(None, "/login", {"username": self.username, "password": PASSWORD,
                                                     "csrf_token": self.token})
        if status != 302:
            raise RuntimeError(f"{self.username} could not log in ({status})")
        self.request(None, "/inbox")

    def think(self, until: float) -> None:
        if self.think_time:
            time.sleep(min(random.uniform(0.5, 1.5) * self.think_time, max(0.0, until - time.time())))

    def run(self, until: float) -> None:
        casework = self.casework
        cases_ = self.mine["cases"]
        turn = 0
        while time.time() < until:
            self.think(until)
            status, _, _ = self.request("inbox", "/inbox")
            self._check(status, 200, "inbox")
            self.think(until)
            status, _, _ = self.request("case page", f"/cases/{random.choice(cases_)}")
            self._check(status, 200, "case page")
            if not casework:
                continue
            slot = turn % len(casework)
            turn += 1
            task_id = casework[slot]
            self.think(until)
            status, _, _ = self.request("task page", f"/tasks/{task_id}")
            self._check(status, 200, "task page")
            form = {"csrf_token": self.token, "meetings-0-date": "2026.03.20", "meetings-0-place": "institution",
                    "meetings-0-log": "Megbeszélés az intézményben.", "casework_next": "continue"}
            self.think(until)
            status, _, headers = self.request("form submit", f"/tasks/{task_id}/complete", form)
            self._check(status, 302, "form submit")
            nxt = re.search(r"/tasks/(\d+)$", headers.get("Location", ""))
            if nxt:
                casework[slot] = int(nxt.group(1))  # the case looped back to a new casework step
            else:
                casework.pop(slot)

    def _check(self, status, expected, page):
        if status != expected:
            self.errors.append(f"{page}: {status}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def login_users(base: str, people: dict, n_users: int) -> list[User]:
    names = [n for n, mine in people.items() if mine["cases"]][:n_users]
    results: dict[str, list[float]] = {}
    lock = threading.Lock()
    users_ = [User(base, name, people[name], results, lock) for name in names]
    for u in users_:
        u.login()
    return users_


def load(users_: list[User], seconds: float, think_time: float) -> dict:
    """Every user runs its round (inbox, case page, task page, form submit) for ``seconds``; between two
    requests a user thinks 0.5–1.5 × ``think_time`` seconds (0: back to back, to find the saturation rate)."""
    results = users_[0].results
    for u in users_:
        u.think_time = think_time
    # Warm-up: each user's first round (the app's caches, the first parse of each definition) is not measured.
    warm = [threading.Thread(target=u.run, args=(time.time() + 2,)) for u in users_]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    results.clear()
    for u in users_:
        u.errors.clear()
    started = time.time()
    threads = [threading.Thread(target=u.run, args=(started + seconds,)) for u in users_]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - started
    errors = [e for u in users_ for e in u.errors]
    measured = {k: list(v) for k, v in results.items()}
    return {"results": measured, "wall": wall, "errors": errors, "users": len(users_), "think": think_time,
            "load": os.getloadavg()[0]}


PAGES = (("inbox", re.compile(r"GET /inbox ")), ("case page", re.compile(r"GET /cases/\d+ ")),
         ("task page", re.compile(r"GET /tasks/\d+ ")), ("form submit", re.compile(r"POST /tasks/\d+/complete ")))


def server_times(access_log: Path, offset: int) -> dict[str, list[float]]:
    """The server's time per page (gunicorn's access log, SEGITO_ACCESS_LOG) from ``offset`` on: the time a
    request spent in the app, without the time it waited for a thread or for the client."""
    times: dict[str, list[float]] = {}
    with access_log.open() as fh:
        fh.seek(offset)
        for line in fh:
            for page, pattern in PAGES:
                if pattern.match(line):
                    times.setdefault(page, []).append(int(line.split()[-1]) / 1e6)
    return times


def report(title: str, run: dict) -> None:
    print(f"\n{title}: {run['users']} users, think time {run['think']:.1f} s, {run['wall']:.1f} s, "
          f"machine load {run['load']:.1f}, "
          f"{sum(len(v) for v in run['results'].values()) / run['wall']:.1f} requests/s, "
          f"{len(run['errors'])} errors{' ' + str(run['errors'][:5]) if run['errors'] else ''}")
    server = run.get("server") or {}
    print(f"  {'page':<12} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   "
          f"{'in the app: p50 ms':>18} {'p95 ms':>8}")
    for page, _ in PAGES:
        values = run["results"].get(page, [])
        if values:
            inside = server.get(page)
            print(f"  {page:<12} {len(values):>8} {statistics.median(values) * 1000:>8.1f} "
                  f"{percentile(values, 95) * 1000:>8.1f} {max(values) * 1000:>8.1f}   "
                  + (f"{statistics.median(inside) * 1000:>18.1f} {percentile(inside, 95) * 1000:>8.1f}"
                     if inside else ""))


def build(pairs: int, workdir: Path, label: str) -> dict:
    built = build_database(workdir / f"bench-{pairs}.db", pairs)
    c = built["counts"]
    print(f"\n[{label}] database: {c['cases']:,} cases, {c['human_tasks']:,} task rows ({c['ready_tasks']:,} "
          f"waiting), {c['audit_events']:,} audit events, {c['clients']:,} clients; built in {built['seconds']:.1f} s")
    return built


def bench(base: str, built: dict, users_n: int, seconds: float, label: str, think: float, saturate: float,
          access_log: Path) -> dict:
    people = login_users(base, built["people"], users_n)

    def measured(think_time: float, duration: float) -> dict:
        offset = access_log.stat().st_size if access_log.exists() else 0
        run = load(people, duration, think_time)
        # The warm-up round inside load() is in the log too: only the last len(measured) lines of each page.
        inside = server_times(access_log, offset) if access_log.exists() else {}
        run["server"] = {page: v[-len(run["results"].get(page, [])):] for page, v in inside.items()
                         if run["results"].get(page)}
        return run

    run = measured(think, seconds)
    report(f"[{label}] users at work", run)
    if saturate:
        flat_out = measured(0.0, saturate)
        report(f"[{label}] the same users without think time (saturation)", flat_out)
        run["saturation"] = flat_out
    return run


WAITING = re.compile(r'data-testid="inbox-total">(\d+)<')


def paired_inbox(bases: list[str], rounds: int = 100) -> tuple[list[list[float]], list[int]]:
    """The same caseworker's and the lead's inbox on each database in turn (A, B, A, B, …), one request at a
    time: whatever else the machine does then falls on both sizes alike. Returns the times of (caseworker,
    lead) on each database in that order, and how many tasks each inbox lists."""
    times: list[list[float]] = [[] for _ in range(2 * len(bases))]
    waiting = [0] * (2 * len(bases))
    users_ = []
    for base in bases:
        for name in ("cw0000", "lead"):
            u = User(base, name, {}, {}, threading.Lock())
            u.login()
            users_.append(u)
    for i in range(rounds + 5):
        for k, u in enumerate(users_):
            started = time.perf_counter()
            status, text, _ = u.request(None, "/inbox")
            if i >= 5:  # the first rounds warm the caches
                times[k].append(time.perf_counter() - started)
            assert status == 200
            found = WAITING.search(text)
            waiting[k] = int(found.group(1)) if found else 0
    return times, waiting


def report_inbox_by_size(times: list[list[float]], waiting: list[int], labels: tuple[str, str]) -> None:
    """Whether the inbox grows with the database: each inbox at both sizes, and the ratio of the medians."""
    print(f"\nInbox latency by database size (one request at a time, the two databases in turn, "
          f"{len(times[0])} rounds; the same caseload per caseworker, the lead sees every closure waiting):")
    print(f"  {'whose inbox':<22} {labels[0] + ' p50/p95':>24} {labels[1] + ' p50/p95':>25} {'p50 ratio':>10}")
    for k, who in enumerate(("a caseworker (cw0000)", "the professional lead")):
        small, big = times[k], times[k + 2]
        cells = [f"{statistics.median(v) * 1000:5.1f} / {percentile(v, 95) * 1000:5.1f} ms ({n:,} tasks)"
                 for v, n in ((small, waiting[k]), (big, waiting[k + 2]))]
        print(f"  {who:<22} {cells[0]:>24} {cells[1]:>25} "
              f"{statistics.median(big) / statistics.median(small):>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5000, help="client pairs (intake + family care) in the big DB")
    parser.add_argument("--small-pairs", type=int, default=500)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds a user thinks between requests")
    parser.add_argument("--saturate", type=float, default=20, help="seconds without think time (0: skip)")
    parser.add_argument("--workers", type=int, help="server processes (default: segito run's)")
    parser.add_argument("--threads", type=int, help="threads per server process (default: segito run's)")
    args = parser.parse_args()
    server_options = [*(["--workers", str(args.workers)] if args.workers else []),
                      *(["--threads", str(args.threads)] if args.threads else [])]
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; app: segito "
          f"run --no-demo {' '.join(server_options) or '(its defaults)'}: gunicorn, "
          f"{args.workers or min(os.cpu_count() or 1, 4)} worker processes × {args.threads or 4} threads, SQLite; "
          f"users think {args.think:.1f} s on average between requests; load average now "
          f"{os.getloadavg()[0]:.1f}")
    workdir = Path(tempfile.mkdtemp(prefix="segito-bench-web-"))
    small_label, big_label = f"{args.small_pairs * 2:,} cases", f"{args.pairs * 2:,} cases"
    procs = []
    try:
        small_db = build(args.small_pairs, workdir, small_label)
        big_db = build(args.pairs, workdir, big_label)
        bases, logs = [], []
        for built in (small_db, big_db):
            port = free_port()
            logs.append(workdir / f"access-{port}.log")
            procs.append(start_app(built["url"], port, server_options, logs[-1]))
            bases.append(f"http://127.0.0.1:{port}")
        small = bench(bases[0], small_db, args.users, args.seconds, small_label, args.think, 0, logs[0])
        big = bench(bases[1], big_db, args.users, args.seconds, big_label, args.think, args.saturate, logs[1])
        times, waiting = paired_inbox(bases)
        report_inbox_by_size(times, waiting, (small_label, big_label))
        print("  under load (above): caseworker inbox p50/p95 "
              + ", ".join(f"{label} {statistics.median(r['results']['inbox']) * 1000:.1f}/"
                          f"{percentile(r['results']['inbox'], 95) * 1000:.1f} ms"
                          for label, r in ((small_label, small), (big_label, big))))
        worst = max(percentile(v, 95) for v in big["results"].values())
        print(f"\nTarget p95 < 150 ms on every page ({big_label}, users at work): "
              f"{'met' if worst < 0.150 else 'NOT met'} (worst p95 {worst * 1000:.1f} ms)")
    finally:
        for proc in procs:
            stop_app(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
