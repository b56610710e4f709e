"""Counters and histograms in Prometheus' text format (version 0.0.4), shared by a server's processes.

A server runs several processes (gunicorn workers, docs/operations.md) and a scrape reaches one of them, so each
process writes what it has counted to a file of its own in ``SEGITO_METRICS_DIR`` (``segito run`` makes one for
each run and passes it to its processes), at most once a second and whenever it answers a scrape, and the scrape
adds up every file there: a counter keeps growing whichever process answers. Files of processes that ended stay,
so no count goes back; a new run of the server starts a new directory (Prometheus sees counters reset, as after
any restart). Without the setting a process reports what it counted itself.

What the database knows (timers due, late, fired; incidents) is read from it at each scrape instead, by
``engine.observability.health.database_gauges``, so it is the same whichever process answers and includes
``segito worker`` processes on other machines.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import SegitoError

DIR_SETTING = "SEGITO_METRICS_DIR"
# Seconds; the request latency buckets (Prometheus' defaults, which cover a page's few ms to a slow report).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WRITE_EVERY = 1.0  # seconds between two writes of this process's file

# name → (type, help, histogram buckets)
KINDS: dict[str, tuple[str, str, tuple[float, ...]]] = {
    "segito_http_requests_total": ("counter", "HTTP requests answered, by route template, method and status.", ()),
    "segito_http_request_duration_seconds": ("histogram", "Time the app spent on a request, by route template.",
                                             LATENCY_BUCKETS),
    "segito_commands_total": ("counter", "Engine commands run, by command and outcome (done: committed; refused: "
                              "the input or the state said no; failed: an error).", ()),
    "segito_timer_ticks_total": ("counter", "Ticks of the timer scheduler in this server's processes.", ()),
    "segito_timer_wakeups_total": ("counter", "Ticks run at a due time announced by PostgreSQL (LISTEN/NOTIFY), "
                                   "besides the interval's.", ()),
}

_lock = threading.Lock()
_counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
# (name, labels) → [count per bucket (not cumulative) ..., +Inf count, sum]
_histograms: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
_last_write = 0.0


def _key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def inc(name: str, amount: float = 1.0, **labels: str) -> None:
    key = _key(name, labels)
    with _lock:
        _counters[key] = _counters.get(key, 0.0) + amount


def observe(name: str, value: float, **labels: str) -> None:
    buckets = KINDS[name][2]
    key = _key(name, labels)
    with _lock:
        row = _histograms.get(key)
        if row is None:
            row = _histograms[key] = [0.0] * (len(buckets) + 2)
        for i, bound in enumerate(buckets):
            if value <= bound:
                row[i] += 1
                break
        else:
            row[len(buckets)] += 1
        row[-1] += value


F = TypeVar("F", bound=Callable[..., Any])


def command(name: str) -> Callable[[F], F]:
    """Count each run of an engine command under ``segito_commands_total``: done, refused or failed."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def counted(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
            except SegitoError as e:
                inc("segito_commands_total", command=name, outcome="refused" if e.status < 500 else "failed")
                raise
            except BaseException:
                inc("segito_commands_total", command=name, outcome="failed")
                raise
            inc("segito_commands_total", command=name, outcome="done")
            return result
        return counted  # type: ignore[return-value]
    return wrap


def snapshot() -> dict:
    """What this process has counted, as JSON-ready lists."""
    with _lock:
        return {"counters": [[n, list(map(list, labels)), v] for (n, labels), v in _counters.items()],
                "histograms": [[n, list(map(list, labels)), list(row)] for (n, labels), row in _histograms.items()]}


def reset() -> None:
    """Forget what this process counted (tests)."""
    with _lock:
        _counters.clear()
        _histograms.clear()


def _directory() -> Path | None:
    value = os.environ.get(DIR_SETTING)
    return Path(value) if value else None


def _own_file(directory: Path) -> Path:
    return directory / f"process-{os.getpid()}.json"


def write(force: bool = False) -> None:
    """Write this process's counts to its file in the shared directory (at most once a second unless forced)."""
    global _last_write
    directory = _directory()
    now = time.monotonic()
    if directory is None or (not force and now - _last_write < WRITE_EVERY):
        return
    _last_write = now
    data = json.dumps(snapshot())
    try:
        # Written beside and renamed: a scrape never reads half a file.
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".process-", suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            out.write(data)
        os.replace(temporary, _own_file(directory))
    except OSError:  # the directory gone or full: the counts stay in memory, the request goes on
        logging.getLogger(__name__).warning("could not write metrics to %s", directory, exc_info=True)


def prepare_directory() -> str:
    """For a server about to start its processes: a new, owner-only directory for this run, named in the
    environment the processes inherit (kept if the operator named one)."""
    existing = os.environ.get(DIR_SETTING)
    if existing:
        Path(existing).mkdir(mode=0o700, parents=True, exist_ok=True)
        return existing
    os.environ[DIR_SETTING] = path = tempfile.mkdtemp(prefix="segito-metrics-")
    return path


def collected() -> list[dict]:
    """Every process's counts: this one's as they are now, the others' from their files."""
    found = [snapshot()]
    directory = _directory()
    if directory is None:
        return found
    write(force=True)
    own = _own_file(directory).name
    for path in sorted(directory.glob("process-*.json")):
        if path.name == own:
            continue
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):  # a process's file gone or being replaced: its counts come next scrape
            continue
    return found


def _merge(snapshots: Iterable[dict]) -> tuple[dict, dict]:
    counters: dict[tuple, float] = {}
    histograms: dict[tuple, list[float]] = {}
    for snap in snapshots:
        for name, labels, value in snap.get("counters", []):
            key = (name, tuple(tuple(pair) for pair in labels))
            counters[key] = counters.get(key, 0.0) + value
        for name, labels, row in snap.get("histograms", []):
            key = (name, tuple(tuple(pair) for pair in labels))
            known = histograms.get(key)
            histograms[key] = list(row) if known is None else [a + b for a, b in zip(known, row)]
    return counters, histograms


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(snapshots: Iterable[dict], gauges: Iterable[tuple[str, str, dict[str, str], float]] = (),
           kinds: dict[str, tuple[str, str, tuple[float, ...]]] | None = None) -> str:
    """The text exposition: the processes' counters and histograms added up, then ``gauges`` given as
    (name, help, labels, value), each name's help and type once before its samples."""
    kinds = kinds or KINDS
    counters, histograms = _merge(snapshots)
    lines: list[str] = []
    for name in sorted({n for n, _ in counters} | {n for n, _ in histograms}):
        kind, text, buckets = kinds.get(name, ("counter" if name in {n for n, _ in counters} else "histogram",
                                               name, LATENCY_BUCKETS))
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        if kind == "counter":
            for (n, labels), value in sorted(counters.items()):
                if n == name:
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
            continue
        for (n, labels), row in sorted(histograms.items()):
            if n != name:
                continue
            running = 0.0
            for bound, count in zip((*buckets, math.inf), row):
                running += count
                lines.append(f"{name}_bucket{_labels((*labels, ('le', _number(bound))))} {_number(running)}")
            lines.append(f"{name}_sum{_labels(labels)} {_number(row[-1])}")
            lines.append(f"{name}_count{_labels(labels)} {_number(running)}")
    seen: set[str] = set()
    for name, text, labels, value in gauges:
        if name not in seen:
            seen.add(name)
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        lines.append(f"{name}{_labels(sorted(labels.items()))} {_number(value)}")
    return "\n".join(lines) + "\n"
