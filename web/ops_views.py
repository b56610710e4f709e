"""For operators and their machines: /healthz (the process answers), /readyz (it can serve: database, schema,
scheduler), /metrics (Prometheus' text format), and for every request an id (X-Request-Id, echoed or made), its
place in the metrics and one log line (engine/observability; docs/operations.md).

/metrics tells how busy the service is and how its timers fare, nothing about people, yet it is not for the
world: it answers a client on this machine (a Prometheus or an agent beside the app) when no proxy forwarded the
request, or anyone who sends ``Authorization: Bearer`` with the token set in ``SEGITO_METRICS_TOKEN``. The two
probes answer everyone: a load balancer must reach them, and they say only which check failed."""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

from engine.observability import health, logs, metrics

ops = Blueprint("ops", __name__)
log = logging.getLogger("web.requests")

TOKEN_SETTING = "SEGITO_METRICS_TOKEN"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-Ip")


def _db():
    return current_app.extensions["segito"].db


@ops.route("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@ops.route("/readyz")
def readyz():
    found = health.readiness(_db())
    return jsonify(found), 200 if found["ready"] else 503


def _metrics_allowed() -> bool:
    token = os.environ.get(TOKEN_SETTING)
    if token:
        sent = request.headers.get("Authorization", "")
        return sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].encode(), token.encode())
    if any(name in request.headers for name in _FORWARDED):
        return False  # through a proxy on this machine: the client is somewhere else
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@ops.route("/metrics")
def metrics_text():
    if not _metrics_allowed():
        # Plain text, not the error page: this is a machine's address, and a refusal here is no event for the
        # audit log (scrapers would fill it).
        return Response("403: /metrics answers clients on this machine, or with the token of SEGITO_METRICS_TOKEN"
                        " (Authorization: Bearer …).\n403: a /metrics csak erről a gépről érhető el, vagy a "
                        "SEGITO_METRICS_TOKEN tokenjével.\n", 403, mimetype="text/plain")
    body = metrics.render(metrics.collected(), health.database_gauges(_db()))
    return Response(body, mimetype="text/plain", content_type="text/plain; version=0.0.4; charset=utf-8")


@ops.before_app_request
def _begin():
    g.request_started = time.perf_counter()
    g.request_id = logs.choose_request_id(request.headers.get("X-Request-Id"))
    g.request_id_token = logs.request_id.set(g.request_id)


@ops.after_app_request
def _end(response):
    request_id = g.get("request_id") or logs.choose_request_id(None)
    response.headers["X-Request-Id"] = request_id
    started = g.get("request_started")
    if started is None:
        return response
    took = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    method = request.method if request.method in _METHODS else "other"
    metrics.inc("segito_http_requests_total", route=route, method=method, status=str(response.status_code))
    metrics.observe("segito_http_request_duration_seconds", took, route=route)
    log.info("%s %s %s %.1f ms", method, request.path, response.status_code, took * 1000,
             extra={"method": method, "path": request.path, "route": route, "status": response.status_code,
                    "duration_ms": round(took * 1000, 2)})
    metrics.write()
    return response


@ops.teardown_app_request
def _forget(_error=None):
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)
