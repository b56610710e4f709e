"""Logging for operators: plain text or JSON lines (``SEGITO_LOG_FORMAT=json``), each record carrying the id of
the request it was logged in (``request_id``: the X-Request-Id the client or proxy sent, else one made here)."""
from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import uuid

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("segito_request_id", default=None)

# A client's X-Request-Id is kept only if it is a plain token (what proxies send): anything else would let a
# caller write what it likes into every log line of its request.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def choose_request_id(sent: str | None) -> str:
    return sent if sent and _ACCEPTED.fullmatch(sent) else uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or "-") on every record, for either format."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get() or "-"
        return True


# Attributes every LogRecord has: what is left is the ``extra`` a call passed, and goes into the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, the call's extra
    fields, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", None) or request_id.get()}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_installed: logging.Handler | None = None

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def configure(fmt: str | None = None, level: str | None = None) -> logging.Handler:
    """The root logger's one handler on standard error: ``SEGITO_LOG_FORMAT`` (text or json), and
    ``SEGITO_LOG_LEVEL`` (default INFO) for Segito's own loggers (engine, web); the rest log warnings and worse:
    SpiffWorkflow logs every task state change at INFO."""
    fmt = (fmt or os.environ.get("SEGITO_LOG_FORMAT") or "text").lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"SEGITO_LOG_FORMAT must be text or json, not {fmt!r}")
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    global _installed
    root = logging.getLogger()
    if _installed is not None:  # configured again: replaces its own handler, leaves others' alone
        root.removeHandler(_installed)
    root.addHandler(handler)
    _installed = handler
    root.setLevel(logging.WARNING)
    own = (level or os.environ.get("SEGITO_LOG_LEVEL") or "INFO").upper()
    for name in ("engine", "web"):
        logging.getLogger(name).setLevel(own)
    return handler
