"""The sandbox's limits. The modules read them from here at call time (``limits.MAX_STEPS``), so that setting one
(as the tests do) takes effect everywhere."""
from __future__ import annotations

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
