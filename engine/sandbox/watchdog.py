"""Stopping a thread that overruns its command's deadline in Python code the sandbox's guards do not see.

The guards stop sandboxed code, and the command's ``Budget`` is checked between engine steps; SpiffWorkflow's
own code runs in between (its duration arithmetic, a multi-instance task making its children, ...). ``deadline``
arms a watch on the current thread: once the deadline has passed, a daemon thread raises ``Overrun`` in it
(``PyThreadState_SetAsyncExc``), once. ``Overrun`` is a BaseException, so ``except Exception`` does not swallow
it (neither SpiffWorkflow nor the engine catches BaseException without raising it again). It is delivered between
two bytecodes: one long C call is not interrupted (the sandbox's size limits bound those).

Firing once is what makes it safe: the one exception is delivered somewhere inside the ``with`` statement (its
body, or its exit just as the deadline passed) or, if the block ended first, cleared by the disarming, which
runs under the lock the watchdog fires under -- it can never arrive after the block in unrelated code.
docs/architecture.md, "Expressions are untrusted".
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc  # (thread id, exception class or NULL to clear)


class Overrun(BaseException):
    """Raised asynchronously in a thread that ran past the deadline it armed."""


class _Watch:
    __slots__ = ("deadline", "fired", "thread_id")

    def __init__(self, thread_id: int, deadline: float):
        self.thread_id, self.deadline, self.fired = thread_id, deadline, False


_lock = threading.Lock()
_wake = threading.Condition(_lock)
_watches: set[_Watch] = set()
_started_in: int | None = None  # the pid whose watchdog thread runs (a forked child starts its own)
_next_look = float("inf")  # when the watchdog looks next: a later deadline need not wake it (one per command)


def _watchdog() -> None:
    global _next_look
    with _lock:
        while True:
            now, soonest = time.monotonic(), float("inf")
            for watch in list(_watches):
                if now >= watch.deadline:
                    _watches.discard(watch)
                    watch.fired = _set_async_exc(ctypes.c_ulong(watch.thread_id), ctypes.py_object(Overrun)) > 0
                else:
                    soonest = min(soonest, watch.deadline)
            _next_look = soonest
            _wake.wait(None if soonest == float("inf") else max(soonest - now, 0.001))


def _ensure_started() -> None:
    global _started_in
    if _started_in != os.getpid():
        with _lock:
            if _started_in != os.getpid():
                threading.Thread(target=_watchdog, name="segito-watchdog", daemon=True).start()
                _started_in = os.getpid()


def _after_fork_in_child() -> None:
    global _lock, _wake, _watches, _started_in, _next_look
    _lock = threading.Lock()  # the parent's watchdog may have held it at the fork
    _wake = threading.Condition(_lock)
    _watches, _started_in, _next_look = set(), None, float("inf")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def deadline(at: float):
    """Run the block; past ``at`` (``time.monotonic()``), raise ``Overrun`` in it."""
    _ensure_started()
    watch = _Watch(threading.get_ident(), at)
    with _lock:
        _watches.add(watch)
        if at < _next_look:
            _wake.notify()
    try:
        yield watch
    finally:
        with _lock:
            _watches.discard(watch)
            if watch.fired:  # fired, perhaps not delivered yet: it must not arrive after the block
                _set_async_exc(ctypes.c_ulong(watch.thread_id), None)
