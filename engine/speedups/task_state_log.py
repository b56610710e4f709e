"""``Task._set_state`` without building log records nobody reads (installed with engine/speedups/task_walk.py's walks).

SpiffWorkflow logs every state change of every task: before ``logger.info`` looks at the level it has formatted the
message and built a dict of eight details (the state's name found by a search, the parent looked up), a few
microseconds each time, a dozen times per command. Here the message and details are built only when the
``spiff.task`` logger would emit them; the state change itself is SpiffWorkflow's.
"""
from __future__ import annotations

import logging
import time

from SpiffWorkflow.task import logger
from SpiffWorkflow.util.task import TaskState


def set_state(self, value: int) -> None:
    if value != self._state:
        now = time.time()
        elapsed = now - self.last_state_change
        self.last_state_change = now
        self._state = value
        if logger.isEnabledFor(logging.INFO):
            logger.info(f'State changed to {TaskState.get_name(value)}',
                        extra=self.collect_log_extras({'elapsed': elapsed}))
    elif logger.isEnabledFor(logging.DEBUG):
        logger.debug(f'State set to {TaskState.get_name(value)}', extra=self.collect_log_extras())
