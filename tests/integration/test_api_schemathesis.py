"""A bounded schemathesis run against the served OpenAPI document, in process over WSGI, with a demo user:
no answer is a 5xx and every answer is what the document describes (status, headers, body)."""
from __future__ import annotations

import time

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.transport import wsgi as wsgi_transport

from engine import demo, setup
from web.app import create_app


def _config():
    return SchemathesisConfig.from_dict({
        "seed": 20261205,
        "generation": {"max-examples": 15, "deterministic": True, "database": "none", "allow-x00": False},
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}},
        "phases": {"stateful": {"enabled": False}},
        "auth": {"basic": {"username": "anna", "password": setup.DEMO_PASSWORD}},
    })


def test_the_api_answers_as_its_document_says(runtime, monkeypatch):
    send = wsgi_transport.WSGITransport.send

    def _send(self, case, *, session=None, **kwargs):
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    monkeypatch.setattr(wsgi_transport.WSGITransport, "send", _send)
    demo.ensure(runtime)
    app = create_app(runtime, {"TESTING": False})
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=_config())
    failures, errors, checked = [], [], 0
    start = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, nodes in event.recorder.checks.items():
                for node in nodes:
                    checked += 1
                    if node.failure_info is not None:
                        f = node.failure_info.failure
                        inter = event.recorder.interactions.get(case_id)
                        st = inter.response.status_code if inter and inter.response else "?"
                        body = inter.response.content[:200] if inter and inter.response else ""
                        failures.append(f"{f.operation} [{node.name}] {st} {f.title}: {f.message[:300]}\n   {node.failure_info.code_sample[:400]}\n   {body}")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            import traceback; exc = getattr(event, "value", None) or getattr(event, "exception", None); errors.append("".join(traceback.format_exception(exc))[-1500:])
    print(f"{checked} checks in {time.monotonic() - start:.1f}s")
    seen = set()
    uniq = []
    for f in failures:
        k = f.split("\n")[0][:120]
        if k not in seen:
            seen.add(k); uniq.append(f)
    assert not uniq and not errors, "\n".join(uniq[:60] + errors)
