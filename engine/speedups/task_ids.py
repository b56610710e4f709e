"""Random task ids for SpiffWorkflow without a system call per id (installed with engine/speedups/task_walk.py's walks).

SpiffWorkflow gives every task it creates ``uuid4()``: 16 bytes from ``os.urandom`` each time, a system call, and
a command creates a dozen tasks or more. Here each thread draws 4 KB from ``os.urandom`` at a time and cuts the ids
from it: the same random version-4 UUIDs. A forked process must not cut the same ids as its parent, so a fork
throws every buffer away (the generation below), and threads never share one.
"""
from __future__ import annotations

import os
import threading
from uuid import UUID

_BYTES = 16 * 256
_generation = 0  # advanced in a child after fork(): buffers of another generation are not used
_local = threading.local()


def task_id() -> UUID:
    """What ``uuid.uuid4()`` returns, from this thread's buffer of random bytes."""
    state = _local.__dict__
    at = state.get("at", _BYTES)
    if at >= _BYTES or state.get("generation") != _generation:
        state["buffer"], state["generation"], at = os.urandom(_BYTES), _generation, 0
    state["at"] = at + 16
    return UUID(bytes=state["buffer"][at:at + 16], version=4)


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
