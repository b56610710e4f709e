"""SpiffWorkflow's internals done cheaper with the same results; all of them off with SEGITO_SPEEDUPS=0.

Each replaces one piece of the library with code that gives the same results faster (docs/benchmarks.md):
``task_walk`` (the task-tree walks), ``task_ids`` (task ids from a buffer of random bytes), ``task_state_log``
(state changes without unread log records), ``state_text`` (a case's state written and read without the
library's converters, byte for byte what they write). ``install`` puts them in when ``SEGITO_SPEEDUPS`` allows
(engine/store/config.py), once per process (engine/runtime/runtime.py does it); ``switched_off`` takes them out
for a while, so a test or a benchmark can compare the library's own results (tests/integration/test_speedups.py).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..store import config
from . import task_walk

# Whether the replacements are in: read at call time by the code that chooses between a speed-up and the
# library's own way (engine/definitions/serialization.py), set only here.
active = False


def install() -> None:
    """Put the replacements in, unless the configuration switches them off."""
    global active
    if config.speedups_enabled():
        task_walk.install()  # with the task ids and the state-change log (engine/speedups/task_walk.py)
        active = True


def uninstall() -> None:
    global active
    task_walk.uninstall()
    active = False


@contextlib.contextmanager
def switched_off() -> Iterator[None]:
    """SpiffWorkflow as published for a while; whatever was in before is put back after."""
    global active
    was = active
    uninstall()
    try:
        yield
    finally:
        if was:
            task_walk.install()
            active = True
