"""Safe evaluation of the expressions and scripts that come from BPMN files.

Gateway conditions, timers, script tasks and service-task parameters come from whoever uploads a process:
untrusted input that must not import, open files, reach Python internals or stall the worker. Swapping
``__builtins__`` alone is escapable, so: (1) ``check`` walks the AST against an allow-list of node types and
refuses every name/attribute/keyword starting with ``_``, dangerous builtins by name, and any attribute that
is not one of a few safe methods; (2) the AST is rewritten so attribute access, calls, binary operators,
subscripts, comparisons, loop iterations and f-strings go through the guards of a per-run ``guards.Run``,
which re-check types, count steps, watch the clock and refuse oversized results *before* allocating them;
(3) the code runs with ``__builtins__`` holding only a few safe or guarded functions.

Data model: values must be *plain data* -- None, bool, int, float, str, Decimal, date, datetime, time,
timedelta and list/tuple/dict/set/frozenset of those, exact types (a subclass could run host code). A
variable the code names that holds anything else (module, function, class, object) is refused, so task data
is no route out; variables the code does not name are not inspected. Expression results, names a script
binds and variables mutated in place must be plain data too. As with SpiffWorkflow's own engine, a failing
script's in-place mutations are not rolled back (the caller's transaction is the unit of undo).

One command's evaluations share a ``Budget`` (time and memory), which the engine also checks between steps, so
a process looping through quick scripts cannot hold the case and the writer lock either; values SpiffWorkflow
computes with right after an evaluation (timer values, loop cardinalities) are checked first (``spiff``); and a
``watchdog`` stops, past the command's deadline, Python code no guard sees (docs/architecture.md).
Residual risk: one C-level operation cannot be interrupted; the size and node limits bound its work, but
run workers under OS limits (memory, CPU time) as the outer wall.

Modules: ``checker`` (allow-list validation, compile cache), ``rewriter`` (routes operations through the
guards), ``guards`` (the per-run ``Run``), ``safe_builtins`` (the builtins the code sees), ``methods`` (the
methods it may call), ``plain_data`` (plain-data and size checks), ``runner`` (check/evaluate/execute),
``spiff`` (SpiffWorkflow adapters), ``budget`` (one command's shared budget), ``watchdog`` (the outer stop),
``errors`` (SandboxError and its location), ``limits`` (every limit, read at call time so it can be tuned).
"""
from __future__ import annotations

from .budget import Budget
from .errors import SandboxError
from .runner import check, evaluate, execute
from .spiff import SandboxedScriptEngine, SandboxEnvironment

__all__ = [
    "SandboxError", "check", "evaluate", "execute", "SandboxedScriptEngine", "SandboxEnvironment", "Budget",
]
