"""``engine.speedups.task_ids``: SpiffWorkflow's task ids cut from a buffer of random bytes — version-4 UUIDs, never the
same twice, not across threads and not between a process and a child it forks."""
from __future__ import annotations

import multiprocessing
import threading

import SpiffWorkflow.task as spiff_task

import engine.runtime.runtime  # noqa: F401  (installs the replacements)
from engine.speedups import task_ids


def test_installed_for_spiffworkflow():
    assert spiff_task.uuid4 is task_ids.task_id


def test_random_version_4_ids_never_repeated_across_threads():
    found: list = []

    def draw():
        found.extend(task_ids.task_id() for _ in range(3000))  # more than one buffer per thread

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 12000 and len(set(found)) == 12000
    assert {u.version for u in found} == {4} and {u.variant for u in found} == {"specified in RFC 4122"}


def _child_ids(connection) -> None:
    connection.send([task_ids.task_id() for _ in range(20)])
    connection.close()


def test_a_forked_child_does_not_cut_its_parents_ids():
    task_ids.task_id()  # the parent has a buffer with ids left in it at the fork
    parent_end, child_end = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_child_ids, args=(child_end,))
    child.start()
    from_child = parent_end.recv()
    child.join(10)
    mine = [task_ids.task_id() for _ in range(20)]
    assert not set(mine) & set(from_child)
