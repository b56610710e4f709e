"""Cases running on the versions deployed before the visit calendars moved into BPMN keep working: migration
0015 converts those stored versions (their plan service operations become the generic ``now`` with a
postscript using the calendar helpers) and moves the job-retention plans onto the timer rows (docs/timers.md).

The fixtures are the process files as they were before (tests/integration/fixtures/*_before_calendar_helpers.bpmn);
``old_operations`` stands in for the engine operations those versions called, with the dates DOMAIN.md 5 gives."""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from engine.cases import agenda
from engine.definitions import definitions, serialization
from engine.runtime import services
from engine.sandbox import calendar_helpers as cal
from engine.store import clock, migrate
from engine.store.models import Case
from engine.timers import timers

from .test_job_retention import CHECK_DAY, STANDARD_VISITS, restarted
from .timer_helpers import VISIT, complete, local, ready_tasks, start_follow_up, timer_rows

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_JOB_RETENTION = FIXTURES / "job_retention_before_calendar_helpers.bpmn"
OLD_FAMILY_CARE = FIXTURES / "family_care_before_calendar_helpers.bpmn"
OLD_OPERATIONS = {"day_180_check", "next_follow_up_visit", "replanned_follow_up_visit", "family_follow_up_visits"}


def _migration():
    path = ROOT / "engine" / "store" / "migrations" / "versions" / "0015_plans_in_bpmn.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MIGRATION = _migration()
# DOMAIN.md 5: days after S of the weekly/fortnightly visits, months after S of the monthly ones.
LADDER = {"standard": ((7, 14, 21, 28, 42, 56), (3, 4, 5)), "intensive": ((7, 14, 21, 28, 35, 42, 49, 56, 70, 84),
                                                                         (4, 5)), "light": ((14, 28), (2, 3, 4, 5))}


def _plan(start: str, months: int, intensity: str) -> list[dt.date]:
    s = dt.date.fromisoformat(start)
    days, monthly = LADDER[intensity]
    end, check = cal.months_later(s, months), s + dt.timedelta(days=180)
    return sorted(d for d in [s + dt.timedelta(days=n) for n in days] + [cal.months_later(s, m) for m in monthly]
                  if d <= end and d < check)


def old_operations(runtime, session, case, actor, at, case_audit) -> dict:
    """The plan operations the earlier versions call, as the engine gave them (without the plan row)."""
    def visit(n, day):
        return {"n": n, "due_at": cal.start_of_day(day).isoformat()}

    def next_visit(task_data, start=None, months=None, intensity=None, **_):
        last = task_data.get("visit")
        after = cal.local_date(dt.datetime.fromisoformat(last["due_at"])) if last else None
        return next((visit(n, d) for n, d in enumerate(_plan(start, months, intensity), 1)
                     if after is None or d > after), None)

    def replanned(task_data, start=None, months=None, intensity=None, **_):
        return next((visit(n, d) for n, d in enumerate(_plan(start, months, intensity), 1)
                     if cal.start_of_day(d) > at), None)

    return {"next_follow_up_visit": next_visit, "replanned_follow_up_visit": replanned,
            "day_180_check": lambda task_data, start=None, **_: cal.start_of_day(
                dt.date.fromisoformat(start) + dt.timedelta(days=180)).isoformat()}


def _upload(path: Path, service: str) -> definitions.Upload:
    forms = {p.name: p.read_bytes() for p in sorted((ROOT / "bpmn" / service / "forms").glob("*.json"))}
    return definitions.Upload(path.name.replace("_before_calendar_helpers", ""), path.read_bytes(), forms)


def _stored_spec(path: Path, service: str) -> tuple[dict, dict]:
    _key, _name, spec, subs, _forms, catalogue = definitions.validate(_upload(path, service))
    catalogue = {task: {k: v for k, v in meta.items() if k != "purpose"} for task, meta in catalogue.items()}
    return json.loads(serialization.spec_to_json(spec, subs)), catalogue


def _operations(spec: dict) -> set[str]:
    return {ts.get("operation_name") for ts in MIGRATION._task_specs(spec) if ts.get("typename") == "ServiceTask"}


