"""The one clock of the engine.

SpiffWorkflow's timer events read ``datetime.now(timezone.utc)`` inside its timer module; we route that module's
``datetime`` through this clock so tests can move time instead of sleeping.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import threading

_lock = threading.Lock()
_offset = _dt.timedelta(0)
_frozen: _dt.datetime | None = None
_timers = threading.local()  # per thread: the instant SpiffWorkflow's timer events take for now (``as_of``)


def now() -> _dt.datetime:
    """Timezone-aware UTC now, as seen by the engine."""
    with _lock:
        if _frozen is not None:
            return _frozen
        return _dt.datetime.now(_dt.timezone.utc) + _offset


def freeze(at: _dt.datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware datetime")
    global _frozen
    with _lock:
        _frozen = at.astimezone(_dt.timezone.utc)


def advance(delta: _dt.timedelta) -> None:
    global _frozen, _offset
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + delta
        else:
            _offset = _offset + delta


def reset() -> None:
    global _frozen, _offset
    with _lock:
        _frozen = None
        _offset = _dt.timedelta(0)


@contextlib.contextmanager
def as_of(at: _dt.datetime):
    """On this thread, SpiffWorkflow's timer events see ``at`` as now: a timer fired late (after downtime) runs
    as of its due time, so a timer that starts waiting then is not already due unless it was due by then
    (engine.timers.timers fires the rest in due order, through their rows). Other threads are not affected."""
    previous = getattr(_timers, "at", None)
    _timers.at = at
    try:
        yield
    finally:
        _timers.at = previous


class _EngineDatetime(_dt.datetime):
    """A datetime class whose now() is the engine clock; installed into SpiffWorkflow's timer module."""

    @classmethod
    def now(cls, tz=None):  # noqa: D102 - same contract as datetime.now
        current = getattr(_timers, "at", None) or now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


def install_into_spiffworkflow() -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _EngineDatetime
