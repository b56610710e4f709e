"""What operators and their machines read: /healthz, /readyz (database, schema, scheduler), /metrics in
Prometheus' text format (who may read it; request, command and timer figures; several processes added up), the
request id on every answer and in the log lines — on SQLite and PostgreSQL where the database is involved."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re

import pytest
from sqlalchemy import text

from engine.cases import cases
from engine.errors import SegitoError
from engine.observability import health, logs, metrics
from engine.store import clock
from engine.timers import ticker, timers

from .timer_helpers import local, start_follow_up
from .web_client import make_app

# A sample line of the text format: name, optional labels, value (docs of Prometheus' exposition format 0.0.4).
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$')


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch):
    monkeypatch.delenv(metrics.DIR_SETTING, raising=False)
    monkeypatch.delenv("SEGITO_METRICS_TOKEN", raising=False)
    metrics.reset()
    saved = (health.ticking.interval, health.ticking.started, health.ticking.running)
    health.ticking.interval = None
    yield
    health.ticking.interval, health.ticking.started, health.ticking.running = saved
    metrics.reset()


def _samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
            continue
        assert SAMPLE.match(line), f"not a sample line: {line!r}"
        name, value = line.rsplit(" ", 1)
        found[name] = float(value)
    return found


def test_healthz_answers_and_every_answer_carries_a_request_id(runtime):
    client = make_app(runtime).test_client()
    made = client.get("/healthz")
    assert made.status_code == 200 and made.get_json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    assert client.get("/healthz").headers["X-Request-Id"] != made.headers["X-Request-Id"]
    # A proxy's id is echoed; one that is not a plain token is replaced, not written into the logs.
    assert client.get("/login", headers={"X-Request-Id": "edge-42.a"}).headers["X-Request-Id"] == "edge-42.a"
    replaced = client.get("/healthz", headers={"X-Request-Id": "x\", \"level\": \"forged"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert client.get("/no-such-page").headers["X-Request-Id"]


def test_readyz_checks_the_database_the_schema_and_the_scheduler(runtime, monkeypatch):
    client = make_app(runtime).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"ready": True, "checks": {"database": "ok", "migrations": "ok",
                                                          "scheduler": "not run here"}}
    # Code newer than the database's schema: not ready, and the answer says which migration is missing.
    monkeypatch.setitem(health._heads, runtime.db.url, "9999_newer")
    behind = client.get("/readyz")
    assert behind.status_code == 503 and "needs 9999_newer" in behind.get_json()["checks"]["migrations"]
    monkeypatch.undo()
    # A database migrated by a newer release (a rolling upgrade): this process keeps serving; its migrations only
    # add (docs/operations.md, "Migrations without downtime").
    with runtime.db.unit_of_work() as session:
        current = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        session.execute(text("UPDATE alembic_version SET version_num = '9999_from_a_newer_release'"))
    try:
        ahead = client.get("/readyz")
        assert ahead.status_code == 200
        assert ahead.get_json()["checks"]["migrations"].startswith("ok: database ahead at 9999_from_a_newer_release")
    finally:
        with runtime.db.unit_of_work() as session:
            session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    # A process that runs the scheduler is ready while its ticks come, and not once they stop.
    ticker.tick(runtime, "web:test")
    health.ticking.expect(5)
    assert client.get("/readyz").get_json()["checks"]["scheduler"] == "ok"
    health.ticking.started -= 60
    stalled = client.get("/readyz")
    assert stalled.status_code == 503 and "no timer tick for" in stalled.get_json()["checks"]["scheduler"]
    health.ticking.tick_started()  # a long tick under way still counts as alive
    health.ticking.started -= 600
    assert client.get("/readyz").status_code == 200
    health.ticking.tick_ended()


def test_readyz_is_unready_when_the_database_does_not_answer(runtime, monkeypatch):
    client = make_app(runtime).test_client()

    def unreachable():
        raise ConnectionRefusedError("no database here")

    monkeypatch.setattr(runtime.db, "reading", unreachable)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"] == {"database": "unreachable", "migrations": "unknown",
                                           "scheduler": "not run here"}
    assert "no database here" not in answer.get_data(as_text=True)  # details go to the log, not to the caller
    assert client.get("/healthz").status_code == 200  # the process itself is alive


def test_metrics_answer_this_machine_or_the_token_only(runtime, monkeypatch):
    client = make_app(runtime).test_client()
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 403 and "SEGITO_METRICS_TOKEN" in elsewhere.get_data(as_text=True)
    # Through a proxy on this machine the client is somewhere else.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    monkeypatch.setenv("SEGITO_METRICS_TOKEN", "s3cret-token")
    assert client.get("/metrics").status_code == 403  # once a token is set, this machine needs it too
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"},
                      environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    # Refusals here are no audit events (a scraper would fill the log): the denial log is untouched.
    from sqlalchemy import func, select

    from engine.store import audit
    from engine.store.models import AuditEvent
    with runtime.db.reading() as session:
        assert session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.kind == audit.ACCESS_DENIED)).scalar_one() == 0


def test_metrics_count_requests_commands_and_timers_in_the_text_format(runtime, people):
    client = make_app(runtime).test_client()
    for _ in range(3):
        client.get("/healthz")
    client.get("/login")
    client.get("/cases/12")  # a stranger: sent to the login page
    client.get("/no-such-page")
    # Engine commands, counted where they run: done and refused.
    clock.freeze(local("2026-01-28", 10))
    start_follow_up(runtime, people.anna)  # a job-retention case waiting on its visit timers
    with pytest.raises(SegitoError):
        cases.start_case(runtime, "no_such_process", people.anna)
    # Its first visit falls due; a minute later it is late; then a worker fires it.
    clock.freeze(local("2026-02-07") + dt.timedelta(minutes=5))
    text = client.get("/metrics").get_data(as_text=True)
    found = _samples(text)
    assert found['segito_http_requests_total{method="GET",route="/healthz",status="200"}'] == 3
    assert found['segito_http_requests_total{method="GET",route="/cases/<int:case_id>",status="302"}'] == 1
    assert found['segito_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    assert found['segito_http_request_duration_seconds_count{route="/healthz"}'] == 3
    assert found['segito_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}'] == 3
    assert found['segito_commands_total{command="start_case",outcome="done"}'] >= 2  # the intake and the case
    assert found['segito_commands_total{command="start_case",outcome="refused"}'] == 1
    assert found['segito_commands_total{command="complete_task",outcome="done"}'] >= 2
    assert found["segito_timers_due"] >= 1 and found["segito_timers_late"] >= 1
    assert found["segito_timers_fired_total"] == 0 and found["segito_incidents_open"] == 0
    assert "# TYPE segito_http_request_duration_seconds histogram" in text
    assert "# TYPE segito_timers_fired_total counter" in text and "# TYPE segito_timers_due gauge" in text
    due = found["segito_timers_due"]
    assert timers.fire_due(runtime, "w") == due
    after = _samples(client.get("/metrics").get_data(as_text=True))
    assert (after["segito_timers_due"], after["segito_timers_late"], after["segito_timers_fired_total"]) == (
        0, 0, due)


def test_the_processes_of_a_server_add_up_through_the_metrics_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.DIR_SETTING, str(tmp_path))
    metrics.inc("segito_http_requests_total", route="/healthz", method="GET", status="200")
    metrics.observe("segito_http_request_duration_seconds", 0.003, route="/healthz")
    # Another process of the server (or one that has ended) left its counts in the directory.
    other = {"counters": [["segito_http_requests_total", [["method", "GET"], ["route", "/healthz"],
                                                          ["status", "200"]], 4]],
             "histograms": [["segito_http_request_duration_seconds", [["route", "/healthz"]],
                             [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 42.0]]]}
    (tmp_path / "process-999999.json").write_text(json.dumps(other))
    (tmp_path / "process-999998.json").write_text("{half a fi")  # being replaced: skipped this time
    found = _samples(metrics.render(metrics.collected()))
    assert found['segito_http_requests_total{method="GET",route="/healthz",status="200"}'] == 5
    assert found['segito_http_request_duration_seconds_bucket{route="/healthz",le="0.005"}'] == 1
    assert found['segito_http_request_duration_seconds_bucket{route="/healthz",le="10"}'] == 2
    assert found['segito_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}'] == 5
    assert found['segito_http_request_duration_seconds_count{route="/healthz"}'] == 5
    assert found['segito_http_request_duration_seconds_sum{route="/healthz"}'] == pytest.approx(42.003)
    # This process's own file was written for the others to read.
    mine = json.loads((tmp_path / f"process-{os.getpid()}.json").read_text())
    assert mine["counters"][0][2] == 1


@pytest.fixture
def logging_restored():
    """configure() sets levels and a handler on the root logger: put them back for the tests after."""
    levels = {name: logging.getLogger(name).level for name in ("", "engine", "web")}
    yield
    if logs._installed is not None:
        logging.getLogger().removeHandler(logs._installed)
        logs._installed = None
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_json_log_lines_carry_the_request_id(runtime, logging_restored):
    out = io.StringIO()
    handler = logs.configure(fmt="json")
    handler.setStream(out)
    client = make_app(runtime).test_client()
    client.get("/healthz", headers={"X-Request-Id": "req-7"})
    token = logs.request_id.set("outside-1")
    logging.getLogger("engine.timers").warning("a message with %s", "arguments", extra={"timer_id": 5})
    logs.request_id.reset(token)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [request_line] = [e for e in lines if e["logger"] == "web.requests"]
    assert request_line["request_id"] == "req-7" and request_line["status"] == 200
    assert request_line["route"] == "/healthz" and request_line["message"].startswith("GET /healthz 200")
    assert request_line["level"] == "INFO" and request_line["time"].endswith("+00:00")
    [engine_line] = [e for e in lines if e["logger"] == "engine.timers"]
    assert engine_line == {**engine_line, "request_id": "outside-1", "message": "a message with arguments",
                           "timer_id": 5, "level": "WARNING"}


def test_the_text_log_format_names_the_request_id(runtime, logging_restored):
    out = io.StringIO()
    handler = logs.configure(fmt="text")
    handler.setStream(out)
    make_app(runtime).test_client().get("/healthz", headers={"X-Request-Id": "req-8"})
    assert re.search(r"INFO web\.requests \[req-8\]: GET /healthz 200 [0-9.]+ ms", out.getvalue())
    with pytest.raises(ValueError, match="SEGITO_LOG_FORMAT"):
        logs.configure(fmt="xml")


def test_a_database_that_went_away_answers_503_with_retry_after_not_500(runtime, people, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from engine.people import api_tokens

    with runtime.db.unit_of_work() as session:
        secret = api_tokens.issue(session, people.anna, "ops", ["read"], clock.now())[1]
    client = make_app(runtime).test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/inbox", headers=bearer).status_code == 200

    def gone(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    for way_in in ("reading", "unit_of_work", "read_connection"):  # every way a request reaches the database
        monkeypatch.setattr(runtime.db, way_in, gone)
    answer = client.get("/api/inbox", headers=bearer)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.get_json()["error"] == "database_unavailable"
    assert "server closed" not in answer.get_data(as_text=True)  # the error goes to the log, not to the caller
