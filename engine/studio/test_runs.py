"""Test runs of a package's processes (docs/studio.md, "Test runs"): sample data per user task, kept beside the
process in ``tests/*.yaml``, played through every path of its gateways in a sandbox that has no database at all,
so no real case, client or timer is touched. The report says which paths end, which get stuck and where, and
which flows out of a gateway no path took.

A path is one run of the process from its start: each user task met is completed with one of its sample data
sets (validated by the task's form, as a caseworker's input is), a timer the process waits on fires when no task
is waiting (time moves to its due moment), and service tasks get stand-ins of the engine's operations. The first
path takes every task's first data set; each further path takes, at the first task where one is left, a data set
no earlier path took there — so every data set is taken at least once, and with one data set per gateway
choice, every choice.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.specs.defaults import ExclusiveGateway, InclusiveGateway
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from ..definitions import definitions, serialization
from ..errors import SegitoError
from ..forms.forms import Form
from ..packages import demo_scripts
from ..packages.check import check
from ..packages.demo_scripts import DemoError
from ..packages.parts import Package, PackageProblem
from ..packages.test_files import SampleData, read
from ..sandbox import Budget, SandboxedScriptEngine, SandboxError
from ..sandbox.calendar_helpers import local_date
from ..store import clock
from ..timers.timer_sync import waiting_timers

MAX_PATHS = 200
_TICK = dt.timedelta(microseconds=1)  # SpiffWorkflow fires a timer when its due time < now (strictly)


@dataclass
class PathResult:
    outcome: str  # "ended" | "stuck"
    steps: list[dict] = field(default_factory=list)  # {"task", "data_set"} or {"timer"}
    where: list[str] = field(default_factory=list)  # the elements a stuck path waits at or failed in
    why: str = ""
    # What stopped it, for a reader's own words: no_data, refused, no_way_on, too_long, failed, value.
    reason: str = ""
    detail: str = ""

    def stop(self, where: list[str], reason: str, why: str, detail: str = "") -> None:
        self.where, self.reason, self.why, self.detail = where, reason, why, detail


def _stand_in_services(at: Callable[[], dt.datetime]) -> dict:
    """The engine's service-task operations, as a test run has them: the time is the run's, and a registered
    client is a made-up one that exists nowhere."""
    def now(task_data: dict, **_params) -> str:
        return at().astimezone(dt.timezone.utc).isoformat()

    def register_client(task_data: dict, **_params) -> dict:
        return {"client_code": "K-TESTRUN0", "client_status": "new"}

    return {"now": now, "register_client": register_client}


class _Process:
    """A checked process ready to be played: its spec, forms and gateways."""

    def __init__(self, upload: definitions.Upload):
        _key, _name, spec_json, forms, self.catalogue = definitions.validated(upload)
        self.spec, self.subprocess_specs = serialization.spec_from_json(spec_json)
        self.forms = {name: Form(name, schema) for name, schema in forms.items()}
        specs = [self.spec, *self.subprocess_specs.values()]
        self.gateway_flows = sorted({(g.name, out.name) for s in specs for g in s.task_specs.values()
                                     if isinstance(g, (ExclusiveGateway, InclusiveGateway))
                                     for out in g.outputs})
        # Each element's name in both languages, so that a report names steps, timers and gateways as the diagram
        # does ('magyar / English' names split; a user task's English name is its nameEn property).
        self.names = {spec.name: _both_languages(spec.bpmn_name) for s in specs for spec in s.task_specs.values()
                      if getattr(spec, "bpmn_name", None)}
        self.names.update({key: {"hu": meta["name"], "en": meta["name_en"]} for key, meta in self.catalogue.items()})
        # (source, target) -> the sequence flow's id, to mark the flows on the diagram.
        root = etree.fromstring(upload.bpmn_bytes, etree.XMLParser(resolve_entities=False, no_network=True))
        self.flow_ids = {(f.get("sourceRef"), f.get("targetRef")): f.get("id")
                         for f in root.iter(f"{{{definitions.BPMN_NS}}}sequenceFlow")}


def _taken_flows(workflow: BpmnWorkflow, gateways: set[str]) -> set[tuple[str, str]]:
    taken = set()
    for task in workflow.get_tasks(state=TaskState.FINISHED_MASK):
        parent = task.parent
        if parent is not None and parent.task_spec.name in gateways:
            taken.add((parent.task_spec.name, task.task_spec.name))
    return taken


def _both_languages(name: str) -> dict[str, str]:
    hu, _sep, en = name.partition(" / ")
    return {"hu": hu.strip(), "en": (en or hu).strip()}


def _element(spec_name: str) -> str:
    """The BPMN element of a task spec: SpiffWorkflow names a task with boundary events '<id>.BoundaryEventSplit'."""
    return spec_name.split(".", 1)[0]


def _nothing_produced(name: str, what: str):
    raise DemoError(f"'${{{name}.{what}}}': a test run has no other cases; only dates relative to today")


def _key(option: tuple) -> tuple[str, int]:
    """(task, data set index), or (timer, -1): what a choice takes, for counting what the paths took."""
    found, index = option
    return (found.task_spec.name, index) if index is not None else (found[1][0].task_spec.name, -1)


def _play(process: _Process, sample: SampleData, planned: list[int], started: dt.datetime
          ) -> tuple[PathResult, set[tuple[str, str]], list[list[tuple[str, int]]]]:
    """One path: the n-th task met takes data set ``planned[n]`` (the first set past the plan). Returns the
    path, the gateway flows it took and, for each choice point in order, what could be taken there."""
    now = [started]
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs)
    workflow.script_engine = SandboxedScriptEngine(services=_stand_in_services(lambda: now[0]), budget=Budget())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(demo_scripts.resolve(sample.start, local_date(started), _nothing_produced))
    choices: list[list[tuple[str, int]]] = []
    result = PathResult("stuck")
    gateways = {g for g, _ in process.gateway_flows}
    try:
        with clock.as_of(now[0]):
            workflow.do_engine_steps()
        for _ in range(sample.max_steps):
            if workflow.completed:
                result.outcome = "ended"
                break
            ready = sorted(workflow.get_tasks(state=TaskState.READY, manual=True), key=lambda t: t.task_spec.name)
            timers = sorted(waiting_timers(workflow).items(), key=lambda kv: kv[0][1])
            # What may happen next: a ready task done with one of its data sets, or (never the first choice
            # while a task is ready) the earliest waiting timer firing.
            options: list[tuple] = [(t, i) for t in ready for i in range(len(sample.tasks.get(t.task_spec.name) or ()))]
            if timers:
                options.append((timers[0], None))
            if not options:
                where = sorted({t.task_spec.name for t in ready}
                               or {t.task_spec.name for t in workflow.get_tasks(state=TaskState.WAITING)})
                if ready:
                    result.stop(where, "no_data", "no sample data for this task")
                else:
                    result.stop(where, "no_way_on", "waits with no task ready and no timer")
                break
            chosen = planned[len(choices)] if len(choices) < len(planned) else 0
            choices.append([_key(o) for o in options])
            found, index = options[chosen]
            if index is None:
                (_id, due), (task, _kind) = found
                now[0] = max(now[0], due + _TICK)
                with clock.as_of(now[0]):
                    task.task_spec._update(task)
                    workflow.do_engine_steps()
                result.steps.append({"timer": task.task_spec.name})
                continue
            task, name = found, found.task_spec.name
            meta = process.catalogue.get(name) or {}
            form = process.forms.get(meta.get("form") or "")
            data = demo_scripts.resolve(sample.tasks[name][index], local_date(started), _nothing_produced)
            try:
                clean = form.validate(data, context=task.data) if form is not None else dict(data)
            except SegitoError as e:
                result.stop([name], "refused", f"data set {index + 1} is refused by its form: {e.message}",
                            e.message)
                break
            result.steps.append({"task": name, "data_set": index + 1})
            task.data.update(clean)
            with clock.as_of(now[0]):
                task.run()
                workflow.do_engine_steps()
        else:
            result.stop(sorted(t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY, manual=True)),
                        "too_long", f"did not end within {sample.max_steps} steps (a loop?)", str(sample.max_steps))
    except DemoError as e:
        result.stop([], "value", f"a value cannot be worked out: {e}", str(e))
    except (SpiffWorkflowException, SandboxError, SegitoError) as e:
        task = getattr(e, "task", None)
        detail = str(getattr(e, "message", None) or e)
        result.stop([task.task_spec.name] if task is not None else [], "failed", f"the process failed: {detail}",
                    detail)
    return result, _taken_flows(workflow, gateways), choices


def run_process(upload: definitions.Upload, sample: SampleData, started: dt.datetime | None = None) -> dict:
    """Every path of one process with one file's sample data; the report of what ended, what got stuck where,
    and which gateway flows no path took."""
    process = _Process(upload)
    started = started or clock.now()
    # Depth first over the choices: after a path, each later choice point may take another data set, once per
    # (task, data set) over the whole run, at the first point it was met.
    taken_sets: set[tuple[str, int]] = set()
    frontier: list[list[int]] = [[]]
    paths: list[PathResult] = []
    covered: set[tuple[str, str]] = set()
    begun = time.perf_counter()
    while frontier and len(paths) < MAX_PATHS:
        planned = frontier.pop(0)
        result, flows, choices = _play(process, sample, planned, started)
        paths.append(result)
        covered |= flows
        made = [planned[i] if i < len(planned) else 0 for i in range(len(choices))]
        taken_sets.update(options[index] for options, index in zip(choices, made))
        for i in range(len(planned), len(choices)):
            for index, key in enumerate(choices[i]):
                if index and key not in taken_sets:
                    taken_sets.add(key)
                    frontier.append(made[:i] + [index])
    return {
        "file": sample.file, "process": sample.process,
        "paths": [{"outcome": p.outcome, "steps": p.steps, "where": p.where, "why": p.why, "reason": p.reason,
                   "detail": p.detail} for p in paths],
        "ended": sum(p.outcome == "ended" for p in paths), "stuck": sum(p.outcome == "stuck" for p in paths),
        "gateway_flows": [{"gateway": g, "to": _element(t), "flow": process.flow_ids.get((g, _element(t))),
                           "taken": (g, t) in covered} for g, t in process.gateway_flows],
        "unused_data_sets": sorted(f"{name} #{i + 1}" for name, sets in sample.tasks.items()
                                   for i in range(len(sets)) if (name, i) not in taken_sets),
        "names": process.names,
        "seconds": round(time.perf_counter() - begun, 3),
    }


def run(package: Package, started: dt.datetime | None = None) -> dict:
    """Every test-run file of a package, played against the package's processes as checked for deploying (a
    package that would be refused is reported, not run)."""
    samples, _problems = read(package)  # their problems are among the package's (check.py)
    checked = check(package)
    problems = list(checked.problems)
    runs = []
    for sample in samples:
        process = checked.processes.get(sample.process)
        if process is None:
            if not problems:  # a process the manifest declares but whose BPMN was refused is reported there
                problems.append(PackageProblem(sample.file, None, f"process '{sample.process}' cannot be run",
                                               "process_cannot_run", {"process": sample.process}))
            continue
        runs.append(run_process(process.upload, sample, started))
    return {"package": package.key, "problems": [p.to_dict() for p in problems], "runs": runs,
            "passed": not problems and all(r["stuck"] == 0 for r in runs)}
