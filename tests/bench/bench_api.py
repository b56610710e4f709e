"""JSON API throughput (docs/benchmarks.md): completions per second and their latency through the API at 1, 4, 8
and 16 clients, authenticated with an API token (``Authorization: Bearer``) and with HTTP Basic (argon2 on every
call), on SQLite and on PostgreSQL; the CPU bound of the machine and the CPU the API adds to a command.

Run with ``python3 -m tests.bench.bench_api [--seconds 15] [--clients 1,4,8,16] [--workers 4] [--pg-url URL]
[--pin] [--inbox-each-step] [--client raw|http.client]`` (PostgreSQL at SEGITO_TEST_PG_URL, as the tests use, in a
schema of its own that is dropped at the end; ``--no-pg`` to skip it). Not collected by pytest. For each database
it:

1. migrates a fresh database, deploys a process of ten user tasks in a row (one lane, a one-field form: the
   engine's cost of a step, not a form's), and makes 16 caseworkers, each with a password and an API token
   (scopes read and work);
2. measures in this process the CPU time of one completion through the engine (``tasks.complete``, no HTTP):
   the CPU bound is ``cores ÷ that time`` completions per second (the issue's); beside it the bound of what the
   clients actually call per completion (the completion, a tenth of a start, and with ``--inbox-each-step`` the
   inbox read that found the task);
3. starts ``segito run --no-demo --workers N`` (gunicorn; the in-app ticker off) and, for each authentication and
   number of clients, runs that many client threads for ``--seconds``: each its own caseworker, starting a case
   and completing its ten steps one after the other on one keep-alive connection, back to back, each step by the
   id the previous answer gave (``next_tasks``; ``--inbox-each-step``: by an inbox read before each step, as
   clients had to before answers named ids). It prints completions/s, p50/p95 of a completion at the client, the
   share of the CPU bound reached, the server processes' CPU per completion (from /proc), on PostgreSQL the CPU of
   the server's database backends, and the clients' own CPU per completion (their threads' CPU clocks);
4. with ``--pin``, runs the server under ``taskset`` on the last ``--server-cores`` cores (default half) and the
   client threads on the others (``os.sched_setaffinity``), and reports the CPU bound of the server's cores only
   (PostgreSQL's own processes are the shared server's and stay unpinned);
5. prints the machine's load average at each run (the machine is shared; figures move with it).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
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
from tests.bench.bench_web import ROOT, free_port, percentile, stop_app

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
    """CPU seconds of each command through the engine in this process, no HTTP: a start, a completion (each step
    by the id the previous answer gave), and the inbox read that would find the same step (the client's own, by
    its client code), for ``--inbox-each-step``."""
    rt = Runtime(Database(url))
    rt.settle()
    with rt.db.reading() as session:
        actor = users.actor(session, "cw00")
    code = demo_data.run_intake(rt, actor, 99)
    spent = {"start": 0.0, "inbox": 0.0, "completion": 0.0}
    for n in range(cases_n + 3):
        marks = [time.process_time()]
        task_id = cases.start_case(rt, PROCESS, actor, code)["tasks"][0]["task_id"]
        marks.append(time.process_time())
        inbox_cpu = completion_cpu = 0.0
        for _ in range(STEPS):
            began = time.process_time()
            found_id = tasks.inbox(rt, actor, client_code=code, process_key=PROCESS)["items"][0]["task_id"]
            found = time.process_time()
            assert found_id == task_id, (found_id, task_id)
            answer = tasks.complete(rt, task_id, {"note": "x"}, actor)
            inbox_cpu += found - began
            completion_cpu += time.process_time() - found
            task_id = answer["next_tasks"][0]["task_id"] if answer["next_tasks"] else None
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
        started = client.post("/api/cases", json={"process_key": PROCESS, "client_code": code}, headers=auth)
        assert started.status_code == 201
        task_id = started.get_json()["tasks"][0]["task_id"]
        took = {"start": time.process_time() - began, "inbox": 0.0, "completion": 0.0}
        for _ in range(STEPS):
            began = time.process_time()
            assert client.get(inbox, headers=auth).get_json()["items"][0]["task_id"] == task_id
            found = time.process_time()
            answer = client.post(f"/api/tasks/{task_id}/complete", json={"data": {"note": "x"}}, headers=auth)
            assert answer.status_code == 200
            took["inbox"] += found - began
            took["completion"] += time.process_time() - found
            following = answer.get_json()["next_tasks"]
            task_id = following[0]["task_id"] if following else None
        if n >= 3:  # the first cases warm the caches
            for k in spent:
                spent[k] += took[k]
    rt.db.close()
    return {"start": spent["start"] / cases_n, "inbox": spent["inbox"] / (cases_n * STEPS),
            "completion": spent["completion"] / (cases_n * STEPS)}


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, from /proc; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


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


class Backends:
    """The CPU of the PostgreSQL backends serving the benchmark's server (its connections carry an
    ``application_name`` of their own), from /proc: part of what a completion costs the machine on PostgreSQL,
    outside the server's processes and outside the in-process figures (the engine's own process)."""

    def __init__(self, admin_url: str, name: str):
        self.engine = create_engine(admin_url)
        self.name = name

    def cpu(self) -> dict[int, float]:
        with self.engine.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                                {"n": self.name}).scalars().all()
        return {pid: proc_cpu(pid) for pid in pids}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        # A backend that ended during the run is missed (the pool keeps them open: rarely any).
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())

    def close(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------------------------------------- the clients

class RawHttp:
    """A keep-alive HTTP/1.1 connection on a plain socket: the request written as bytes, the answer read up to its
    Content-Length. A load generator's CPU is the server's competitor on a shared machine; http.client's header
    parsing (the email package) costs several times this."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def call(self, method: str, path: str, auth: str, body: bytes | None = None) -> tuple[int, bytes]:
        sock = self.sock or self._connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        sock.sendall(head.encode() + b"\r\n" + (body or b""))
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
        header = buffer[:end].decode("latin-1")
        status = int(header[9:12])
        length = None
        for line in header.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise RuntimeError("a chunked answer: this client reads Content-Length only")
        if length is None:
            raise RuntimeError(f"{method} {path}: an answer without Content-Length")
        buffer = buffer[end + 4:]
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
        data, self.buffer = buffer[:length], buffer[length:]
        if "connection: close" in header.lower():
            self.close()
        return status, data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class StdHttp:
    """The same over http.client (the benchmark's client before the raw one: to compare the clients' CPU)."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, auth: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": auth}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


COMPLETE_BODY = json.dumps({"data": {"note": "x"}}).encode()


class Client(threading.Thread):
    def __init__(self, port: int, header: tuple[str, str], until: float, inbox_each_step: bool = False,
                 kind: str = "raw"):
        super().__init__(daemon=True)
        self.port, (self.header, self.client_code), self.until = port, header, until
        self.inbox_each_step, self.kind = inbox_each_step, kind
        self.latencies: list[float] = []
        self.counts = {"GET": 0, "POST": 0}
        self.starts = 0
        self.cpu = 0.0  # this thread's own CPU over the run
        self.errors: list[str] = []

    def _call(self, conn, method: str, path: str, body: bytes | None = None) -> dict:
        status, data = conn.call(method, path, self.header, body)
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
        self.counts[method] += 1
        return json.loads(data)

    def run(self) -> None:
        began = time.thread_time()
        conn = (RawHttp if self.kind == "raw" else StdHttp)(self.port)
        inbox = f"/api/inbox?client={self.client_code}&process={PROCESS}"
        start = json.dumps({"process_key": PROCESS, "client_code": self.client_code}).encode()
        try:
            while time.time() < self.until:
                following = self._call(conn, "POST", "/api/cases", start)["tasks"]
                self.starts += 1
                while following and time.time() < self.until:
                    task_id = following[0]["task_id"]
                    if self.inbox_each_step:  # as clients had to before an answer named the next task's id
                        task_id = self._call(conn, "GET", inbox)["items"][0]["task_id"]
                    began_call = time.perf_counter()
                    following = self._call(conn, "POST", f"/api/tasks/{task_id}/complete",
                                           COMPLETE_BODY)["next_tasks"]
                    self.latencies.append(time.perf_counter() - began_call)
        except Exception as e:  # reported with the run's figures, never hidden
            self.errors.append(str(e))
        finally:
            conn.close()
            self.cpu = time.thread_time() - began


def headers(secrets_: dict[str, tuple[str, str]], how: str) -> list[tuple[str, str]]:
    """(Authorization header, client code) of each caseworker."""
    names = sorted(secrets_)
    if how == "token":
        return [(f"Bearer {secrets_[n][0]}", secrets_[n][1]) for n in names]
    return [("Basic " + base64.b64encode(f"{n}:{PASSWORD}".encode()).decode(), secrets_[n][1]) for n in names]


def run_level(port: int, server_pid: int, auth: list[tuple[str, str]], clients: int, seconds: float,
              cost: dict, args, backends: Backends | None) -> dict:
    def make(until: float) -> list[Client]:
        return [Client(port, h, until, args.inbox_each_step, args.client) for h in auth[:clients]]

    # Warm-up: every client's connection and the server's threads, not measured.
    warm = make(time.time() + 1.5)
    for c in warm:
        c.start()
    for c in warm:
        c.join()
    backends_before = backends.cpu() if backends else {}
    cpu_before, client_before = process_tree_cpu(server_pid), time.process_time()
    started = time.time()
    threads = make(started + seconds)
    for c in threads:
        c.start()
    for c in threads:
        c.join()
    wall = time.time() - started
    server_cpu = process_tree_cpu(server_pid) - cpu_before
    bench_cpu = time.process_time() - client_before
    backend_cpu = Backends.spent(backends_before, backends.cpu()) if backends else 0.0
    latencies = [x for c in threads for x in c.latencies]
    done = max(len(latencies), 1)
    requests = sum(sum(c.counts.values()) for c in threads)
    expected = (sum(c.starts for c in threads) * cost["start"] + sum(c.counts["GET"] for c in threads)
                * cost["inbox"] + len(latencies) * cost["completion"])
    return {"clients": clients, "completions": len(latencies), "requests": requests, "wall": wall,
            # what serving the requests cost beyond the engine's own work, per request
            "added": (server_cpu - expected) / max(requests, 1),
            "rate": len(latencies) / wall, "p50": statistics.median(latencies) if latencies else float("nan"),
            "p95": percentile(latencies, 95) if latencies else float("nan"),
            "requests_per_completion": requests / done,
            "server_cpu_per_request": server_cpu / max(requests, 1),
            "server_cpu_per_completion": server_cpu / done,
            "backend_cpu_per_completion": backend_cpu / done,
            # the client threads' own CPU clocks, and the whole benchmark process's (GIL hand-overs, GC)
            "client_cpu_per_completion": sum(c.cpu for c in threads) / done,
            "bench_cpu_per_completion": bench_cpu / done,
            "server_busy": server_cpu / wall, "client_busy": bench_cpu / wall,
            "errors": [e for c in threads for e in c.errors], "load": os.getloadavg()[0]}


def start_server(url: str, port: int, workers: int, cores: list[int] | None, threads: int = 4) -> subprocess.Popen:
    """`segito run --no-demo --workers N --threads M` (the venv's `segito`), under ``taskset -c cores`` when pinned
    (its gunicorn processes inherit the affinity), ready when its login page answers."""
    segito = Path(sys.executable).with_name("segito")
    cmd = [str(segito)] if segito.exists() else [sys.executable, "-m", "web.cli"]
    cmd += ["run", "--no-demo", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--threads", str(threads)]
    if cores is not None:
        cmd = ["taskset", "-c", ",".join(map(str, cores)), *cmd]
    env = dict(os.environ, DATABASE_URL=url, PYTHONUNBUFFERED="1", SEGITO_TICKER="0")  # no timers: only noise
    # The server's output goes to a file, not a pipe that nobody reads and that would fill up.
    with tempfile.NamedTemporaryFile(prefix="segito-bench-api-server-", suffix=".log", delete=False) as output:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited: {Path(output.name).read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if probe.recv(12).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the app did not answer within 120 s")


def pinning(args) -> tuple[list[int], list[int]] | None:
    """(server cores, client cores) with ``--pin``: the server on the last ``--server-cores``, the clients on
    the rest of the cores this process may use."""
    if not args.pin:
        return None
    allowed = sorted(os.sched_getaffinity(0))
    n = args.server_cores or max(1, len(allowed) // 2)
    if len(allowed) < 2 or n >= len(allowed):
        raise SystemExit(f"--pin needs cores for the clients too: {len(allowed)} usable, {n} for the server")
    return allowed[-n:], allowed[:-n]


def bench_database(label: str, url: str, args, server_url: str | None = None, admin_url: str | None = None) -> dict:
    secrets_ = prepare(url)
    cost = in_process_cpu(url)
    secret, code = secrets_["cw15"]
    flask = flask_in_process_cpu(url, secret, code)
    pinned = pinning(args)
    cores = len(pinned[0]) if pinned else (os.cpu_count() or 1)
    bound = cores / cost["completion"]
    cycle = cycle_cpu(cost, args.inbox_each_step)
    print(f"\n[{label}] in process: {cost['completion'] * 1000:.2f} ms CPU per completion, "
          f"{cost['inbox'] * 1000:.2f} ms per inbox, {cost['start'] * 1000:.2f} ms per start; CPU bound "
          f"{cores} {'server ' if pinned else ''}core{'s' if cores > 1 else ''} ÷ {cost['completion'] * 1000:.2f} ms "
          f"= {bound:.0f} completions/s; the engine's work behind one API completion as the clients call it (it, "
          f"{'the inbox read that found it, ' if args.inbox_each_step else ''}a tenth of a start) "
          f"{cycle * 1000:.2f} ms: bound {cores / cycle:.0f}/s", flush=True)
    print("  through Flask in process (test client, token): " + ", ".join(
        f"{what} {flask[what] * 1000:.2f} ms CPU (engine {cost[what] * 1000:.2f}, API adds "
        f"{(flask[what] - cost[what]) * 1000:.2f})" for what in ("completion", "inbox", "start")), flush=True)
    port = free_port()
    proc = start_server(server_url or url, port, args.workers, pinned[0] if pinned else None, args.threads)
    backends = Backends(admin_url, BACKEND_NAME) if admin_url else None
    own = os.sched_getaffinity(0)
    rows = []
    try:
        if pinned:
            os.sched_setaffinity(0, pinned[1])  # this thread, and the client threads it starts from now on
            print(f"  pinned: server on core(s) {pinned[0]}, clients on core(s) {pinned[1]}", flush=True)
        print(f"  {'auth':<6} {'clients':>7} {'compl/s':>8} {'bound':>6} {'of it':>6} {'of cycle':>8} "
              f"{'p50 ms':>7} {'p95 ms':>7} {'req/compl':>9} {'engine ms':>9} {'server ms':>9} {'API adds':>8} "
              f"{'db ms':>6} {'client ms':>9} {'bench ms':>8} {'server busy':>11} {'load':>5} errors")
        for how in args.auth:
            auth = headers(secrets_, how)
            for clients in args.clients:
                r = run_level(port, proc.pid, auth, clients, args.seconds, cost, args, backends)
                r.update(auth=how, bound=bound, cycle_bound=cores / cycle)
                rows.append(r)
                print(f"  {how:<6} {clients:>7} {r['rate']:>8.1f} {bound:>6.0f} {r['rate'] / bound:>6.1%} "
                      f"{r['rate'] * cycle / cores:>8.1%} {r['p50'] * 1000:>7.1f} {r['p95'] * 1000:>7.1f} "
                      f"{r['requests_per_completion']:>9.2f} {cycle * 1000:>9.2f} "
                      f"{r['server_cpu_per_completion'] * 1000:>9.2f} "
                      f"{(r['server_cpu_per_completion'] - cycle) * 1000:>8.2f} "
                      f"{r['backend_cpu_per_completion'] * 1000:>6.2f} "
                      f"{r['client_cpu_per_completion'] * 1000:>9.2f} {r['bench_cpu_per_completion'] * 1000:>8.2f} "
                      f"{r['server_busy']:>10.2f}c {r['load']:>5.1f} "
                      f"{len(r['errors'])}{' ' + r['errors'][0][:120] if r['errors'] else ''}", flush=True)
    finally:
        os.sched_setaffinity(0, own)
        stop_app(proc)
        if backends:
            backends.close()
    return {"label": label, "bound": bound, "cycle": cycle, "cores": cores, "cost": cost, "flask": flask,
            "rows": rows}


def cycle_cpu(cost: dict, inbox_each_step: bool = False) -> float:
    """The engine's CPU behind one completion through the API as the clients make them: the completion, a tenth
    of the start of the case, and with ``inbox_each_step`` the inbox read that found its task."""
    return cost["completion"] + cost["start"] / STEPS + (cost["inbox"] if inbox_each_step else 0.0)


BACKEND_NAME = f"segito_bench_api_{os.getpid()}"


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
              f"of the issue's bound ({last['rate'] / last['cycle_bound']:.0%} of the bound of what the clients "
              f"call), p95 {last['p95'] * 1000:.1f} ms, API adds {last['added'] * 1000:.2f} ms CPU/request; "
              f"clients' CPU {last['client_cpu_per_completion'] * 1000:.2f} ms per completion"
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
    parser.add_argument("--threads", type=int, default=4, help="threads per server process (segito run's default)")
    parser.add_argument("--pg-url", default=os.environ.get("SEGITO_TEST_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--auth", default="token,basic", help="token, basic or both (basic is ~30× slower)")
    parser.add_argument("--inbox-each-step", action="store_true",
                        help="read the inbox before each step to find its id, as clients had to before a "
                             "completion's answer named the next task's id")
    parser.add_argument("--pin", action="store_true",
                        help="the server under taskset on the last --server-cores cores, the clients on the others")
    parser.add_argument("--server-cores", type=int, default=0, help="with --pin; default half the cores")
    parser.add_argument("--client", choices=("raw", "http.client"), default="raw",
                        help="the clients' HTTP: a plain socket (default) or http.client")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.auth = [a for a in args.auth.split(",") if a]
    if not set(args.auth) <= {"token", "basic"}:
        parser.error("--auth takes token, basic or token,basic")
    began = time.monotonic()
    if max(args.clients) > CLIENTS:
        parser.error(f"at most {CLIENTS} clients")
    pinned = pinning(args)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}; "
          f"server: segito run --no-demo --workers {args.workers} --threads {args.threads} (gunicorn, ticker off)"
          + (f" on core(s) {pinned[0]}, clients on {pinned[1]}" if pinned else ", unpinned")
          + f"; {args.seconds:.0f} s per run, {args.client} clients back to back, "
          + ("an inbox read before each step" if args.inbox_each_step else "each step by the id the last answer gave"))
    print("Columns: compl/s; the issue's CPU bound (cores ÷ a completion's in-process CPU) and the share of it "
          "reached; the share of the bound of what the clients call (a completion, a tenth of a start, with "
          "--inbox-each-step an inbox read); requests per completion; per completion, ms of CPU: the engine's "
          "work in process, the server processes', what the API adds (their difference), PostgreSQL's backends "
          "for the server, the client threads' own, the whole benchmark process's")
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="segito-bench-api-"))
    try:
        if not args.no_sqlite:
            results.append(bench_database("SQLite", f"sqlite:///{workdir / 'bench.db'}", args))
        if not args.no_pg:
            url, schema = pg_schema_url(args.pg_url)
            try:
                # The server's connections are named, so the backends serving it can be told apart.
                results.append(bench_database("PostgreSQL", url, args,
                                              server_url=f"{url}&application_name={BACKEND_NAME}",
                                              admin_url=args.pg_url))
            finally:
                db.dispose(url)
                drop_schema(args.pg_url, schema)
        summary(results)
        print(f"\nThe whole run took {time.monotonic() - began:.0f} s; load average now {os.getloadavg()[0]:.1f}.")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