@pytest.mark.parametrize("path,service", [(OLD_JOB_RETENTION, "job_retention"), (OLD_FAMILY_CARE, "family_care")])
def test_the_earlier_versions_lose_their_plan_operations_and_get_them_back_on_downgrade(path, service):
    spec, _catalogue = _stored_spec(path, service)
    before = json.dumps(spec, sort_keys=True)
    assert _operations(spec) & OLD_OPERATIONS
    assert MIGRATION.convert_spec(spec) is True
    assert not _operations(spec) & OLD_OPERATIONS and "now" in _operations(spec)
    assert MIGRATION.convert_spec(spec) is False  # converted once
    assert MIGRATION.restore_spec(spec) is True
    assert json.dumps(spec, sort_keys=True) == before


def test_a_case_running_on_the_earlier_version_keeps_its_dates_after_the_conversion(runtime, people, monkeypatch):
    clock.freeze(local("2026-01-28", 10))
    with runtime.db.unit_of_work() as session:
        old, _created = definitions.deploy(session, _upload(OLD_JOB_RETENTION, "job_retention"), "test",
                                           clock.now())
        old_id = old.id
    monkeypatch.setattr(services, "PROVIDERS", [*services.PROVIDERS, old_operations])
    case_id = start_follow_up(runtime, people.anna)
    for day in STANDARD_VISITS[:2]:
        clock.freeze(local(day, 8))
        assert timers.fire_due(runtime, "w") == 1
        complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": day}, people.anna)

    # The upgrade: the old operations are gone from the engine, the stored version is converted.
    monkeypatch.setattr(services, "PROVIDERS", [p for p in services.PROVIDERS if p is not old_operations])
    with runtime.db.unit_of_work() as session:
        MIGRATION._convert_definitions(session.connection(), MIGRATION.convert_spec)
    runtime = restarted(runtime)
    with runtime.db.reading() as session:
        assert session.execute(sa.select(Case.definition_id).where(Case.id == case_id)).scalar_one() == old_id

    for n, day in enumerate(STANDARD_VISITS[2:4], start=3):
        [waiting] = [t for t in timer_rows(runtime, case_id, "scheduled") if t.bpmn_id == "visit_due"]
        assert (waiting.due_at, waiting.label) == (local(day), f"{n}. utókövetési látogatás / follow-up visit {n}")
        clock.freeze(local(day, 8))
        assert timers.fire_due(restarted(runtime), "w") == 1
        [task] = ready_tasks(runtime, case_id, "jr_visit")
        assert task.purpose == "visit"  # the converted version says what its tasks are
        complete(restarted(runtime), case_id, "jr_visit", {**VISIT, "visit_date": day}, people.anna)
    # The next visit's timer was set by the converted version: it carries the rest of the plan.
    assert [(c["date"], c["state"]) for c in agenda.case_calendar(runtime, case_id) if c["kind"] == "visit"] == [
        (STANDARD_VISITS[4], "scheduled")] + [(d, "planned") for d in STANDARD_VISITS[5:]]

    # A plan change on the converted version: the visits of the new plan after the change (DOMAIN.md 5).
    clock.freeze(local("2026-03-01", 11))
    complete(restarted(runtime), case_id, "jr_plan_change", {"change_reason": "Sűrűbben.", "follow_up_months": 6,
                                                             "intensity": "intensive"}, people.anna)
    expected = [d.isoformat() for d in _plan("2026-01-31", 6, "intensive") if cal.start_of_day(d) > clock.now()]
    assert [c["date"] for c in agenda.case_calendar(runtime, case_id) if c["kind"] == "visit"] == expected
    for day in expected:
        clock.freeze(local(day, 8))
        assert timers.fire_due(restarted(runtime), "w") == 1
        complete(restarted(runtime), case_id, "jr_visit", {**VISIT, "visit_date": day}, people.anna)
    assert [(c["date"], c["kind"]) for c in agenda.case_calendar(runtime, case_id)] == [(CHECK_DAY, "check")]


