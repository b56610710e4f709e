"""SpiffWorkflow adapters: a script engine and an environment that run everything in the sandbox."""
from __future__ import annotations

import ast
import copy
import json

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from ..store import clock
from . import limits, timer_values
from .errors import SandboxError
from .runner import check, run


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow also calls ``script_engine.environment.evaluate`` directly (process completion and
    conditional-path conditions, message correlations), so the environment must be sandboxed too. budget: the
    command's ``Budget``, shared by all its evaluations (None: each evaluation has only its own limits)."""

    def __init__(self, budget=None):
        super().__init__()
        self.budget = budget

    def evaluate(self, expression, context, external_context=None):
        return run(expression, "eval", context, external_context, self.budget)

    def execute(self, script, context, external_context=None):
        run(script, "exec", context, external_context, self.budget)
        return True


def _check_result(task, expression, value) -> None:
    """Values SpiffWorkflow computes with right after evaluating them: checked before it does.

    A timer's value goes into duration arithmetic that loops once per month (engine/sandbox/timer_values.py); a
    multi-instance task's cardinality is the number of children it makes at once."""
    spec = task.task_spec
    definition = getattr(spec, "event_definition", None)
    for timer in (definition, *(getattr(definition, "event_definitions", None) or ())):
        kind = timer_values.kind_of(timer)
        if kind is not None and timer.expression == expression:
            try:
                timer_values.check(kind, value, clock.now())
            except timer_values.TimerValueRefused as e:
                raise SandboxError(f"timer value refused: {e}") from None
            return
    if expression == getattr(spec, "cardinality", None) and (
            type(value) is not int or not 0 <= value <= limits.MAX_INSTANCES):
        raise SandboxError(f"loop cardinality must be a whole number from 0 to {limits.MAX_INSTANCES}, "
                           f"not {value!r:.40}")


class SandboxedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that runs everything in the sandbox. services maps an operation name to
    ``fn(task_data, **params)`` returning a JSON-serialisable result; budget is the command's (``Budget``)."""

    def __init__(self, services: dict | None = None, budget=None):
        super().__init__(environment=SandboxEnvironment(budget))
        self.services = dict(services or {})

    def validate(self, expression):
        ast.parse(expression)  # a plain SyntaxError first: SpiffWorkflow's DMN engine relies on it
        check(expression, "eval")

    def evaluate(self, task, expression, external_context=None):
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
            _check_result(task, expression, value)
            return value
        except SandboxError as err:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}': {err}", task=task,
                                        exception=err, line_number=err.line) from err

    def execute(self, task, script, external_context=None):
        try:
            return self.environment.execute(script, task.data, external_context)
        except SandboxError as err:
            lines = script.splitlines()
            error_line = lines[err.line - 1] if err.line and err.line <= len(lines) else ""
            raise WorkflowTaskException(f"Error running script: {err}", task=task, exception=err,
                                        line_number=err.line, error_line=error_line) from err

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        service = self.services.get(operation_name)
        if service is None:
            raise WorkflowTaskException(f"unknown service operation '{operation_name}'", task=task)
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        try:  # a copy: a service returns its result (stored in the result variable), it does not edit task data
            return json.dumps(service(copy.deepcopy(task.data), **params))  # SpiffWorkflow json.loads it
        except Exception as err:
            raise WorkflowTaskException(f"service '{operation_name}' failed: {type(err).__name__}: {err}",
                                        task=task, exception=err) from err
