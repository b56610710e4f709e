"""JSON API throughput (docs/benchmarks.md): completions per second and their latency through the API at 1, 4, 8
and 16 clients, authenticated with an API token (``Authorization: Bearer``) and with HTTP Basic (argon2 on every
call), on SQLite and on PostgreSQL; the CPU bound of the machine and the CPU the API adds to a command.

Run with ``python3 -m tests.bench.bench_api [--seconds 15] [--clients 1,4,8,16] [--workers 4] [--pg-url URL]``
(PostgreSQL at SEGITO_TEST_PG_URL, as the tests use, in a schema of its own that is dropped at the end; ``--no-pg``
to skip it). Not collected by pytest. For each database it:

1. migrates a fresh database, deploys a process of ten user tasks in a row (one lane, a one-field form: the
   engine's cost of a step, not a form's), and makes 16 caseworkers, each with a password and an API token
   (scopes read and work);
2. measures in this process the CPU time of one completion through the engine (``tasks.complete``, no HTTP):
   the CPU bound of the machine is ``cores ÷ that time`` completions per second;
3. starts ``segito run --no-demo --workers N`` (gunicorn; the in-app ticker off) and, for each authentication and
   number of clients, runs that many client threads for ``--seconds``: each its own caseworker, starting a case
   and completing its ten steps one after the other with keep-alive connections, back to back. It prints
   completions/s, p50/p95 of a completion at the client, the share of the CPU bound reached, and the server
   processes' CPU per command (from /proc: every command, starts and completions); the API's added CPU per
   command is that minus the in-process CPU of a command;
4. prints the machine's load average at each run (the machine is shared; figures move with it).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from engine import setup
from engine.cases import cases, tasks
from engine.definitions import definitions
from engine.people import api_tokens, users
from engine.runtime.runtime import Runtime
from engine.store import clock, db, migrate
from engine.store.db import Database
from tests import demo_data
from tests.bench.bench_web import free_port, percentile, start_app, stop_app

PROCESS = "bench_ten"
STEPS = 10
PASSWORD = "bench-password-1"
CLIENTS = 16
TICKS = os.sysconf("SC_CLK_TCK")
FORM = json.dumps({"type": "object", "x-label": {"hu": "Lépés", "en": "Step"}, "properties": {
    "note": {"type": "string", "title": "Megjegyzés", "x-label": {"hu": "Megjegyzés", "en": "Note"}}}}).encode()


def ten_task_upload() -> definitions.Upload:
    """A process of ten user tasks in a row in one caseworker lane, each with a one-field form."""
    ids = [f"step_{i:02d}" for i in range(1, STEPS + 1)]
    nodes = ["start", *ids, "end"]
    tasks_xml = "".join(
        f'<bpmn:userTask id="{t}" name="Lépés {n} / Step {n}"><bpmn:extensionElements><spiff:properties>'
        f'<spiff:property name="formJsonSchemaFilename" value="note.json" />'
        f'<spiff:property name="step" value="{n}" /><spiff:property name="nameEn" value="Step {n}" />'
        f'</spiff:properties></bpmn:extensionElements><bpmn:incoming>f{n - 1}</bpmn:incoming>'
        f'<bpmn:outgoing>f{n}</bpmn:outgoing></bpmn:userTask>' for n, t in enumerate(ids, 1))
    flows = "".join(f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}" />'
                    for n, (a, b) in enumerate(itertools.pairwise(nodes)))
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    xml = f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core" id="definitions_{PROCESS}"
  targetNamespace="http://segito.example/bpmn/{PROCESS}">
  <bpmn:collaboration id="collaboration_{PROCESS}">
    <bpmn:participant id="participant_{PROCESS}" name="Tíz lépés / Ten steps" processRef="{PROCESS}" />
  </bpmn:collaboration>
  <bpmn:process id="{PROCESS}" name="Tíz lépés / Ten steps" isExecutable="true">
    <bpmn:laneSet id="laneset_{PROCESS}"><bpmn:lane id="caseworker" name="Családgondozó / Caseworker">{refs}
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    {tasks_xml}
    <bpmn:endEvent id="end"><bpmn:incoming>f{STEPS}</bpmn:incoming></bpmn:endEvent>
    {flows}
  </bpmn:process>
</bpmn:definitions>
'''
    return definitions.Upload(f"{PROCESS}.bpmn", xml.encode(), {"note.json": FORM})


# ---------------------------------------------------------------------------------------------- the database

def prepare(url: str) -> dict[str, tuple[str, str]]:
    """Migrate, deploy the ten-step process, make the caseworkers, each with a registered client (a process
    deployed on its own starts from one); (token, client code) by username."""
    migrate.upgrade(url)
    rt = Runtime(Database(url))
    setup.initialise(rt)
    upload = ten_task_upload()
    definitions.prevalidate(upload)
    secrets_ = {}
    hashed = users.hash_password(PASSWORD)
    with rt.db.unit_of_work() as session:
        definitions.deploy(session, upload, "bench", clock.now())
        for i in range(CLIENTS):
            users.create_user(session, f"cw{i:02d}", f"Caseworker {i}", [users.CASEWORKER], None, "bench",
                              clock.now(), password_hash=hashed)
    with rt.db.reading() as session:
        actors = [users.actor(session, f"cw{i:02d}") for i in range(CLIENTS)]
    for i, actor in enumerate(actors):
        code = demo_data.run_intake(rt, actor, i)
        with rt.db.unit_of_work() as session:
            _, secret = api_tokens.issue(session, actor, "bench", ["read", "work"], clock.now())
        secrets_[actor.username] = (secret, code)
    rt.db.close()
    return secrets_


def in_process_cpu(url: str, cases_n: int = 30) -> dict:
    """CPU seconds of each command through the engine in this process, no HTTP: a start, the inbox that finds
    the waiting step (the client's own, by its client code) and a completion."""
    rt = Runtime(Database(url))
    rt.settle()
    with rt.db.reading() as session:
        actor = users.actor(session, "cw00")
    code = demo_data.run_intake(rt, actor, 99)
    spent = {"start": 0.0, "inbox": 0.0, "completion": 0.0}
    for n in range(cases_n + 3):
        marks = [time.process_time()]
        cases.start_case(rt, PROCESS, actor, code)
        marks.append(time.process_time())
        inbox_cpu = completion_cpu = 0.0
        for _ in range(STEPS):
            began = time.process_time()
            task_id = tasks.inbox(rt, actor, client_code=code, process_key=PROCESS)["items"][0]["task_id"]
            found = time.process_time()
            tasks.complete(rt, task_id, {"note": "x"}, actor)
            inbox_cpu += found - began
            completion_cpu += time.process_time() - found
        if n >= 3:  # the first cases warm the caches
            spent["start"] += marks[1] - marks[0]
            spent["inbox"] += inbox_cpu
            spent["completion"] += completion_cpu
    rt.db.close()
    return {"start": spent["start"] / cases_n, "inbox": spent["inbox"] / (cases_n * STEPS),
            "completion": spent["completion"] / (cases_n * STEPS)}


def flask_in_process_cpu(url: str, secret: str, code: str, cases_n: int = 20) -> dict:
    """CPU seconds of each call through the whole Flask app in this process (its test client: the token check,
    the request hooks, JSON in and out), no HTTP server or socket: what the API layer costs, away from the load."""
    from web.app import create_app

    rt = Runtime(Database(url))
    client = create_app(rt, {"TESTING": True}).test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    inbox = f"/api/inbox?client={code}&process={PROCESS}"
    spent = {"start": 0.0, "inbox": 0.0, "completion": 0.0}
    for n in range(cases_n + 3):
        began = time.process_time()
        assert client.post("/api/cases", json={"process_key": PROCESS, "client_code": code},
                           headers=auth).status_code == 201
        took = {"start": time.process_time() - began, "inbox": 0.0, "completion": 0.0}
        for _ in range(STEPS):
            began = time.process_time()
            task_id = client.get(inbox, headers=auth).get_json()["items"][0]["task_id"]
            found = time.process_time()
            assert client.post(f"/api/tasks/{task_id}/complete", json={"data": {"note": "x"}},
                               headers=auth).status_code == 200
            took["inbox"] += found - began
            took["completion"] += time.process_time() - found
        if n >= 3:  # the first cases warm the caches
            for k in spent:
                spent[k] += took[k]
    rt.db.close()
    return {"start": spent["start"] / cases_n, "inbox": spent["inbox"] / (cases_n * STEPS),
            "completion": spent["completion"] / (cases_n * STEPS)}


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and every process under it, from /proc."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu.get(p, 0.0) for p in tree)


# ---------------------------------------------------------------------------------------------- the clients

class Client(threading.Thread):
    def __init__(self, port: int, header: tuple[str, str], until: float):
        super().__init__(daemon=True)
        self.port, (self.header, self.client_code), self.until = port, header, until
        self.latencies: list[float] = []
        self.counts = {"GET": 0, "POST": 0}
        self.starts = 0
        self.errors: list[str] = []

    def _call(self, conn, method: str, path: str, body: dict | None = None) -> dict:
        payload = json.dumps(body) if body is not None else None
        conn.request(method, path, payload, {"Authorization": self.header, "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        self.counts[method] += 1
        return json.loads(data)

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        inbox = f"/api/inbox?client={self.client_code}&process={PROCESS}"
        try:
            while time.time() < self.until:
                self._call(conn, "POST", "/api/cases", {"process_key": PROCESS, "client_code": self.client_code})
                self.starts += 1
                for _ in range(STEPS):
                    if time.time() >= self.until:
                        break
                    task_id = self._call(conn, "GET", inbox)["items"][0]["task_id"]
                    began = time.perf_counter()
                    self._call(conn, "POST", f"/api/tasks/{task_id}/complete", {"data": {"note": "x"}})
                    self.latencies.append(time.perf_counter() - began)
        except Exception as e:  # reported with the run's figures, never hidden
            self.errors.append(str(e))
        finally:
            conn.close()


def headers(secrets_: dict[str, tuple[str, str]], how: str) -> list[tuple[str, str]]:
    """(Authorization header, client code) of each caseworker."""
    names = sorted(secrets_)
    if how == "token":
        return [(f"Bearer {secrets_[n][0]}", secrets_[n][1]) for n in names]
    return [("Basic " + base64.b64encode(f"{n}:{PASSWORD}".encode()).decode(), secrets_[n][1]) for n in names]


def run_level(port: int, server_pid: int, auth: list[tuple[str, str]], clients: int, seconds: float,
              cost: dict) -> dict:
    # Warm-up: every client's connection and the server's threads, not measured.
    warm = [Client(port, h, time.time() + 1.5) for h in auth[:clients]]
    for c in warm:
        c.start()
    for c in warm:
        c.join()
    cpu_before, client_before = process_tree_cpu(server_pid), time.process_time()
    started = time.time()
    threads = [Client(port, h, started + seconds) for h in auth[:clients]]
    for c in threads:
        c.start()
    for c in threads:
        c.join()
    wall = time.time() - started
    server_cpu = process_tree_cpu(server_pid) - cpu_before
    latencies = [x for c in threads for x in c.latencies]
    requests = sum(sum(c.counts.values()) for c in threads)
    expected = (sum(c.starts for c in threads) * cost["start"] + sum(c.counts["GET"] for c in threads)
                * cost["inbox"] + len(latencies) * cost["completion"])
    return {"clients": clients, "completions": len(latencies), "requests": requests, "wall": wall,
            # what serving the requests cost beyond the engine's own work, per request
            "added": (server_cpu - expected) / max(requests, 1),
            "rate": len(latencies) / wall, "p50": statistics.median(latencies) if latencies else float("nan"),
            "p95": percentile(latencies, 95) if latencies else float("nan"),
            "server_cpu_per_request": server_cpu / max(requests, 1),
            "server_cpu_per_completion": server_cpu / max(len(latencies), 1),
            "server_busy": server_cpu / wall, "client_cpu": (time.process_time() - client_before) / wall,
            "errors": [e for c in threads for e in c.errors], "load": os.getloadavg()[0]}


def bench_database(label: str, url: str, args) -> dict:
    secrets_ = prepare(url)
    cost = in_process_cpu(url)
    secret, code = secrets_["cw15"]
    flask = flask_in_process_cpu(url, secret, code)
    cores = os.cpu_count() or 1
    bound = cores / cost["completion"]
    cycle = cycle_cpu(cost)
    print(f"\n[{label}] in process: {cost['completion'] * 1000:.2f} ms CPU per completion, "
          f"{cost['inbox'] * 1000:.2f} ms per inbox, {cost['start'] * 1000:.2f} ms per start; CPU bound {cores} cores ÷ {cost['completion'] * 1000:.2f} ms "
          f"= {bound:.0f} completions/s; the engine's work behind one API completion (it, the inbox that found it, a "
          f"tenth of a start) {cycle * 1000:.2f} ms: {cores / cycle:.0f}/s", flush=True)
    print("  through Flask in process (test client, token): " + ", ".join(
        f"{what} {flask[what] * 1000:.2f} ms CPU (engine {cost[what] * 1000:.2f}, API adds "
        f"{(flask[what] - cost[what]) * 1000:.2f})" for what in ("completion", "inbox", "start")), flush=True)
    port = free_port()
    os.environ["SEGITO_TICKER"] = "0"  # no timers in this process: the ticker would only add noise
    proc = start_app(url, port, ["--workers", str(args.workers)])
    rows = []
    try:
        print(f"  {'auth':<6} {'clients':>7} {'completions/s':>13} {'CPU bound':>9} {'of bound':>9} {'p50 ms':>7} "
              f"{'p95 ms':>7} {'engine CPU/compl ms':>19} {'server CPU/compl ms':>19} {'API adds/compl':>14} "
              f"{'server CPU/req ms':>17} {'API adds/req':>12} {'server busy':>11} {'load':>5} errors")
        for how in args.auth:
            auth = headers(secrets_, how)
            for clients in args.clients:
                r = run_level(port, proc.pid, auth, clients, args.seconds, cost)
                r.update(auth=how, bound=bound)
                rows.append(r)
                print(f"  {how:<6} {clients:>7} {r['rate']:>13.1f} {bound:>9.0f} {r['rate'] / bound:>9.1%} "
                      f"{r['p50'] * 1000:>7.1f} {r['p95'] * 1000:>7.1f} {cycle * 1000:>19.2f} "
                      f"{r['server_cpu_per_completion'] * 1000:>19.2f} "
                      f"{(r['server_cpu_per_completion'] - cycle) * 1000:>14.2f} "
                      f"{r['server_cpu_per_request'] * 1000:>17.2f} "
                      f"{r['added'] * 1000:>12.2f} {r['server_busy']:>10.2f}c {r['load']:>5.1f} "
                      f"{len(r['errors'])}{' ' + r['errors'][0][:120] if r['errors'] else ''}", flush=True)
    finally:
        stop_app(proc)
    return {"label": label, "bound": bound, "cycle": cycle, "cost": cost, "flask": flask, "rows": rows}


def cycle_cpu(cost: dict) -> float:
    """The engine's CPU behind one completion through the API as the clients make them: the completion, the inbox
    read that found its task, and a tenth of the start of the case."""
    return cost["completion"] + cost["inbox"] + cost["start"] / STEPS


def pg_schema_url(base: str) -> tuple[str, str]:
    schema = f"segito_bench_api_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def summary(results: list[dict]) -> None:
    print("\nTargets (issue: at 16 clients ≥ 80 % of the CPU bound, p95 < 150 ms, PostgreSQL within 20 % of "
          "SQLite, the API adds ≤ 1 ms CPU per command), with tokens:")
    top = {}
    for res in results:
        rows = [r for r in res["rows"] if r["auth"] == "token"]
        if not rows:
            continue
        last = max(rows, key=lambda r: r["clients"])
        top[res["label"]] = last
        basic = [r for r in res["rows"] if r["auth"] == "basic" and r["clients"] == last["clients"]]
        print(f"  {res['label']}: {last['clients']} clients {last['rate']:.1f}/s = {last['rate'] / res['bound']:.0%} "
              f"of bound, p95 {last['p95'] * 1000:.1f} ms, API adds {last['added'] * 1000:.2f} ms CPU/request"
              + (f"; HTTP Basic {basic[0]['rate']:.1f}/s ({last['rate'] / basic[0]['rate']:.1f}× less than tokens)"
                 if basic and basic[0]["rate"] else ""))
    if "SQLite" in top and "PostgreSQL" in top:
        print(f"  PostgreSQL / SQLite at {top['SQLite']['clients']} clients: "
              f"{top['PostgreSQL']['rate'] / top['SQLite']['rate']:.0%}")
    side_by_side(results)


def side_by_side(results: list[dict]) -> None:
    """One line per authentication and number of clients, the databases next to each other."""
    by = {res["label"]: res for res in results}
    labels = [label for label in ("SQLite", "PostgreSQL") if label in by]
    if not labels:
        return
    print("\nSide by side (completions/s | CPU bound | share of it | server CPU per completion − the engine's = "
          "what the API adds, ms):")
    print(f"  {'auth':<6} {'clients':>7}" + "".join(f"  {label:>44}" for label in labels)
          + ("  PG/SQLite" if len(labels) == 2 else ""))
    keys = sorted({(r["auth"], r["clients"]) for label in labels for r in by[label]["rows"]},
                  key=lambda k: (k[0] != "token", k[1]))
    for how, clients in keys:
        line, rates = f"  {how:<6} {clients:>7}", []
        for label in labels:
            res = by[label]
            row = next((r for r in res["rows"] if (r["auth"], r["clients"]) == (how, clients)), None)
            if row is None:
                line += f"  {'-':>44}"
                continue
            rates.append(row["rate"])
            per = row["server_cpu_per_completion"] * 1000
            line += (f"  {row['rate']:>7.1f}/s {res['bound']:>6.0f} {row['rate'] / res['bound']:>6.1%} "
                     f"{per:>6.2f}−{res['cycle'] * 1000:.2f}={per - res['cycle'] * 1000:>5.2f}")
        if len(rates) == 2 and rates[0]:
            line += f"  {rates[1] / rates[0]:>8.0%}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", default="1,4,8,16")
    parser.add_argument("--workers", type=int, default=4, help="server processes (gunicorn)")
    parser.add_argument("--pg-url", default=os.environ.get("SEGITO_TEST_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--auth", default="token,basic", help="token, basic or both (basic is ~30× slower)")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.auth = [a for a in args.auth.split(",") if a]
    if not set(args.auth) <= {"token", "basic"}:
        parser.error("--auth takes token, basic or token,basic")
    began = time.monotonic()
    if max(args.clients) > CLIENTS:
        parser.error(f"at most {CLIENTS} clients")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}; "
          f"server: segito run --no-demo --workers {args.workers} (gunicorn, 4 threads each, ticker off); "
          f"{args.seconds:.0f} s per run, clients back to back")
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="segito-bench-api-"))
    try:
        if not args.no_sqlite:
            results.append(bench_database("SQLite", f"sqlite:///{workdir / 'bench.db'}", args))
        if not args.no_pg:
            url, schema = pg_schema_url(args.pg_url)
            try:
                results.append(bench_database("PostgreSQL", url, args))
            finally:
                db.dispose(url)
                drop_schema(args.pg_url, schema)
        summary(results)
        print(f"\nThe whole run took {time.monotonic() - began:.0f} s; load average now {os.getloadavg()[0]:.1f}.")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
