"""One command's budget: the time and memory all its evaluations share.

Each evaluation has its own limits (``MAX_SECONDS``, ``MAX_ALLOC_TOTAL``), but a process can loop -- a script
task, a gateway and back -- so that one command runs thousands of evaluations while it holds the case and the
writer lock. A ``Budget`` is made per command (``engine.runtime.advance.Advance``) and handed to every evaluation of
that command, which stops at the earlier of its own deadline and the command's; ``check`` is also called
between engine steps, so a loop without any expression stops too. docs/architecture.md, "Expressions are untrusted".
"""
from __future__ import annotations

import time

from . import limits
from .errors import SandboxError


class Budget:
    def __init__(self, seconds: float | None = None):
        self.seconds = limits.COMMAND_SECONDS if seconds is None else seconds
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds
        self.allocated = 0

    def exceeded(self) -> SandboxError:
        return SandboxError(f"the process ran longer than {self.seconds:g} s in one command "
                            "(a loop without a waiting step, or expressions that take too long)")

    def check(self, *_ignored) -> None:
        """Raise once the command's time is up (usable as SpiffWorkflow's ``will_complete_task`` callback)."""
        if time.monotonic() > self.deadline:
            raise self.exceeded()

    def charge(self, n: int) -> None:
        self.allocated += n
        if self.allocated > limits.MAX_COMMAND_ALLOC:
            raise SandboxError(f"memory budget exceeded: the process built more than {limits.MAX_COMMAND_ALLOC} "
                               "characters/items in one command")
