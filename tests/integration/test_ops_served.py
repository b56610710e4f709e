"""`segito run` with two server processes: /readyz sees the scheduler tick, /metrics adds up what both processes
counted whichever of them answers, every answer carries its request id, and the log is JSON lines with it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from .test_server_restart import ROOT, _free_port, _wait_until_up


def _get(base: str, path: str, headers: dict | None = None):
    request = urllib.request.Request(base + path, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read().decode()


def _healthz_count(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('segito_http_requests_total{method="GET",route="/healthz",status="200"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_two_server_processes_report_one_total_and_log_json_lines_with_request_ids(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    metrics_dir = tmp_path / "metrics"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'segito.db'}", SEGITO_TICK_SECONDS="0.5",
               SEGITO_LOG_FORMAT="json", SEGITO_METRICS_DIR=str(metrics_dir))
    env.pop("SEGITO_SECRET_KEY", None)
    env.pop("SEGITO_METRICS_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--port", str(port), "--workers", "2",
                             "--no-demo"], cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_until_up(base, proc, log)
        status, _, body = _get(base, "/readyz")
        assert status == 200 and json.loads(body)["checks"] == {"database": "ok", "migrations": "ok",
                                                                "scheduler": "ok"}
        # At least 40 probes, and on until both server processes have answered some and written their counts (the
        # kernel may hand a short run of connections all to one process).
        sent, deadline = 0, time.monotonic() + 30
        while sent < 40 or (len(list(metrics_dir.glob("process-*.json"))) < 2 and time.monotonic() < deadline):
            status, headers, _ = _get(base, "/healthz", {"X-Request-Id": f"probe-{sent}"})
            assert status == 200 and headers["X-Request-Id"] == f"probe-{sent}"
            sent += 1
            if sent >= 40:
                time.sleep(0.05)
        assert len(list(metrics_dir.glob("process-*.json"))) >= 2  # both server processes wrote theirs
        # Each process writes its counts at least with every tick (0.5 s here): then any of them has them all.
        deadline = time.monotonic() + 30
        while True:
            seen = {_healthz_count(_get(base, "/metrics")[2]) for _ in range(6)}
            if seen == {float(sent)} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert seen == {float(sent)}
        assert "segito_timer_ticks_total" in _get(base, "/metrics")[2]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    lines = []
    for line in log.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # gunicorn's own lines are not Segito's format
    probes = [e for e in lines if e.get("logger") == "web.requests" and e.get("route") == "/healthz"]
    assert {e["request_id"] for e in probes} == {f"probe-{i}" for i in range(sent)}
    assert all(e["status"] == 200 and e["level"] == "INFO" for e in probes)
