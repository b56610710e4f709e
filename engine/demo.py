"""The default run's demo data: demo users, and the demo cases the service packages script in their ``demo/``
folders, played through the same commands a user's work goes through (start a case, complete a task), so each
demo step is validated and audited like anyone's. The scripts' format is in docs/services.md ("Demo data")."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from . import packages, setup
from .cases import cases, tasks
from .errors import NotFound, SegitoError
from .packages import demo_scripts
from .packages.demo_scripts import DemoCase, DemoError
from .people import users
from .runtime.runtime import Runtime
from .sandbox.calendar_helpers import local_date
from .store import clock
from .store.config import BPMN_DIR
from .store.models import Case, Client, HumanTask


class DemoFailed(SegitoError):
    """A demo script could not be played; the message names its file and line and what the engine said."""

    status = 422
    code = "demo_failed"


def ensure(runtime: Runtime, bpmn_dir: Path = BPMN_DIR) -> None:
    """Demo users and, on a database without cases, the demo cases of the bundled packages."""
    setup.ensure_demo_users(runtime)
    if setup.has_cases(runtime):
        return
    found = packages.bundled(bpmn_dir)
    for package in found:  # checked as a whole when they were deployed; the order of play needs the manifests
        manifest, _lines, problems = packages.manifest.parse(package.files[packages.manifest.MANIFEST])
        if manifest is None:
            raise DemoFailed(f"{package.folder_name}/{problems[0]}", [p.to_dict() for p in problems])
        package.manifest, package.key = manifest, manifest["key"]
    play(runtime, found)


def in_playing_order(found: list[packages.Package]) -> list[packages.Package]:
    """Packages whose processes start from another package's clients after that package (an intake's demo
    clients exist before the cases started from them); otherwise by key."""
    owner = {key: p.key for p in found for key in p.manifest.get("processes", {})}
    needs = {p.key: {owner[spec["start"]["from"]] for spec in p.manifest.get("processes", {}).values()
                     if owner.get(spec["start"]["from"], p.key) != p.key} for p in found}
    ordered: list[packages.Package] = []
    waiting = sorted(found, key=lambda p: p.key)
    while waiting:
        done = {p.key for p in ordered}
        ready = [p for p in waiting if needs[p.key] <= done] or waiting[:1]  # a circle: take them by key
        ordered.append(ready[0])
        waiting.remove(ready[0])
    return ordered


def play(runtime: Runtime, found: list[packages.Package]) -> list[int]:
    """Play every demo case of ``found`` (packages with their manifests read) in order; the ids of the cases."""
    produced: dict[str, dict] = {}
    played = []
    actors: dict[str, users.Actor] = {}
    for package in in_playing_order(found):
        scripted, problems = demo_scripts.scripts(package)
        if problems:
            raise DemoFailed(f"{package.folder_name}/{problems[0]}", [p.to_dict() for p in problems])
        for case in scripted:
            case_id = _play_case(runtime, case, actors, produced)
            played.append(case_id)
            if case.name:
                produced[case.name] = {"case_id": case_id, "client_code": _client_code(runtime, case_id)}
    return played


def _play_case(runtime: Runtime, case: DemoCase, actors: dict[str, users.Actor], produced: dict[str, dict]) -> int:
    today = local_date(clock.now())

    def value_of(name: str, what: str):
        if name not in produced:
            raise DemoError(f"no demo case named '{name}' was played before this one (packages play after the "
                            f"ones their processes start from; cases in the order they are written)")
        if produced[name][what] is None:
            raise DemoError(f"demo case '{name}' has no {what}")
        return produced[name][what]

    def actor(name: str, line: int | None) -> users.Actor:
        if name not in actors:
            try:
                with runtime.db.reading() as session:
                    actors[name] = users.actor(session, name)
            except NotFound as e:
                raise DemoFailed(f"{case.where(line)}: there is no user '{name}' in this database") from e
        return actors[name]

    try:
        client = demo_scripts.resolve(case.client, today, value_of)
    except DemoError as e:
        raise DemoFailed(f"{case.where(case.client_line)}: {e}") from e
    try:
        case_id = cases.start_case(runtime, case.process, actor(case.by, None), client)["case_id"]
    except SegitoError as e:
        raise DemoFailed(f"{case.where()}: starting '{case.process}' as {case.by}: {e.message}", e.details) from e
    for step in case.steps:
        try:
            data = demo_scripts.resolve(step.data, today, value_of)
        except DemoError as e:
            raise DemoFailed(f"{case.where(step.line)}: {e}") from e
        task_id = _waiting(runtime, case_id).get(step.task)
        if task_id is None:
            raise DemoFailed(f"{case.where(step.line)}: case {case_id} does not wait at '{step.task}' (it waits at: "
                             f"{', '.join(_waiting(runtime, case_id)) or 'nothing'})")
        try:
            tasks.complete(runtime, task_id, data, actor(step.by, step.line))
        except SegitoError as e:
            raise DemoFailed(f"{case.where(step.line)}: '{step.task}' as {step.by}: {e.message}", e.details) from e
    if case.stops_at is not None and case.stops_at not in _waiting(runtime, case_id):
        raise DemoFailed(f"{case.where(case.stops_at_line)}: case {case_id} was to stop at '{case.stops_at}' but "
                         f"waits at: {', '.join(_waiting(runtime, case_id)) or 'nothing'}")
    return case_id


def _waiting(runtime: Runtime, case_id: int) -> dict[str, int]:
    """The case's waiting user tasks: BPMN id -> task id (the first, when one waits twice)."""
    with runtime.db.reading() as session:
        rows = session.execute(select(HumanTask.bpmn_id, HumanTask.id).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready").order_by(HumanTask.id.desc())).all()
    return dict(rows)


def _client_code(runtime: Runtime, case_id: int) -> str | None:
    with runtime.db.reading() as session:
        return session.execute(select(Client.client_code).join(Case, Case.client_id == Client.id)
                               .where(Case.id == case_id)).scalar()
