"""Indicators benchmark (docs/benchmarks.md): the full I1–I17 report over 10k, 30k and 100k family-care cases.

Run with ``python3 -m tests.bench.bench_indicators [--sizes 10000,30000,100000] [--no-postgres] [--no-sqlite]``.
Not collected by pytest (the file name does not start with ``test_``).

A generator bulk-inserts the rows the declared report ``bpmn/family_care/reports/family_care.yaml`` reads —
directly, not through the engine, which would take hours for 100,000 cases: per case an intake (its own intake
case and ``intakes`` row), the family-care case row, its ``report_cases`` row (taken into care uniformly over
2023-01-01 … 2025-12-31, about 80 % closed 20–400 days later if before the end, one of the six closure reasons,
follow-up yes or no, household 0–6, incomes), and ``report_entries``: 1–3 problem types, 0–8 meetings and 0–5
actions dated inside the case's life; 40 caseworkers; one client in six comes back for a second case. The
database grows 10k → 30k → 100k, and at each size the script times the full report
(``engine.reports.compute.compute``: every indicator and table, five income bands) for one year (2025)
and for three (2023–2025), the whole service and one caseworker, best of 5 runs after one warm-up, with the
CPU time of the benchmark process in that run (on SQLite the whole report's work, whatever the machine's load).
Then the age tables (ages on the period's and each quarter's last day from the client register's birth date,
sealed under each client's data key as the register writes it) for one year, warm and with no data key unwrapped.

SQLite: a file in a temporary directory, with ``ANALYZE`` after loading (as ``PRAGMA optimize`` would).
PostgreSQL (``SEGITO_BENCH_PG_URL``, default the test server): a schema of its own, ``VACUUM ANALYZE`` after
loading (autovacuum does it in production), dropped at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import tempfile
import time
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import create_engine, text

from engine.reports import compute, grammar
from engine.reports import request as indicators
from engine.reports.models import ReportCase, ReportEntry
from engine.store import keys, migrate
from engine.store.config import BPMN_DIR
from engine.store.db import Database
from engine.store.models import Case, Client, DataKey, Intake, ProcessDefinition, User, UserRole

START, END = dt.date(2023, 1, 1), dt.date(2025, 12, 31)
REASONS = ["successful", "lack_of_cooperation", "referred_service", "referred_institution", "contact_broken", "other"]
PROBLEMS = ["life_management", "family_relationship", "domestic_violence", "mental", "child_rearing", "financial",
            "employment", "health_damage", "official_matters", "information_request", "other"]
CASEWORKERS = 40
UTC = dt.timezone.utc
BANDS = indicators.parse_bands("0-30000, 30000-60000, 60000-90000, 90000-120000, 120000-")
REPORT_FILE = BPMN_DIR / "family_care" / "reports" / "family_care.yaml"


def _report() -> dict:
    """The bundled family-care report, checked and normalised as deploying it would store it."""
    data, _lines, problems = grammar.parse(REPORT_FILE.read_bytes(), REPORT_FILE.name)
    if data is None:
        raise SystemExit("; ".join(str(p) for p in problems))
    return grammar.normalised(data)


REPORT = _report()
CARRIED = compute.carried_facts(REPORT)
# Ages on the period's (or quarter's) last day from the client register's birth date, over the same cases: the
# tables case management's and job retention's reports declare (docs/indicators.md), with the I1 figure.
AGE_LIMITS = [[None, 25, "–24"], [25, 35, "25–34"], [35, 45, "35–44"], [45, 55, "45–54"], [55, None, "55–"]]
AGES = dict(REPORT, facts=dict(REPORT["facts"], birth_date={"client": "birth_date"}),
            indicators=REPORT["indicators"][:1], tables=[
                {"id": "ages", "title": {"hu": "kor", "en": "age"},
                 "rows": {"bands": "birth_date", "age": True, "limits": AGE_LIMITS, "missing": "unknown"},
                 "columns": [{"id": "cases", "label": {"hu": "e", "en": "c"}, "period": "active", "count": "cases"},
                             {"id": "clients", "label": {"hu": "k", "en": "c"}, "period": "active",
                              "distinct": "client"}]},
                {"id": "ages_by_quarter", "title": {"hu": "kor", "en": "age"},
                 "rows": ["quarter", {"bands": "birth_date", "age": True, "limits": AGE_LIMITS}],
                 "columns": [{"id": "cases", "label": {"hu": "e", "en": "c"}, "period": "active",
                              "count": "cases"}]}])


def _base(conn) -> None:
    now = dt.datetime(2023, 1, 1, tzinfo=UTC)
    conn.execute(ProcessDefinition.__table__.insert(), [dict(
        id=i, process_key=k, version=1, name=k, content_hash="x", bpmn_xml="", spec_json="{}", forms={},
        task_catalogue={}, deployed_at=now, deployed_by="bench") for i, k in ((1, "intake"), (2, "family_care"))])
    conn.execute(User.__table__.insert(), [dict(id=i, username=f"cw{i}", display_name=f"Caseworker {i}",
                                                password_hash=None, locale="hu", active=True, created_at=now)
                                           for i in range(1, CASEWORKERS + 1)])
    conn.execute(UserRole.__table__.insert(), [dict(user_id=i, role="caseworker") for i in range(1, CASEWORKERS + 1)])


def _load(conn, first: int, count: int, rng: random.Random, known: list[int]) -> None:
    """Cases first … first+count-1: ids 2n (intake) and 2n+1 (family care), client n (or an earlier one)."""
    span = (END - START).days
    clients, cases, intakes, facts, entries, data_keys = [], [], [], [], [], []
    master = keys.master_keys()
    for n in range(first, first + count):
        taken = START + dt.timedelta(days=rng.randrange(span + 1))
        at = dt.datetime.combine(taken - dt.timedelta(days=rng.randrange(1, 10)), dt.time(9), UTC)
        returning = n > 6 and rng.random() < 1 / 6
        client = rng.choice(known) if returning else n
        if not returning:
            known.append(n)
            born = dt.date(1970 + n % 40, 1 + n % 12, 1 + n % 28)
            # Each client's data key, and the birth date sealed under it, as the register writes them.
            key_id, raw = uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)
            data_keys.append(dict(id=key_id, owner="client", master_key_id=master.active, created_at=at,
                                  wrapped=keys._wrap(master.keys[master.active], master.active, key_id, raw)))
            keys._remember(key_id, AESGCM(raw))
            keys.note_live(conn, key_id)  # its row is inserted below, in this same transaction
            clients.append(dict(id=n, client_code=f"K-{n:08d}", dedup_key=f"{n:064d}", family_name="Kovács",
                                given_name=f"Éva {n}", birth_date=keys.seal_text(conn, key_id, born.isoformat(),
                                                                                 keys.CLIENT),
                                birth_year=born.year, data_key_id=key_id, birth_place="Debrecen",
                                mother_name="Tóth Mária", phone=None, registered_at=at, registered_by="bench"))
        cw = 1 + rng.randrange(CASEWORKERS)
        for cid, key, def_id in ((2 * n, "intake", 1), (2 * n + 1, "family_care", 2)):
            cases.append(dict(id=cid, definition_id=def_id, process_key=key, client_id=client, status="running",
                              state=b"", lock_version=1, caseworker_id=cw, started_at=at, started_by="bench",
                              completed_at=None, audit_head="", audit_seq=0))
        intakes.append(dict(id=n, client_id=client, case_id=2 * n, client_status="returning" if returning else "new",
                            problem="", taken_at=at))
        closure = taken + dt.timedelta(days=rng.randrange(20, 400)) if rng.random() < 0.8 else None
        if closure is not None and closure > END:
            closure = None
        last = closure or END
        size = rng.randrange(0, 7)
        income = rng.randrange(0, 400_000, 1000)
        cid = 2 * n + 1
        agreement = taken + dt.timedelta(days=3) if rng.random() < 0.9 else None
        iso = lambda d: d.isoformat() if d is not None else None  # noqa: E731
        facts.append(dict(report_key="family_care", case_id=cid, process_key="family_care", client_id=client,
                          caseworker_id=cw, start_day=taken, end_day=closure, digest="bench", updated_at=at,
                          facts={"client_status": "returning" if returning else "new", "taken_into_care": iso(taken),
                                 "household_size": size, "total_income": income,
                                 "per_capita_income": income / size if size else None,
                                 "income_per_person": income / size if size else None,
                                 "agreement_date": iso(agreement), "closure_date": iso(closure),
                                 "closure_reason": rng.choice(REASONS) if closure else None,
                                 "follow_up": (rng.random() < 0.3) if closure else None,
                                 "care_days": (closure - taken).days if closure else None}))
        # Each entry carries its case's period days and the case facts figures over entries read, as
        # engine/reports/facts.py writes them.
        common = dict(report_key="family_care", case_id=cid, caseworker_id=cw, client_id=client, fields={},
                      start_day=taken, end_day=closure, case_facts={n: facts[-1]["facts"][n] for n in CARRIED})
        for i, p in enumerate(sorted(rng.sample(PROBLEMS, rng.randrange(1, 4)))):
            entries.append(dict(common, collection="problem_types", position=i, day=None, value=p))
        life = (last - taken).days
        for collection, most in (("meetings", 9), ("actions", 6)):
            days = sorted(taken + dt.timedelta(days=rng.randrange(life + 1)) for _ in range(rng.randrange(0, most)))
            entries += [dict(common, collection=collection, position=i, day=d, value=None) for i, d in enumerate(days)]
    for table, rows in ((DataKey, data_keys), (Client, clients), (Case, cases), (Intake, intakes), (ReportCase, facts),
                        (ReportEntry, entries)):
        for i in range(0, len(rows), 5000):
            conn.execute(table.__table__.insert(), rows[i:i + 5000])


def _time(db: Database, req: indicators.ReportRequest, runs: int = 5, report: dict = REPORT,
          cold: bool = False) -> tuple[float, float]:
    """(best wall-clock seconds, this process's CPU seconds in that run). On SQLite the CPU time is the whole
    report's work and does not depend on what else the machine runs; on PostgreSQL the server's work is not in
    it. ``cold``: every run starts with no data key unwrapped in the process (as after a restart)."""
    with db.reading() as session:
        compute.compute(session, report, req)  # warm-up: caches, plans
        best, cpu = float("inf"), 0.0
        for _ in range(runs):
            if cold:
                keys.reload_master_keys()
            t0, c0 = time.perf_counter(), time.process_time()
            compute.compute(session, report, req)
            wall = time.perf_counter() - t0
            if wall < best:
                best, cpu = wall, time.process_time() - c0
    return best, cpu


def _load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def run(url: str, sizes: list[int], label: str) -> list[tuple]:
    migrate.upgrade(url)
    db = Database(url)
    rng = random.Random(5)
    with db.engine.begin() as conn:
        _base(conn)
    loaded, rows, known = 0, [], []
    for size in sizes:
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            _load(conn, loaded + 1, size - loaded, rng, known)
        with db.engine.connect() as conn:
            # PostgreSQL: VACUUM too, as autovacuum does after a bulk load, so index-only scans see the
            # visibility map; SQLite: ANALYZE, as ``PRAGMA optimize`` would.
            postgres = conn.dialect.name == "postgresql"
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE" if postgres else "ANALYZE"))
        load_s = time.perf_counter() - t0
        loaded = size
        one = indicators.ReportRequest(dt.date(2025, 1, 1), dt.date(2025, 12, 31), bands=BANDS)
        three = indicators.ReportRequest(START, END, bands=BANDS)
        cw = indicators.ReportRequest(dt.date(2025, 1, 1), dt.date(2025, 12, 31), caseworker_id=7, bands=BANDS)
        with db.reading() as session:
            i1 = compute.compute(session, REPORT, one)["indicators"][0]["value"]
        timings = (_time(db, one), _time(db, three), _time(db, cw))
        rows.append((label, size, i1, *timings, load_s))
        print(f"{label:<10} {size:>7} cases  I1(2025)={i1:>6}  " + "  ".join(
            f"{what} {wall * 1000:7.1f} ms (CPU {cpu * 1000:6.1f})"
            for what, (wall, cpu) in zip(("one year", "three years", "one caseworker"), timings))
            + f"  (loaded in {load_s:.1f} s; load average {_load_average()})", flush=True)
        with db.reading() as session:
            ages = compute.compute(session, AGES, one)["tables"]["ages"]
        timings = (_time(db, one, report=AGES), _time(db, one, report=AGES, cold=True))
        print(f"{label:<10} {size:>7} cases  ages(2025)={[r['cases'] for r in ages]}  " + "  ".join(
            f"{what} {wall * 1000:7.1f} ms (CPU {cpu * 1000:6.1f})"
            for what, (wall, cpu) in zip(("age tables, one year", "no key unwrapped yet"), timings))
            + f"  (load average {_load_average()})", flush=True)
    db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # A master key of the run's own for the clients' data keys, unless one is configured.
    os.environ.setdefault(keys.ENV_KEYS, keys.new_master_line().replace(" ", ":"))
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"SQLite {__import__('sqlite3').sqlite_version}; load average {_load_average()}")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", sizes, "SQLite")
    if args.no_postgres:
        return
    base = os.environ.get("SEGITO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"bench_ind_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        version = conn.execute(text("SHOW server_version")).scalar()
    print(f"PostgreSQL {version}")
    try:
        sep = "&" if "?" in base else "?"
        run(f"{base}{sep}options=-csearch_path%3D{schema}", sizes, "PostgreSQL")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
