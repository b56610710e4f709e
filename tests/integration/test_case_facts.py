"""The family-care report's rows follow each case's data, in the same command: closures count from the lead's
agreement (bpmn/family_care/reports/family_care.yaml, docs/reports.md)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import delete, select, update

from engine.cases import entry_corrections
from engine.reports import compute, grammar
from engine.reports import facts as report_facts
from engine.reports.models import ReportCase, ReportEntry
from engine.store.config import BPMN_DIR
from tests import demo_data

from .helpers import do, new_family_case, review, through_agreement, waiting_steps

DATES = ("taken_into_care", "agreement_date", "closure_date")


def fact(runtime, case_id):
    """The case's facts in the family-care report (dates as dates), with the row's time of writing."""
    with runtime.db.reading() as session:
        row = session.execute(select(ReportCase).where(ReportCase.report_key == "family_care",
                                                       ReportCase.case_id == case_id)).scalar_one_or_none()
        if row is None:
            return None
        found = {k: dt.date.fromisoformat(v) if k in DATES and v else v for k, v in row.facts.items()}
        return SimpleNamespace(**found, updated_at=row.updated_at, caseworker_id=row.caseworker_id)


def entries(runtime, case_id, collection: str) -> list:
    with runtime.db.reading() as session:
        return list(session.execute(select(ReportEntry.day, ReportEntry.value).where(
            ReportEntry.case_id == case_id, ReportEntry.collection == collection)
            .order_by(ReportEntry.day, ReportEntry.value)).all())


def meeting_days(runtime, case_id) -> list[str]:
    return [str(day) for day, _value in entries(runtime, case_id, "meetings")]


def to_closure(runtime, people, case_id, closure_date="2026-06-30"):
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    do(runtime, case_id, "step_3_8", {**demo_data.evaluation_data(), "closure_date": closure_date,
                                      "closure_reason": "successful", "follow_up": False}, people.anna)


def test_facts_appear_with_the_assessment_and_follow_the_data(runtime, people):
    case_id = new_family_case(runtime, people)
    started = fact(runtime, case_id)
    assert started.taken_into_care is None and started.client_status == "new"
    assert started.caseworker_id == people.anna.id
    through_agreement(runtime, people, case_id)
    row = fact(runtime, case_id)
    assert (row.taken_into_care, row.agreement_date) == (dt.date(2026, 2, 2), dt.date(2026, 3, 5))
    assert (row.household_size, row.total_income) == (3, 317200)
    assert abs(row.per_capita_income - 317200 / 3) < 0.01
    assert {value for _day, value in entries(runtime, case_id, "problem_types")} == {"financial", "child_rearing"}
    # Meetings are the case's log: a later step appends to it, and a wrong date is put right by a correction
    # (engine.cases.entry_corrections), which rewrites the rows in the same command.
    do(runtime, case_id, "step_3_3",
       {"meetings": [demo_data.meeting(6), demo_data.meeting(9)], "casework_next": "continue"}, people.anna)
    assert meeting_days(runtime, case_id) == ["2026-02-06", "2026-02-09"]
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6), demo_data.meeting(9), demo_data.meeting(12)],
                                      "casework_next": "continue"}, people.anna)
    assert meeting_days(runtime, case_id) == ["2026-02-06", "2026-02-09", "2026-02-12"]
    entry_corrections.correct(runtime, case_id, "meetings", 1, demo_data.meeting(7), people.anna)
    assert meeting_days(runtime, case_id) == ["2026-02-06", "2026-02-07", "2026-02-12"]


def test_a_closure_counts_only_once_the_lead_agrees(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    to_closure(runtime, people, case_id)
    assert fact(runtime, case_id).closure_date is None  # recorded, awaiting the professional lead
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": False}, people.lea)
    assert waiting_steps(runtime, case_id) == ["3.3"]
    assert fact(runtime, case_id).closure_date is None  # refused: back to casework, still open
    to_closure(runtime, people, case_id, closure_date="2026-07-15")
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    row = fact(runtime, case_id)
    assert (row.closure_date, row.closure_reason, row.follow_up, row.care_days) == \
        (dt.date(2026, 7, 15), "successful", False, 163)  # 2026-02-02 → 2026-07-15


def test_unchanged_data_writes_nothing_and_rebuild_restores_the_rows(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    before = fact(runtime, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "continue"}, people.anna)
    assert fact(runtime, case_id).updated_at == before.updated_at  # same facts: the row was not rewritten
    with runtime.db.unit_of_work() as session:
        session.execute(delete(ReportEntry).where(ReportEntry.case_id == case_id))
        session.execute(delete(ReportCase).where(ReportCase.case_id == case_id))
    assert fact(runtime, case_id) is None
    assert report_facts.rebuild(runtime) == 1
    assert fact(runtime, case_id).taken_into_care == dt.date(2026, 2, 2)


def test_the_intake_has_no_facts(runtime, people):
    demo_data.run_intake(runtime, people.anna)
    with runtime.db.reading() as session:
        assert session.execute(select(ReportCase)).first() is None


def test_facts_of_pure_data():
    """The declared facts of family care from data alone (field ids as the forms name them)."""
    path = BPMN_DIR / "family_care" / "reports" / "family_care.yaml"
    report = grammar.normalised(grammar.parse(path.read_bytes(), path.name)[0])
    facts = report_facts.facts_of(report, {"taken_into_care_date": "2026.01.10", "household_size": 0,
                                           "total_income": 50000, "closure_date": "2026-02-01"}, completed=False)
    assert facts["per_capita_income"] is None and facts["closure_date"] is None
    done = report_facts.facts_of(report, {"taken_into_care_date": "2026-01-10", "household_size": 2,
                                          "total_income": 50000, "closure_date": "2026-02-01"}, completed=True)
    assert (done["per_capita_income"], done["care_days"], done["follow_up"]) == (25000.0, 22, False)


def carried(runtime, case_id) -> set:
    with runtime.db.reading() as session:
        return {(r.collection, r.start_day, r.end_day, tuple(sorted((r.case_facts or {}).items())))
                for r in session.execute(select(ReportEntry).where(ReportEntry.case_id == case_id)).scalars()}


def test_entries_carry_their_cases_period_and_the_facts_figures_over_entries_read(runtime, people):
    """I6 counts problem types of cases active in the period, with and without an agreement, from the entries
    alone: each entry keeps a copy of its case's period days and agreement, brought up to date when they change."""
    path = BPMN_DIR / "family_care" / "reports" / "family_care.yaml"
    report = grammar.normalised(grammar.parse(path.read_bytes(), path.name)[0])
    assert compute.carried_facts(report) == ["agreement_date"]
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    taken, agreed = dt.date(2026, 2, 2), (("agreement_date", "2026-03-05"),)
    assert carried(runtime, case_id) == {("problem_types", taken, None, agreed)}
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "continue"}, people.anna)
    assert carried(runtime, case_id) == {("problem_types", taken, None, agreed), ("meetings", taken, None, agreed)}
    to_closure(runtime, people, case_id, closure_date="2026-07-15")
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    closed = {("problem_types", taken, dt.date(2026, 7, 15), agreed), ("meetings", taken, dt.date(2026, 7, 15), agreed)}
    assert carried(runtime, case_id) == closed
    with runtime.db.unit_of_work() as session:  # a rebuild brings stale copies back in line
        session.execute(update(ReportEntry).where(ReportEntry.case_id == case_id).values(
            start_day=None, end_day=None, case_facts={}))
    report_facts.rebuild(runtime, [case_id])
    assert carried(runtime, case_id) == closed
