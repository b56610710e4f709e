"""Forgetting the finished rounds of a loop in a case's state (a follow-up loop of timer, task, next timer).

SpiffWorkflow keeps every task it ever created, and a loop nests each round under the previous one: a
follow-up loop adds about ten tasks per round, and every command walks and saves all of them, so a case six
rounds in cost twice as much to fire as at its first round (docs/timers.md). The loop's entry element carries
the property ``forgetFinishedRounds`` = ``true``; a round is the tasks from one instance of that element to the
next. At the end of a command, the finished tasks (completed or cancelled) of the rounds before the last
``KEEP_ROUNDS`` are removed, and their unfinished tasks (a task still waiting in the inbox, with what follows
it) and the next round move up into the removed round's place, in the same order.

Nothing that anyone reads is lost: who did what is in the audit log, the task rows and the timer rows (never
in the task tree); data travels from a task to the tasks it creates when it creates them; the kept rounds let
the diagram still show the loop's elements as done. A round is left alone while it holds the workflow's last
completed task or a subprocess.
"""
from __future__ import annotations

from itertools import pairwise

from SpiffWorkflow.util.task import TaskState

PROPERTY = "forgetFinishedRounds"
KEEP_ROUNDS = 2  # the current round and the one before it
_FINISHED = TaskState.COMPLETED | TaskState.CANCELLED
_NONE = object()


def _entry(spec) -> str | None:
    """The name of the spec's loop entry (the task spec with the property), computed once per parsed spec."""
    found = spec.__dict__.get("_segito_round_entry", _NONE)
    if found is _NONE:
        found = next((name for name, ts in spec.task_specs.items()
                      if ((getattr(ts, "extensions", None) or {}).get("properties") or {}).get(PROPERTY) == "true"),
                     None)
        spec._segito_round_entry = found
    return found


def forget_finished_rounds(workflow) -> int:
    """Remove the finished tasks of the old rounds; returns how many tasks were removed."""
    entry = _entry(workflow.spec)
    if entry is None:
        return 0
    rounds = [t for t in workflow.tasks.values() if t.task_spec.name == entry]
    if len(rounds) <= KEEP_ROUNDS:
        return 0
    rounds.sort(key=lambda t: t.depth)  # each round's entry lies under the previous round's
    removed = 0
    for old, nxt in pairwise(rounds[:len(rounds) - KEEP_ROUNDS + 1]):
        removed += _forget(workflow, old, nxt)
    return removed + _sweep(workflow, rounds[-KEEP_ROUNDS].parent)


def _sweep(workflow, parent) -> int:
    """What was moved up while unfinished (a task left in the inbox, with what follows it) goes once all of it
    has finished (the task done, the process end join it waited at cancelled): a finished branch beside the
    loop, without the workflow's last completed task."""
    if parent is None:
        return 0
    removed = 0
    for child in parent.children:
        branch = _finished_branch(child, workflow.last_task)
        if branch:
            parent._children.remove(child.id)
            parent.__dict__.pop("_segito_json", None)
            for task in branch:
                del workflow.tasks[task.id]
            removed += len(branch)
    return removed


def _finished_branch(root, last) -> list:
    """The tasks of the branch from ``root`` when every one of them has finished (else an empty list)."""
    branch, stack = [], [root]
    while stack:
        task = stack.pop()
        if task is None or not task.state & _FINISHED or task is last or task.id in task.workflow.subprocesses:
            return []
        branch.append(task)
        stack.extend(task.children)
    return branch


def _forget(workflow, old, nxt) -> int:
    parent = old.parent
    if parent is None or not old.state & _FINISHED:
        return 0
    gone, kept, stack = [], [], [old]
    while stack:  # pre-order, so the kept tasks keep their order
        task = stack.pop()
        if task is nxt or not task.state & _FINISHED:
            kept.append(task)
            continue
        gone.append(task)
        stack.extend(reversed(task.children))
    if nxt not in kept or workflow.last_task in gone or any(t.id in workflow.subprocesses for t in gone):
        return 0
    at = parent._children.index(old.id)
    parent._children[at:at + 1] = [t.id for t in kept]
    for task in kept:
        task._parent = parent.id
        task.__dict__.pop("_segito_json", None)  # engine.speedups.state_text's text of a task names its parent
    parent.__dict__.pop("_segito_json", None)
    for task in gone:
        del workflow.tasks[task.id]
    return len(gone)
