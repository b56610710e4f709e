"""plans in BPMN: timers.planned and human_tasks.purpose; follow_up_plans dropped; earlier versions converted

Revision ID: 0015_plans_in_bpmn
Revises: 0014_package_versions
Create Date: 2026-12-05

The visit calendars are BPMN now: script tasks compute a plan with the sandbox's calendar helpers, the waiting
timer's property ``planned`` lists the days after it (stored on its row, ``timers.planned``), and a user task's
property ``purpose`` says it is a dated appointment (``human_tasks.purpose``) (docs/timers.md). Before this
revision the engine computed the plans itself (service operations) and kept a job-retention case's plan in
``follow_up_plans``; it also knew the appointment tasks by their ids.

So that cases running on the versions deployed before keep working (they keep their version), this revision
converts those versions as stored: each of the old service operations becomes the generic operation ``now``
with a postscript computing the same dates with the calendar helpers (the old operation is kept under the
extension ``legacyOperation``, which the downgrade restores); their visit timer gets the ``planned`` property
and their appointment tasks the ``purpose`` property. The names below are those old versions' ids: history
this revision reads, not knowledge the engine keeps.

Data: the open visit timers of cases with a plan row get ``planned`` computed from it (the same ladder); the
ready appointment tasks get their purpose. The downgrade recreates ``follow_up_plans`` empty (the plans now live
in the cases' data) and restores the old operations.
"""
import datetime as dt
import json
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0015_plans_in_bpmn'
down_revision = '0014_package_versions'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# The old versions' plan (engine/schedule.py before this revision), as calendar-helper expressions.
_RHYTHMS = ("{'standard': [['P1W', 'P1M'], ['P2W', 'P2M'], ['P1M', 'P6M']], "
            "'intensive': [['P1W', 'P2M'], ['P2W', 'P3M'], ['P1M', 'P6M']], "
            "'light': [['P2W', 'P1M'], ['P1M', 'P6M']]}")
_PLAN = (f"visit_plan = [day for day in rhythm_dates(employment_start, {_RHYTHMS}[intensity]) "
         "if day <= add_months(employment_start, follow_up_months) and day < add_days(employment_start, 180)]\n")
_VISIT = ("visit = {'n': visit_plan.index(visit) + 1, 'date': visit, 'due_at': day_start(visit)} "
          "if visit else None\n")
_LABEL = "f\"{n}. utókövetési látogatás / follow-up visit {n}\""
# operation -> (result variable of "now", postscript)
_CONVERSIONS = {
    "day_180_check": ("legacy_called_at", "day_180_check_due = day_start(add_days(employment_start, 180))\n"
                                          "visit = None\n"),
    "next_follow_up_visit": ("legacy_called_at", _PLAN + "visit = next_date(visit_plan, local_day(visit['due_at']) "
                                                         "if visit else None)\n" + _VISIT),
    "replanned_follow_up_visit": ("plan_changed_at", _PLAN + "visit = next_date(visit_plan, plan_changed_at)\n"
                                  + _VISIT),
    "family_follow_up_visits": ("legacy_called_at", (
        "follow_up_visits = [{'n': n, 'due_at': day_start(day)} for n, day in enumerate(rhythm_dates(closure_date, "
        "[[{'weekly': 'P1W', 'fortnightly': 'P2W', 'monthly': 'P1M'}[follow_up_frequency], "
        "f'P{follow_up_months}M']]), 1)]\n")),
}
_PLANNED = (f"[{{'date': day, 'label': {_LABEL}}} for n, day in enumerate(visit_plan, 1) "
            "if day_start(day) > visit['due_at']]")
_VISIT_TIMER = "visit_due"
_PURPOSES = {"jr_visit": "visit", "step_3_10": "visit", "jr_day_180_check": "check"}
_LADDER = {"standard": ((7, 14, 21, 28, 42, 56), (3, 4, 5)),
           "intensive": ((7, 14, 21, 28, 35, 42, 49, 56, 70, 84), (4, 5)),
           "light": ((14, 28), (2, 3, 4, 5))}


def _task_specs(spec: dict):
    yield from spec["spec"]["task_specs"].values()
    for sub in spec.get("subprocess_specs", {}).values():
        yield from sub["task_specs"].values()


def convert_spec(spec: dict) -> bool:
    """Convert one stored spec (spec_json, parsed) in place; True if anything changed."""
    changed = False
    for ts in _task_specs(spec):
        name = ts.get("operation_name")
        props = (ts.get("extensions") or {}).get("properties")
        if ts.get("typename") == "ServiceTask" and name in _CONVERSIONS:
            result, script = _CONVERSIONS[name]
            ext = ts.setdefault("extensions", {})
            ext["legacyOperation"] = {"operation_name": name, "operation_params": ts.get("operation_params"),
                                      "result_variable": ts.get("result_variable"),
                                      "postscript": ts.get("postscript"),
                                      "serviceTaskOperator": ext.get("serviceTaskOperator")}
            ts.update(operation_name="now", operation_params={}, result_variable=result,
                      postscript=(ts.get("postscript") or "") + script)
            ext["serviceTaskOperator"] = {"name": "now", "resultVariable": result, "parameters": {}}
            changed = True
        elif ts.get("name") == _VISIT_TIMER and props is not None and "planned" not in props:
            props["planned"] = _PLANNED
            props["legacyPlanned"] = "true"
            changed = True
        elif ts.get("name") in _PURPOSES and props is not None and "purpose" not in props:
            props["purpose"] = _PURPOSES[ts["name"]]
            props["legacyPurpose"] = "true"
            changed = True
    return changed


