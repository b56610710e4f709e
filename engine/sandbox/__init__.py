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
``errors`` (SandboxError and its location).
"""
from __future__ import annotations

from .budget import Budget
from .errors import SandboxError
from .runner import check, evaluate, execute
from .spiff import SandboxedScriptEngine, SandboxEnvironment

# The limits live here, in the package, and the modules read them from here at call time, so that setting
# ``sandbox.MAX_STEPS`` (as the tests do) takes effect everywhere.
MAX_SOURCE_LEN = 50_000        # characters of one expression or script
MAX_STEPS = 100_000            # loop iterations + calls per evaluation
MAX_SECONDS = 2.0              # wall time per evaluation
MAX_STR_LEN = 1_000_000        # characters in one string the sandbox builds
MAX_ITEMS = 100_000            # items in one list/tuple/dict/set the sandbox builds; also max range() length
MAX_INT_BITS = 100_000         # ~30,000 decimal digits
MAX_ALLOC_TOTAL = 20_000_000   # characters + items of all strings/collections built in one evaluation
MAX_NODES = 200_000            # objects visited when checking data or weighing an operand
MAX_DEPTH = 100                # levels of nesting of a value (a dict level counts two: the dict, its pairs)
MAX_INSTANCES = 1_000          # a multi-instance task's loop cardinality
# One command (start a case, complete a task, fire a timer) together, however many evaluations its process
# runs (budget.py); the watchdog stops Python code the guards do not see WATCHDOG_GRACE later (watchdog.py).
COMMAND_SECONDS = 5.0
MAX_COMMAND_ALLOC = 50_000_000
WATCHDOG_GRACE = 1.0

__all__ = [
    "SandboxError", "check", "evaluate", "execute", "SandboxedScriptEngine", "SandboxEnvironment",
    "MAX_SOURCE_LEN", "MAX_STEPS", "MAX_SECONDS", "MAX_STR_LEN", "MAX_ITEMS", "MAX_INT_BITS",
    "MAX_ALLOC_TOTAL", "MAX_NODES", "MAX_DEPTH", "MAX_INSTANCES", "COMMAND_SECONDS", "MAX_COMMAND_ALLOC",
    "WATCHDOG_GRACE", "Budget",
]
