"""Family-care benchmark (docs/benchmarks.md): Segito against SpiffWorkflow alone, on one full case.

Run with ``python3 -m tests.bench.bench_family_care [--cases N] [--rounds R] [--postgres]``. The file name does
not match pytest's ``test_*.py``, so the test run never collects it.

One case is what a caseworker records from intake to closure: intake, 3.1 (``demo_data.assessment_data()``), 3.2,
three rounds of casework 3.3 ('continue', each adding a meeting) and one that goes to review, 3.6 (commitments
met), 3.8 (successful closure) and the professional lead's agreement: two case starts and ten task completions.
The closure takes no follow-up: 3.10 follow-up contacts wait for dated timers (a parallel multi-instance
subprocess), so a case with follow-up stays open until the clock reaches them.

(a) SpiffWorkflow alone, in memory: the bundled BPMN parsed once with ``SpiffBpmnParser``, the sandboxed script
    engine with a stub ``register_client`` service, the same tasks completed with the same data (the data as
    Segito's forms normalise it, prepared before the clock starts), and the whole workflow serialised with
    ``BpmnWorkflowSerializer.serialize_json`` after the start and after every task.
(b) Segito: ``cases.start_case`` and ``tasks.complete`` on a SQLite file in a temporary directory (migrated,
    bundled processes deployed, users created as a deployment does). Task ids are read from ``human_tasks``
    between commands; only the commands are timed (the wall time with those look-ups is printed too).

(a) and (b) run alternately in rounds (the order flips every round) so machine noise hits both; rates are
printed over wall time and, steadier on a busy machine, over this process's CPU time. Then, outside the timed
rounds: SQL statements and commits per ``tasks.complete`` (SQLAlchemy ``before_cursor_execute`` and ``commit``
events, plus what reached the database: SQLite's trace callback, or on PostgreSQL the libpq protocol trace),
and the bytes one case keeps after 1, 10 and 100 casework rounds.

``--postgres`` adds Segito on PostgreSQL (``SEGITO_BENCH_PG_URL``, default the test server) in a schema of its
own, dropped at the end; ``--cold-cache`` adds Segito on SQLite with the workflow cache off (every command loads
the state, as after a restart or on another worker); ``--secure-delete-off`` adds Segito on SQLite with
``PRAGMA secure_delete`` off, what it costs; ``--key-check`` times the check that a cached data key is still live
(engine/store/keys.py), on each database run.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, event, select, text
from sqlalchemy import inspect as sa_inspect

from engine import setup, speedups
from engine.cases import cases, tasks
from engine.definitions import serialization
from engine.forms.forms import Form
from engine.people import users
from engine.runtime.runtime import Runtime
from engine.sandbox import SandboxedScriptEngine
from engine.store import clock
from engine.store.config import BPMN_DIR
from engine.store.db import Database, get_engine
from engine.store.models import AuditEvent, Base, Case, Client, HumanTask
from tests import demo_data

PG_BASE_URL = os.environ.get("SEGITO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = f"segito_bench_{os.getpid()}"
CASEWORK_LOOPS = 3          # 'continue' rounds of 3.3 in the benchmark case (then one 'review')
GROWTH_LOOPS = (1, 10, 100)
FORM_PROPERTY = "formJsonSchemaFilename"


# ------------------------------------------------------------------------------------------------ the case
@dataclass
class Step:
    process: str            # intake | family_care
    bpmn_id: str
    actor: str              # anna (caseworker) | lea (professional lead)
    data: dict


def family_care_steps(loops: int = CASEWORK_LOOPS, *, cumulative: bool = True, review: bool = True) -> list[Step]:
    """The family-care completions. ``cumulative`` is how the casework form is really used (it holds every
    meeting so far and the caseworker adds one); otherwise the rounds record no meeting, so the case data keeps
    its size (the meetings are an append-only log: a round cannot send a single, different one in their place)."""
    steps = [Step("family_care", "step_3_1", "anna", demo_data.assessment_data()),
             Step("family_care", "step_3_2", "anna", {"agreement_date": "2026-03-05", "review_frequency": "monthly"})]
    meetings: list[dict] = []
    for n in range(loops):
        meetings.append(demo_data.meeting(6 + n % 20))
        steps.append(Step("family_care", "step_3_3", "anna",
                          {**({"meetings": list(meetings)} if cumulative else {}), "casework_next": "continue"}))
    if not review:
        return steps
    steps.append(Step("family_care", "step_3_3", "anna", {"meetings": list(meetings), "actions": [demo_data.action(10)],
                                                          "casework_next": "review"}))
    steps += [Step("family_care", "step_3_6", "anna", demo_data.review_data(True)),
              Step("family_care", "step_3_8", "anna", demo_data.closure_data(follow_up=False)),
              Step("family_care", "agree_closure_success", "lea", {"closure_agreed": True})]
    return steps


class Plans:
    """The benchmark case's submissions, plus the same data as Segito's forms normalise it (for (a))."""

    def __init__(self, specs: dict):
        self.forms: dict[str, Form] = {}
        self.form_of: dict[str, str | None] = {}
        for key, (spec, _subs) in specs.items():
            forms_dir = BPMN_DIR / key / "forms"
            for ts in spec.task_specs.values():
                if getattr(ts, "manual", False):
                    name = (getattr(ts, "extensions", None) or {}).get("properties", {}).get(FORM_PROPERTY)
                    self.form_of[ts.name] = name
                    if name and name not in self.forms:
                        self.forms[name] = Form(name, json.loads((forms_dir / name).read_text("utf-8")))
        self._fc_raw = family_care_steps()
        self._fc_clean = [Step(s.process, s.bpmn_id, s.actor, self.clean(s.bpmn_id, s.data)) for s in self._fc_raw]

    def clean(self, bpmn_id: str, data: dict) -> dict:
        name = self.form_of.get(bpmn_id)
        return self.forms[name].validate(data) if name else {}

    def case(self, i: int, cleaned: bool) -> list[Step]:
        """Case number ``i`` (a distinct client each), each submission a fresh copy."""
        intake = demo_data.intake_data(i)
        if cleaned:
            intake = self.clean("intake_registration", intake)
        steps = [Step("intake", "intake_registration", "anna", intake)]
        steps += self._fc_clean if cleaned else self._fc_raw
        return [Step(s.process, s.bpmn_id, s.actor, copy.deepcopy(s.data)) for s in steps]


def parse_specs() -> dict:
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(BPMN_DIR / "intake" / "intake.bpmn"),
                           str(BPMN_DIR / "family_care" / "family_care.bpmn")])
    return {key: (parser.get_spec(key), parser.get_subprocess_specs(key)) for key in ("intake", "family_care")}


# ------------------------------------------------------------------------------------------- (a) Spiff only
class SpiffOnly:
    label = "(a) SpiffWorkflow in memory"

    def __init__(self, specs: dict):
        self.specs = specs
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.step_times: dict[str, list[float]] = collections.defaultdict(list)
        self.last_json_bytes = 0

    def _serialize(self, wf: BpmnWorkflow) -> None:
        self.last_json_bytes = len(self.serializer.serialize_json(wf))

    def _workflow(self, key: str, client_code: str) -> BpmnWorkflow:
        spec, subs = self.specs[key]
        services = {"register_client": lambda data, **kw: {"client_code": client_code, "client_status": "new"},
                    "now": lambda data, **kw: clock.now().isoformat()}
        return BpmnWorkflow(spec, subs, script_engine=SandboxedScriptEngine(services=services))

    def _complete(self, wf: BpmnWorkflow, step: Step) -> None:
        t0 = time.perf_counter()
        ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.name == step.bpmn_id]
        if not ready:
            raise AssertionError(f"(a): no ready '{step.bpmn_id}'")
        task = ready[0]
        task.data.update(step.data)
        task.run()
        wf.do_engine_steps()
        self._serialize(wf)
        self.step_times[step.bpmn_id].append(time.perf_counter() - t0)

    @contextlib.contextmanager
    def block(self):
        """A round of cases on SpiffWorkflow as published (engine/speedups/'s replacements taken out once for the round:
        switching them per case re-specialises the interpreter's code for both variants each time)."""
        with speedups.switched_off():
            self._plain = True
            try:
                yield
            finally:
                self._plain = False

    def run_case(self, i: int, steps: list[Step]) -> tuple[float, float]:
        """Wall and CPU seconds of the whole case, on SpiffWorkflow as published (without engine/speedups/task_walk.py)."""
        if getattr(self, "_plain", False):
            return self._run_case(i, steps)
        with self.block():
            return self._run_case(i, steps)

    def _run_case(self, i: int, steps: list[Step]) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        wf = self._workflow("intake", f"K-{i:08d}")
        wf.do_engine_steps()
        self._serialize(wf)
        for step in steps:
            if step.process == "intake":
                self._complete(wf, step)
        assert wf.is_completed()
        client = wf.data["client"]
        seed = {"client_code": client["client_code"], "client_status": client["client_status"],
                "intake_problem": wf.data.get("intake_problem", "")}
        wf = self._workflow("family_care", client["client_code"])
        for start in wf.get_tasks(state=TaskState.READY):
            start.data.update(seed)
        wf.do_engine_steps()
        self._serialize(wf)
        for step in steps:
            if step.process == "family_care":
                self._complete(wf, step)
        assert wf.is_completed(), "(a): the family-care case did not finish"
        return time.perf_counter() - t0, time.process_time() - c0


# ----------------------------------------------------------------------------------------------- (b) Segito
class Segito:
    def __init__(self, url: str, label: str, cache_size: int = 256):
        self.label = label
        self.url = url
        self.backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        self.rt = Runtime(Database(url), workflow_cache_size=cache_size)
        setup.initialise(self.rt)
        with self.rt.db.unit_of_work() as session:
            for username, roles in (("anna", [users.CASEWORKER]), ("lea", [users.PROFESSIONAL_LEAD])):
                if session.execute(select(users.User.id).where(users.User.username == username)).first() is None:
                    users.create_user(session, username, username.title(), roles, None, "bench", clock.now())
        self.actors = {}
        with self.rt.db.unit_of_work() as session:
            for username in ("anna", "lea"):
                if hasattr(users, "actor"):       # the detached Actor the commands take
                    self.actors[username] = users.actor(session, username)
                else:
                    user = users.by_username(session, username)
                    user.role_codes  # noqa: B018 - loaded before the session closes
                    self.actors[username] = user
        self.step_times: dict[str, list[float]] = collections.defaultdict(list)
        self.start_times: list[float] = []
        self.cpu = 0.0            # CPU seconds of this process inside the timed commands
        self.on_complete = None   # hook for the counting pass: (bpmn_id) -> context manager

    def engines(self):
        seen = []
        for eng in (self.rt.db.engine, get_engine(self.url, for_writing=False)):
            if eng not in seen:
                seen.append(eng)
        return seen

    def waiting_task(self, case_id: int, bpmn_id: str) -> int:
        with self.rt.db.reading() as session:
            found = session.execute(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                               HumanTask.state == "ready",
                                                               HumanTask.bpmn_id == bpmn_id)
                                    .order_by(HumanTask.id)).scalars().first()
        if found is None:
            raise AssertionError(f"{self.label}: no waiting '{bpmn_id}' in case {case_id}")
        return found

    def client_code(self, case_id: int) -> str:
        with self.rt.db.reading() as session:
            return session.execute(select(Client.client_code).join(Case, Case.client_id == Client.id)
                                   .where(Case.id == case_id)).scalar_one()

    def start(self, key: str, client_code: str | None = None) -> tuple[int, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        case_id = cases.start_case(self.rt, key, self.actors["anna"], client_code)["case_id"]
        took = time.perf_counter() - t0
        self.cpu += time.process_time() - c0
        self.start_times.append(took)
        return case_id, took

    def complete(self, case_id: int, step: Step) -> float:
        task_id = self.waiting_task(case_id, step.bpmn_id)
        actor = self.actors[step.actor]
        t0, c0 = time.perf_counter(), time.process_time()
        if self.on_complete is None:
            tasks.complete(self.rt, task_id, step.data, actor)
        else:
            with self.on_complete(step.bpmn_id):
                tasks.complete(self.rt, task_id, step.data, actor)
        took = time.perf_counter() - t0
        self.cpu += time.process_time() - c0
        self.step_times[step.bpmn_id].append(took)
        return took

    def run_case(self, i: int, steps: list[Step]) -> tuple[float, float, int, int]:
        """Wall and CPU seconds of the commands (not of the look-ups between them), and the two case ids."""
        timed, cpu0 = 0.0, self.cpu
        intake_id, took = self.start("intake")
        timed += took
        for step in steps:
            if step.process == "intake":
                timed += self.complete(intake_id, step)
        case_id, took = self.start("family_care", self.client_code(intake_id))
        timed += took
        for step in steps:
            if step.process == "family_care":
                timed += self.complete(case_id, step)
        with self.rt.db.reading() as session:
            status = session.get(Case, case_id).status
        assert status == "completed", f"{self.label}: case {case_id} is {status}"
        return timed, self.cpu - cpu0, intake_id, case_id

    # -- what a case keeps ---------------------------------------------------------------------------------
    def _size_sql(self, table, where: str) -> str:
        if self.backend == "sqlite":
            expr = " + ".join(f"coalesce(length(CAST({c.name} AS BLOB)), 0)" for c in table.columns)
            return f"SELECT coalesce(sum({expr}), 0), count(*) FROM {table.name} WHERE {where}"
        return f"SELECT coalesce(sum(pg_column_size(t.*)), 0), count(*) FROM {table.name} t WHERE {where}"

    def other_case_tables(self) -> list:
        """Tables besides task rows and audit events that hold rows per case (intakes, indicator facts, ...)."""
        if not hasattr(self, "_other_tables"):
            present = set(sa_inspect(self.rt.db.engine).get_table_names())
            self._other_tables = [t for t in Base.metadata.sorted_tables
                                  if "case_id" in t.c and t.name in present
                                  and t.name not in (HumanTask.__tablename__, AuditEvent.__tablename__)]
        return self._other_tables

    def stored_bytes(self, case_id: int) -> dict:
        """Bytes of the case row's state, and of the values in its task rows and audit events
        (SQLite: sum of length(CAST(col AS BLOB)) over the columns; PostgreSQL: pg_column_size of the row).
        ``other``: the same for the case's rows in other tables (not part of ``total``)."""
        with self.rt.db.reading() as session:
            state = session.execute(select(Case.state).where(Case.id == case_id)).scalar_one()
            out = {"state": len(state), "state_json": len(serialization.state_json(state))}
            for name, table in (("tasks", HumanTask.__table__), ("audit", AuditEvent.__table__)):
                size, rows = session.execute(text(self._size_sql(table, "case_id = :c")), {"c": case_id}).one()
                out[name], out[name + "_rows"] = int(size), int(rows)
            out["other"], out["other_rows"], out["other_tables"] = 0, 0, {}
            for table in self.other_case_tables():
                size, rows = session.execute(text(self._size_sql(table, "case_id = :c")), {"c": case_id}).one()
                if rows:
                    out["other"] += int(size)
                    out["other_rows"] += int(rows)
                    out["other_tables"][table.name] = int(rows)
        out["total"] = out["state"] + out["tasks"] + out["audit"]
        out["total_json"] = out["state_json"] + out["tasks"] + out["audit"]  # what total is at most
        return out

    def close(self) -> None:
        self.rt.db.close()


# ------------------------------------------------------------------------------------------ statement count
class StatementCounter:
    """Counts, per ``tasks.complete``: the statements sent (``before_cursor_execute``, by verb: SQLAlchemy's own
    and those ``engine.store.db.Prepared`` runs on the DBAPI cursor, which fires the same event) and the commits
    (``commit`` event); and what reached the database: on SQLite the statements SQLite ran (its
    trace callback shows COMMIT and each row of an executemany), on PostgreSQL the messages on the wire (libpq
    trace: simple queries such as BEGIN/COMMIT and the pool's pre-ping, extended-protocol executes, and round
    trips, i.e. Query + Sync messages)."""

    def __init__(self, target: Segito):
        self.target = target
        self.current: collections.Counter | None = None
        self.per_completion: list[tuple[str, collections.Counter]] = []
        self.texts: list[tuple[str, list[str]]] = []   # per completion: the statements, shortened
        self._texts: list[str] | None = None
        self._listeners = []
        self._pg: dict[int, dict] = {}     # id(dbapi connection) -> {"conn", "path", "fd", "offset"}
        self._tmp = Path(tempfile.mkdtemp(prefix="segito-bench-trace-"))

    # -- SQLAlchemy events
    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.current is not None:
            verb = statement.lstrip().split(None, 1)[0].upper()
            self.current[verb] += 1
            one_line = " ".join(statement.split())
            self._texts.append((one_line[:110] + " ...") if len(one_line) > 114 else one_line)
            self.current["statements"] += 1
            if executemany:
                self.current["executemany_rows"] += len(parameters)

    def _commit(self, conn):
        if self.current is not None:
            self.current["commits"] += 1

    def _rollback(self, conn):
        if self.current is not None:
            self.current["rollbacks"] += 1

    # -- SQLite: what SQLite itself ran
    def _trace(self, sql):
        if self.current is not None:
            self.current["db_statements"] += 1
            if sql.strip().upper().startswith("COMMIT"):
                self.current["db_commits"] += 1

    # -- PostgreSQL: libpq protocol trace, flushed and read at the edges of each measured completion
    def _pg_start(self, dbapi_conn) -> None:
        from psycopg import pq
        key = id(dbapi_conn)
        entry = self._pg.get(key)
        if entry is None:
            entry = self._pg[key] = {"conn": dbapi_conn, "path": self._tmp / f"pq-{key}.trace", "offset": 0}
        entry["fd"] = os.open(entry["path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        dbapi_conn.pgconn.trace(entry["fd"])
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def _pg_collect(self, count: bool) -> None:
        for entry in list(self._pg.values()):
            conn = entry["conn"]
            if conn.closed:
                continue
            conn.pgconn.untrace()       # flushes libpq's buffer
            os.close(entry["fd"])
            with open(entry["path"], "rb") as f:
                f.seek(entry["offset"])
                new = f.read()
                entry["offset"] += len(new)
            if count and self.current is not None:
                for line in new.decode("utf-8", "replace").splitlines():
                    parts = line.split("\t")
                    if len(parts) < 3 or parts[0] != "F":
                        continue
                    msg = parts[2]
                    if msg == "Query":
                        self.current["db_statements"] += 1
                        self.current["round_trips"] += 1
                        text_ = parts[3].strip().strip('"').upper() if len(parts) > 3 else ""
                        if text_.startswith("COMMIT"):
                            self.current["db_commits"] += 1
                        elif text_.startswith("BEGIN"):
                            self.current["db_begins"] += 1
                    elif msg == "Execute":
                        self.current["db_statements"] += 1
                    elif msg == "Sync":
                        self.current["round_trips"] += 1
            self._pg_start(conn)

    def _checkout(self, dbapi_conn, record, proxy):
        if hasattr(dbapi_conn, "set_trace_callback"):
            dbapi_conn.set_trace_callback(self._trace)
        elif hasattr(dbapi_conn, "pgconn") and id(dbapi_conn) not in self._pg:
            self._pg_start(dbapi_conn)

    def _checkin(self, dbapi_conn, record):
        if hasattr(dbapi_conn, "set_trace_callback"):
            dbapi_conn.set_trace_callback(None)

    def __enter__(self):
        for eng in self.target.engines():
            for name, fn in (("before_cursor_execute", self._before), ("commit", self._commit),
                             ("rollback", self._rollback), ("checkout", self._checkout), ("checkin", self._checkin)):
                where = eng.pool if name in ("checkout", "checkin") else eng
                event.listen(where, name, fn)
                self._listeners.append((where, name, fn))
        self.target.on_complete = self.measure
        return self

    def __exit__(self, *exc):
        self.target.on_complete = None
        for where, name, fn in self._listeners:
            event.remove(where, name, fn)
        self._listeners.clear()
        for entry in self._pg.values():
            if not entry["conn"].closed:
                entry["conn"].pgconn.untrace()
            os.close(entry["fd"])
        self._pg.clear()
        shutil.rmtree(self._tmp, ignore_errors=True)

    @contextlib.contextmanager
    def measure(self, bpmn_id: str):
        self._pg_collect(count=False)           # drop what the look-ups between commands sent
        self.current = collections.Counter()
        self._texts = []
        try:
            yield
        finally:
            self._pg_collect(count=True)
            self.per_completion.append((bpmn_id, self.current))
            self.texts.append((bpmn_id, self._texts))
            self.current = None


# ------------------------------------------------------------------------------------------------ reporting
def rule(title: str) -> None:
    print()
    print(title)
    print("-" * len(title))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def throughput(variants: list, plans: Plans, n_cases: int, rounds: int) -> dict:
    """Alternating blocks; returns per-variant timed seconds and per-round rates."""
    per_round = max(1, n_cases // rounds)
    results = {v.label: {"timed": 0.0, "cpu": 0.0, "wall": 0.0, "cases": 0, "rates": []} for v in variants}
    case_no = 10_000   # distinct clients (intake_data varies its names from 24 on)
    # Warm-up: one case each (first connections, compiled SQL, definition views, sandbox compile cache).
    for v in variants:
        v.run_case(case_no, plans.case(case_no, cleaned=isinstance(v, SpiffOnly)))
        case_no += 1
        v.step_times.clear()
        if isinstance(v, Segito):
            v.start_times.clear()
    for r in range(rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        for v in order:
            batch = [(case_no + k, plans.case(case_no + k, cleaned=isinstance(v, SpiffOnly))) for k in range(per_round)]
            case_no += per_round
            gc.collect()
            timed = cpu = 0.0
            w0 = time.perf_counter()
            with v.block() if isinstance(v, SpiffOnly) else contextlib.nullcontext():
                for i, steps in batch:
                    got = v.run_case(i, steps)
                    timed += got[0]
                    cpu += got[1]
            wall = time.perf_counter() - w0
            res = results[v.label]
            res["timed"] += timed
            res["cpu"] += cpu
            res["wall"] += wall
            res["cases"] += per_round
            res["rates"].append(per_round / timed)
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{v.label.split()[0]} {results[v.label]['rates'][-1]:.1f}/s" for v in variants), flush=True)
    return results


def print_throughput(results: dict, variants: list, completions: int) -> dict:
    commands = completions + 2
    rule(f"Throughput (one case = 2 starts + {completions} completions = {commands} commands)")
    base = results[variants[0].label]
    base_rate = base["cases"] / base["timed"]
    base_cpu_rate = base["cases"] / base["cpu"]
    summary = {}
    print(f"{'variant':44} {'cases/s':>8} {'median':>7} {'best':>6} {'ms/case':>8} {'ms/cmd':>7} {'CPU cases/s':>11} "
          f"{'wall incl. look-ups':>19}")
    for v in variants:
        res = results[v.label]
        rate = res["cases"] / res["timed"]
        med = statistics.median(res["rates"])
        per_case = res["timed"] / res["cases"]
        cpu_rate = res["cases"] / res["cpu"]
        summary[v.label] = {"rate": rate, "median_round_rate": med, "best_round_rate": max(res["rates"]),
                            "ms_per_case": per_case * 1000,
                            "ms_per_command": per_case * 1000 / commands, "cpu_rate": cpu_rate,
                            "wall_rate_with_lookups": res["cases"] / res["wall"]}
        print(f"{v.label:44} {rate:8.1f} {med:7.1f} {max(res['rates']):6.1f} {per_case * 1000:8.1f} "
              f"{per_case * 1000 / commands:7.2f} "
              f"{cpu_rate:11.1f} {res['cases'] / res['wall']:19.1f}")
    print("  cases/s: cases over the summed wall time of the timed work (for Segito: its commands only);")
    print(f"  median, best: median and best of the per-round rates; ms/cmd: ms/case divided by {commands};")
    print("  CPU cases/s: the same over this process's CPU time (steadier on a busy machine; on PostgreSQL it")
    print("  leaves out the server's work); wall incl. look-ups: Segito with the benchmark's task-id queries.")
    for v in variants[1:]:
        res = results[v.label]
        rate = res["cases"] / res["timed"]
        ratios = [b / a for a, b in zip(base["rates"], res["rates"])]
        cpu_ratio = (res["cases"] / res["cpu"]) / base_cpu_rate
        print(f"  ratio {v.label.split()[0]}/(a) = {rate / base_rate:.2f}   (per round: median "
              f"{statistics.median(ratios):.2f}, min {min(ratios):.2f}, max {max(ratios):.2f}; by CPU time "
              f"{cpu_ratio:.2f}; target >= 0.7)")
        summary[v.label].update(ratio=rate / base_rate, ratio_round_median=statistics.median(ratios),
                                ratio_cpu=cpu_ratio)
    return summary


def print_step_times(variants: list) -> None:
    rule("Mean ms per completion, by task (timed rounds)")
    ids = list(variants[0].step_times)
    print(f"{'task':24}" + "".join(f"{v.label.split()[0]:>10}" for v in variants))
    for bpmn_id in ids:
        print(f"{bpmn_id:24}" + "".join(
            f"{statistics.fmean(v.step_times[bpmn_id]) * 1000:10.2f}" if v.step_times.get(bpmn_id) else f"{'-':>10}"
            for v in variants))
    seg = [v for v in variants if isinstance(v, Segito)]
    if seg:
        print(f"{'start_case (mean)':24}{'':>10}" + "".join(f"{statistics.fmean(v.start_times) * 1000:10.2f}"
                                                          for v in seg))


def count_statements(target: Segito, plans: Plans, n_cases: int, start_no: int, show_sql: bool = False) -> dict:
    rule(f"SQL per tasks.complete, {target.label} ({n_cases} cases, workflow cache warm)")
    with StatementCounter(target) as counter:
        for k in range(n_cases):
            target.run_case(start_no + k, plans.case(start_no + k, cleaned=False))
    rows = counter.per_completion
    verbs = ["BEGIN", "SELECT", "INSERT", "UPDATE", "DELETE"]
    others = sorted({k for _, c in rows for k in c if k.isupper() and k not in verbs})
    names = {"statements": "stmts", "commits": "commits", "db_statements": "db-stmts", "db_commits": "db-COMMIT",
             "db_begins": "db-BEGIN", "round_trips": "trips", "executemany_rows": "many-rows"}
    extra = ["db_statements", "db_commits"] + (["db_begins", "round_trips"] if target.backend == "postgresql" else [])
    cols = verbs + others + ["statements", "commits", "executemany_rows"] + extra
    print(f"{'completion (case 1)':24}" + "".join(f"{names.get(c, c.lower()):>10}" for c in cols))
    one_case = len(rows) // n_cases
    for bpmn_id, c in rows[:one_case]:
        print(f"{bpmn_id:24}" + "".join(f"{c.get(col, 0):10d}" for col in cols))
    mean = {col: statistics.fmean(c.get(col, 0) for _, c in rows) for col in cols}
    mx = {col: max(c.get(col, 0) for _, c in rows) for col in cols}
    print(f"{'mean, all completions':24}" + "".join(f"{mean[col]:10.2f}" for col in cols))
    print(f"{'max':24}" + "".join(f"{mx[col]:10d}" for col in cols))
    print(f"  statements sent per completion (SQLAlchemy's cursor events, engine.store.db.Prepared's included): mean {mean['statements']:.2f}, max {mx['statements']} "
          f"(target <= 10); commits: mean {mean['commits']:.2f}, max {mx['commits']} (target 1)")
    print("  many-rows: rows sent through executemany (task rows and audit events inserted in one statement each)")
    if target.backend == "sqlite":
        print("  begin is the BEGIN IMMEDIATE of engine/store/db.py. db-stmts: what SQLite ran (its trace callback), "
              "COMMIT and every row of an executemany included")
    else:
        print("  db-stmts: statements on the wire (libpq trace: simple queries + extended-protocol executes), "
              "including psycopg's own BEGIN, the COMMIT and the pool's pre-ping; trips: Query + Sync messages")
    if show_sql:
        for bpmn_id in ("step_3_3", "intake_registration"):
            texts = next((t for b, t in counter.texts if b == bpmn_id), None)
            if texts is not None:
                print(f"  statements of the first {bpmn_id} completion:")
                for line in texts:
                    print(f"    {line}")
    return {"mean": mean, "max": mx, "per_completion": [(b, dict(c)) for b, c in rows[:one_case]]}


def growth(target: Segito, plans: Plans, start_no: int, cumulative: bool) -> dict:
    """Bytes one family-care case keeps after k casework rounds (waiting at 3.3), and completion time by round."""
    out = {}
    for k in GROWTH_LOOPS:
        i = start_no + k
        intake = Step("intake", "intake_registration", "anna", demo_data.intake_data(i))
        intake_id, _ = target.start("intake")
        target.complete(intake_id, intake)
        case_id, _ = target.start("family_care", target.client_code(intake_id))
        times = []
        for step in family_care_steps(k, cumulative=cumulative, review=False):
            took = target.complete(case_id, step)
            if step.bpmn_id == "step_3_3":
                times.append(took)
        out[k] = {"bytes": target.stored_bytes(case_id), "times": times}
    return out


def print_growth(label: str, res: dict) -> dict:
    print(f"\n  {label}")
    print(f"  {'loops':>6} {'state':>9} {'(json)':>9} {'tasks':>9} {'rows':>5} {'audit':>9} {'rows':>5} {'total':>10}"
          f" {'| other':>9} {'rows':>5}")
    for k, r in res.items():
        b = r["bytes"]
        print(f"  {k:6d} {b['state']:9d} {b['state_json']:9d} {b['tasks']:9d} {b['tasks_rows']:5d} "
              f"{b['audit']:9d} {b['audit_rows']:5d} {b['total']:10d} {b['other']:9d} {b['other_rows']:5d}")
    print("  state: bytes stored (plain JSON up to 16 KB, zlib above; json: the JSON); total = state + tasks + audit; "
          "other: the case's rows in " + (", ".join(sorted({n for r in res.values() for n in r["bytes"]["other_tables"]})) or "no other table"))
    k1, k10, k100 = GROWTH_LOOPS
    summary = {}
    # Growth is judged on the state's JSON: what is stored is that JSON up to 16 KB and zlib of it above, so the
    # stored bytes drop where a case crosses 16 KB and say nothing about growth there.
    for part in ("total_json", "state_json", "tasks", "audit", "other", "total", "state"):
        early = (res[k10]["bytes"][part] - res[k1]["bytes"][part]) / (k10 - k1)
        late = (res[k100]["bytes"][part] - res[k10]["bytes"][part]) / (k100 - k10)
        summary[part] = (early, late)
    for part, (early, late) in summary.items():
        if part in ("total", "state"):
            print(f"  bytes per loop, {part:10}: {k1}->{k10} {early:9.0f}   {k10}->{k100} {late:9.0f}   "
                  "(stored: plain JSON up to 16 KB, compressed above)")
            continue
        if early <= 0:
            verdict = "constant" if late <= 0 else "grows only later"
        else:
            verdict = "linear" if 0.75 <= late / early <= 1.33 else ("superlinear" if late / early > 1.33
                                                                      else "sublinear")
        print(f"  bytes per loop, {part:10}: {k1}->{k10} {early:9.0f}   {k10}->{k100} {late:9.0f}   "
              f"ratio {late / early if early else float('nan'):.2f} ({verdict})")
    times = res[k100]["times"]
    first, last = statistics.fmean(times[:10]), statistics.fmean(times[-10:])
    print(f"  3.3 completion in the {k100}-loop case: rounds 1-10 {ms(first)} ms, rounds {k100 - 9}-{k100} {ms(last)} ms")
    return {"per_loop": summary, "first10_ms": first * 1000, "last10_ms": last * 1000,
            "bytes": {k: r["bytes"] for k, r in res.items()}}


def prepare_pg() -> str:
    eng = create_engine(PG_BASE_URL)
    with eng.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    eng.dispose()
    sep = "&" if "?" in PG_BASE_URL else "?"
    return f"{PG_BASE_URL}{sep}options=-csearch_path%3D{PG_SCHEMA}"


def drop_pg() -> None:
    eng = create_engine(PG_BASE_URL)
    with eng.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
    eng.dispose()


def _secure_delete_off(dbapi_conn, _record) -> None:
    dbapi_conn.execute("PRAGMA secure_delete=OFF")


def key_check(t: Segito, n: int = 2000) -> dict:
    """Microseconds per check that a cached data key is still live, as a command pays it once per key: in a read
    transaction that has already run a statement (so the BEGIN is not counted), with and without the check, in
    alternating batches of 100 after a warm-up."""
    from engine.store import keys

    with t.rt.db.reading() as session:
        key_id = session.execute(select(Case.data_key_id).where(Case.data_key_id.is_not(None))).scalars().first()
    assert key_id, "no sealed case to check a key of"
    spent = {True: 0.0, False: 0.0}
    for batch in range(n // 100 + 2):
        for check in ((True, False) if batch % 2 else (False, True)):
            t0 = time.perf_counter()
            for _ in range(100):
                with t.rt.db.reading() as session:
                    connection = session.connection()
                    connection.execute(text("SELECT 1"))
                    if check:
                        assert keys._still_live(connection, key_id)
            if batch >= 2:  # the first two batches warm up
                spent[check] += time.perf_counter() - t0
    per = {k: v / (n // 100 * 100) * 1e6 for k, v in spent.items()}
    cost = per[True] - per[False]
    print(f"  {t.label}: {cost:.0f} µs per check (a read transaction of one statement {per[False]:.0f} µs, "
          f"{per[True]:.0f} µs with the check; {n} each)")
    return {"us_per_check": cost, "with": per[True], "without": per[False]}


def write_volume(t: Segito, plans: Plans, n_cases: int, start_no: int) -> dict:
    """Bytes this process hands the kernel to write (``wchar`` of /proc/self/io: the log, the checkpoints into the
    database file, anything else) per case, over ``n_cases`` cases: what secure_delete adds is writes."""
    def written() -> int:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
        return 0

    before = written()
    for k in range(n_cases):
        t.run_case(start_no + k, plans.case(start_no + k, cleaned=False))
    per_case = (written() - before) / n_cases
    print(f"  {t.label}: {per_case / 1024:.1f} KiB written per case ({n_cases} cases)")
    return {"bytes_per_case": per_case}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m tests.bench.bench_family_care", description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=150, help="cases per variant in the timed rounds (default 150)")
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds (default 6)")
    ap.add_argument("--count-cases", type=int, default=3, help="cases in the statement-counting pass (default 3)")
    ap.add_argument("--postgres", action="store_true",
                    help=f"also run Segito on PostgreSQL ({PG_BASE_URL}, schema {PG_SCHEMA}, dropped afterwards)")
    ap.add_argument("--cold-cache", action="store_true",
                    help="also run Segito on SQLite with the workflow cache off (every command loads the state)")
    ap.add_argument("--secure-delete-off", action="store_true",
                    help="also run Segito on SQLite with PRAGMA secure_delete off (what the setting costs)")
    ap.add_argument("--key-check", action="store_true",
                    help="time the check that a cached data key is still live, in a transaction of its own")
    ap.add_argument("--no-growth", action="store_true", help="skip the 1/10/100-loop storage measurement")
    ap.add_argument("--show-sql", action="store_true", help="print the statements of one 3.3 and the intake completion")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    print(f"Family-care benchmark: Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPU(s), {platform.platform()}")
    specs = parse_specs()
    plans = Plans(specs)
    n_completions = len(plans.case(0, cleaned=False))
    tmp = Path(tempfile.mkdtemp(prefix="segito-bench-"))
    targets: list[Segito] = []
    report: dict = {"cases": args.cases, "rounds": args.rounds, "completions_per_case": n_completions}
    try:
        spiff = SpiffOnly(specs)
        targets.append(Segito(f"sqlite:///{tmp / 'bench.db'}", "(b) Segito, SQLite file"))
        if args.cold_cache:
            targets.append(Segito(f"sqlite:///{tmp / 'cold.db'}", "(b-cold) Segito, SQLite, no workflow cache",
                                  cache_size=0))
        if args.secure_delete_off:
            plain = Segito(f"sqlite:///{tmp / 'plain.db'}", "(b-nosd) Segito, SQLite, secure_delete off")
            for engine in (plain.rt.db.engine, plain.rt.db._read_engine):
                event.listen(engine, "connect", _secure_delete_off)
                engine.dispose()  # connections made from now on have it off
            targets.append(plain)
        if args.postgres:
            targets.append(Segito(prepare_pg(), "(b-pg) Segito, PostgreSQL"))
        variants = [spiff] + targets
        print(f"{args.cases} cases per variant in {args.rounds} alternating rounds; one case = 2 starts + "
              f"{n_completions} completions; SQLite file in {tmp}")
        results = throughput(variants, plans, args.cases, args.rounds)
        report["throughput"] = print_throughput(results, variants, n_completions)
        print_step_times(variants)
        print(f"  (a) serialize_json of the finished family-care workflow, spec included: {spiff.last_json_bytes} bytes")

        report["statements"] = {}
        for k, t in enumerate(targets):
            if t.rt.workflows.capacity == 0:
                continue
            report["statements"][t.label] = count_statements(t, plans, args.count_cases, 900_000 + 1000 * k,
                                                             show_sql=args.show_sql)

        rule("Stored bytes per benchmark case (family-care case, completed)")
        for t in targets:
            with t.rt.db.reading() as session:
                last_fc = session.execute(select(Case.id).where(Case.process_key == "family_care",
                                                                Case.status == "completed")
                                          .order_by(Case.id.desc())).scalars().first()
                last_in = session.execute(select(Case.id).where(Case.process_key == "intake")
                                          .order_by(Case.id.desc())).scalars().first()
            fc, intake = t.stored_bytes(last_fc), t.stored_bytes(last_in)
            print(f"  {t.label}: family-care case {fc['total']} bytes = state {fc['state']} (stored; {fc['state_json']} "
                  f"as JSON) + {fc['tasks_rows']} task rows {fc['tasks']} + {fc['audit_rows']} audit events "
                  f"{fc['audit']}; its intake case {intake['total']} bytes")
            others = ", ".join(f"{n} {r}" for n, r in {**fc["other_tables"]}.items())
            print(f"    besides: {fc['other']} bytes in {fc['other_rows']} rows of other tables ({others or '-'}); "
                  f"intake case {intake['other']} bytes ({', '.join(f'{n} {r}' for n, r in intake['other_tables'].items()) or '-'})")
            report.setdefault("case_bytes", {})[t.label] = {"family_care": fc, "intake": intake}

        if args.secure_delete_off:
            rule("Bytes written per case (what secure_delete adds)")
            report["written"] = {t.label: write_volume(t, plans, 20, 700_000 + 1000 * k)
                                 for k, t in enumerate(targets) if t.backend == "sqlite"}

        if args.key_check:
            rule("The live check of a cached data key (one indexed read, once per transaction and key)")
            report["key_check"] = {t.label: key_check(t) for t in targets}

        if not args.no_growth:
            rule("Stored bytes of one family-care case after 1, 10, 100 casework loops (3.3 'continue')")
            report["growth"] = {}
            for k, t in enumerate(targets):
                if t.rt.workflows.capacity == 0:
                    continue
                print(f"\n {t.label}")
                res_const = growth(t, plans, 800_000 + 10_000 * k, cumulative=False)
                g1 = print_growth("one new meeting per round (constant submission size)", res_const)
                res_cum = growth(t, plans, 850_000 + 10_000 * k, cumulative=True)
                g2 = print_growth("the form carries every meeting so far (as demo_data.run_family_care does)", res_cum)
                report["growth"][t.label] = {"constant": g1, "cumulative": g2}
    finally:
        for t in targets:
            t.close()
        if args.postgres:
            drop_pg()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nTotal run time {time.perf_counter() - started:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