def restore_spec(spec: dict) -> bool:
    changed = False
    for ts in _task_specs(spec):
        ext = ts.get("extensions") or {}
        old = ext.pop("legacyOperation", None)
        props = ext.get("properties") or {}
        if old is not None:
            ts.update(operation_name=old["operation_name"], operation_params=old["operation_params"],
                      result_variable=old["result_variable"], postscript=old["postscript"])
            ext["serviceTaskOperator"] = old["serviceTaskOperator"]
            changed = True
        if props.pop("legacyPlanned", None):
            props.pop("planned", None)
            changed = True
        if props.pop("legacyPurpose", None):
            props.pop("purpose", None)
            changed = True
    return changed


def _add_months(day: dt.date, months: int) -> dt.date:
    import calendar

    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def _planned_after(start: dt.date, months: int, intensity: str, due_at: dt.datetime, zone) -> list[dict]:
    days, monthly = _LADDER.get(intensity, _LADDER["standard"])
    end, check = _add_months(start, months), start + dt.timedelta(days=180)
    plan = sorted(d for d in [start + dt.timedelta(days=n) for n in days] + [_add_months(start, m) for m in monthly]
                  if d <= end and d < check)
    due_day = due_at.astimezone(zone).date() if due_at.tzinfo else due_at.replace(tzinfo=dt.timezone.utc) \
        .astimezone(zone).date()
    return [{"date": d.isoformat(), "label": f"{n}. utókövetési látogatás / follow-up visit {n}"}
            for n, d in enumerate(plan, 1) if d > due_day]


def _zone():
    import os

    return ZoneInfo(os.environ.get("SEGITO_TIMEZONE") or "Europe/Budapest")


def _date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _instant(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _convert_definitions(bind, convert) -> None:
    defs = sa.table("process_definitions", sa.column("id", BigId), sa.column("spec_json", sa.Text),
                    sa.column("task_catalogue", sa.JSON))
    for row in bind.execute(sa.select(defs.c.id, defs.c.spec_json, defs.c.task_catalogue)).all():
        spec = json.loads(row.spec_json)
        catalogue = dict(row.task_catalogue or {})
        touched = convert(spec)
        for task, meta in list(catalogue.items()):
            if task in _PURPOSES and convert is convert_spec and meta.get("purpose") is None:
                catalogue[task] = {**meta, "purpose": _PURPOSES[task]}
                touched = True
            elif task in _PURPOSES and convert is restore_spec and "purpose" in meta:
                catalogue[task] = {k: v for k, v in meta.items() if k != "purpose"}
                touched = True
        if touched:
            bind.execute(defs.update().where(defs.c.id == row.id).values(spec_json=json.dumps(spec),
                                                                          task_catalogue=catalogue))


def upgrade() -> None:
    op.add_column('timers', sa.Column('planned', sa.JSON(), nullable=True))
    op.add_column('human_tasks', sa.Column('purpose', sa.String(length=40), nullable=True))
    bind = op.get_bind()
    tasks = sa.table("human_tasks", sa.column("bpmn_id", sa.String), sa.column("purpose", sa.String))
    for bpmn_id, purpose in _PURPOSES.items():
        bind.execute(tasks.update().where(tasks.c.bpmn_id == bpmn_id).values(purpose=purpose))
    timers = sa.table("timers", sa.column("id", BigId), sa.column("case_id", BigId), sa.column("due_at"),
                      sa.column("state", sa.String), sa.column("purpose", sa.String), sa.column("planned", sa.JSON))
    plans = sa.table("follow_up_plans", sa.column("case_id", BigId), sa.column("employment_start"),
                     sa.column("months", sa.Integer), sa.column("intensity", sa.String))
    zone = _zone()
    rows = bind.execute(sa.select(timers.c.id, timers.c.due_at, plans.c.employment_start, plans.c.months,
                                  plans.c.intensity).join(plans, plans.c.case_id == timers.c.case_id)
                        .where(timers.c.state.in_(("scheduled", "incident")), timers.c.purpose == "visit")).all()
    for r in rows:
        planned = _planned_after(_date(r.employment_start), r.months, r.intensity, _instant(r.due_at), zone)
        bind.execute(timers.update().where(timers.c.id == r.id).values(planned=planned))
    _convert_definitions(bind, convert_spec)
    op.drop_table('follow_up_plans')


def downgrade() -> None:
    op.create_table('follow_up_plans',
                    sa.Column('case_id', BigId, nullable=False),
                    sa.Column('employment_start', sa.Date(), nullable=False),
                    sa.Column('months', sa.Integer(), nullable=False),
                    sa.Column('intensity', sa.String(length=20), nullable=False),
                    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
                    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
                    sa.PrimaryKeyConstraint('case_id'))
    _convert_definitions(op.get_bind(), restore_spec)
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of human_tasks would lose its expression indexes.
    op.execute("ALTER TABLE human_tasks DROP COLUMN purpose")
    op.execute("ALTER TABLE timers DROP COLUMN planned")