def test_the_migration_moves_the_plans_onto_the_timer_rows_and_marks_the_appointment_tasks(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0014_package_versions")
    spec, catalogue = _stored_spec(OLD_JOB_RETENTION, "job_retention")
    engine = sa.create_engine(url)
    at = dt.datetime(2026, 2, 14, 10, tzinfo=dt.timezone.utc)
    due = cal.start_of_day(dt.date(2026, 2, 21))
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO process_definitions (id, process_key, version, name, content_hash, bpmn_xml, "
                          "spec_json, forms, task_catalogue, deployed_at, deployed_by) VALUES (1, 'job_retention', 1, "
                          "'JR', 'h', '<x/>', :spec, '{}', :cat, :at, 'test')"),
                  {"spec": json.dumps(spec), "cat": json.dumps(catalogue), "at": at})
        c.execute(sa.text("INSERT INTO cases (id, definition_id, process_key, status, state, lock_version, started_at, "
                          "started_by, audit_head, audit_seq) VALUES (7, 1, 'job_retention', 'running', x'00', 1, :at, "
                          "'test', '', 0)"), {"at": at})
        c.execute(sa.text("INSERT INTO follow_up_plans VALUES (7, '2026-01-31', 6, 'standard', :at)"), {"at": at})
        for i, (bpmn_id, state, purpose) in enumerate([("visit_due", "scheduled", "visit"),
                                                       ("day_180_due", "scheduled", "check"),
                                                       ("visit_due", "fired", "visit")], start=1):
            c.execute(sa.text("INSERT INTO timers (id, case_id, spiff_task_id, bpmn_id, label, purpose, event_kind, "
                              "due_at, run_at, state, attempts, created_at) VALUES (:id, 7, :sid, :b, 'L', :p, "
                              "'date', :due, :due, :s, 0, :at)"),
                      {"id": i, "sid": f"t{i}", "b": bpmn_id, "p": purpose, "s": state, "due": due, "at": at})
        for i, bpmn_id in enumerate(["jr_visit", "jr_plan_change"], start=1):
            c.execute(sa.text("INSERT INTO human_tasks (id, case_id, spiff_task_id, bpmn_id, step, name, role, state, "
                              "created_at) VALUES (:id, 7, :sid, :b, '4.2', 'n', 'caseworker', 'ready', :at)"),
                      {"id": i, "sid": f"h{i}", "b": bpmn_id, "at": at})

    command.upgrade(config, "head")
    with engine.connect() as c:
        assert "follow_up_plans" not in sa.inspect(c).get_table_names()
        planned = dict(c.execute(sa.text("SELECT id, planned FROM timers")).all())
        assert json.loads(planned[1]) == [
            {"date": d, "label": f"{n}. utókövetési látogatás / follow-up visit {n}"}
            for n, d in enumerate(STANDARD_VISITS, 1) if d > "2026-02-21"]
        assert planned[2] is None and planned[3] is None  # not a visit; a visit already fired
        assert dict(c.execute(sa.text("SELECT bpmn_id, purpose FROM human_tasks")).all()) == {
            "jr_visit": "visit", "jr_plan_change": None}
        stored, cat = c.execute(sa.text("SELECT spec_json, task_catalogue FROM process_definitions")).one()
        assert not _operations(json.loads(stored)) & OLD_OPERATIONS
        cat = json.loads(cat)
        assert (cat["jr_visit"]["purpose"], cat["jr_day_180_check"]["purpose"]) == ("visit", "check")

    command.downgrade(config, "0014_package_versions")
    with engine.connect() as c:
        assert "follow_up_plans" in sa.inspect(c).get_table_names()
        assert "planned" not in {col["name"] for col in sa.inspect(c).get_columns("timers")}
        indexes = {r[0] for r in c.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
        assert {"ix_human_tasks_role_queue", "ix_human_tasks_assigned"} <= indexes  # kept both ways
        stored, cat = c.execute(sa.text("SELECT spec_json, task_catalogue FROM process_definitions")).one()
        assert json.loads(stored) == spec and json.loads(cat) == catalogue
    engine.dispose()
