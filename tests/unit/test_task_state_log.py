"""``engine.speedups.task_state_log``: SpiffWorkflow's state-change log records, built only when someone would
read them."""
from __future__ import annotations

import logging

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.task import Task

import engine.runtime.runtime  # noqa: F401  (installs the replacements)
from engine.speedups import task_state_log
from engine.store.config import BPMN_DIR


def _run_intake_start():
    parser = SpiffBpmnParser()
    parser.add_bpmn_files([str(BPMN_DIR / "intake" / "intake.bpmn")])
    workflow = BpmnWorkflow(parser.get_spec("intake"), parser.get_subprocess_specs("intake"))
    workflow.do_engine_steps()
    return workflow


def test_it_is_installed():
    assert Task._set_state is task_state_log.set_state


def test_with_info_logging_the_records_are_spiffworkflows(caplog):
    caplog.set_level(logging.INFO, logger="spiff.task")
    workflow = _run_intake_start()
    changes = [r for r in caplog.records if r.name == "spiff.task" and r.getMessage().startswith("State changed to ")]
    assert changes, "state changes are logged at INFO"
    assert {"task_spec", "task_id", "state", "elapsed", "workflow_spec"} <= set(vars(changes[0]))
    assert any(r.getMessage() == "State changed to READY" and r.task_spec == "intake_registration" for r in changes)
    assert workflow.get_tasks()  # the workflow itself ran


def test_without_logging_no_record_is_built(monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="spiff.task")
    built = []
    original = Task.collect_log_extras
    monkeypatch.setattr(Task, "collect_log_extras", lambda self, dct=None: built.append(1) or original(self, dct))
    workflow = _run_intake_start()
    assert not built
    ready = [t for t in workflow.get_tasks() if t.task_spec.name == "intake_registration"]
    assert ready and ready[0].last_state_change > 0
