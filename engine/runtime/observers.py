"""What every command runs besides the workflow, listed here and nowhere else: observers and service operations.

``engine.runtime.advance.Advance`` calls the observers inside its transaction: what they write (timer rows,
indicator facts) and the audit events they add commit or roll back with the case. The order of each list is the
order they run in. The service operations are what BPMN service tasks may call (engine/runtime/services.py).
This is the one module through which the runtime reaches the packages above it (docs/architecture.md,
"Packages"): they import nothing that imports it back.
"""
from __future__ import annotations

from ..cases import clients
from ..reports import facts as report_facts
from ..timers import time_limits, timer_sync

# Called at the end of ``Advance.__init__``, before the workflow moves: observer(advance). Lets an observer note
# what it will compare with at the end (e.g. whether a timer waited, so a command without timers skips a query).
BEGIN_OBSERVERS: list = [report_facts.note_before, timer_sync.note_waiting]

# Called in ``finish`` before the new task rows are inserted: observer(advance, created_rows). Lets an observer
# fill in a column of a new row (e.g. the due date of a task) instead of updating the row after it is written.
ROW_OBSERVERS: list = [timer_sync.set_due_dates]

# Called inside the transaction at the end of every advance, after the task rows and before the state is saved:
# observer(advance, created_rows, completed). They write with advance.session and add audit events with
# advance.audit.add, so their work commits or rolls back with the case: the rows of declared reports
# (docs/reports.md), the timer rows with their due times (docs/timers.md) and the weekly time logged per client
# (docs/services.md, caseloads.<key>.time).
OBSERVERS: list = [report_facts.observe, timer_sync.observe, time_limits.observe]

# provide(runtime, session, case, actor, at, case_audit) -> {operation name: function(task_data, **params)}
SERVICE_OPERATIONS: list = [clients.service_operations]
