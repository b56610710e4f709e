"""The indicator rows follow each case's data, in the same command: closures count from the lead's agreement."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from engine import case_facts
from engine.cases import entry_corrections
from engine.report_models import CaseFact, CaseMeeting, CaseProblemType
from tests import demo_data

from .helpers import do, new_family_case, review, through_agreement, waiting_steps


def fact(runtime, case_id) -> CaseFact:
    with runtime.db.reading() as session:
        return session.get(CaseFact, case_id)


def meeting_days(runtime, case_id) -> list[str]:
    with runtime.db.reading() as session:
        return [str(d) for d in session.execute(select(CaseMeeting.met_on).where(CaseMeeting.case_id == case_id)
                                                .order_by(CaseMeeting.met_on)).scalars()]


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
    with runtime.db.reading() as session:
        assert set(session.execute(select(CaseProblemType.problem_type)
                                   .where(CaseProblemType.case_id == case_id)).scalars()) == {"financial",
                                                                                              "child_rearing"}
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
        session.delete(session.get(CaseFact, case_id))
        for row in session.execute(select(CaseProblemType).where(CaseProblemType.case_id == case_id)).scalars():
            session.delete(row)
    assert fact(runtime, case_id) is None
    assert case_facts.rebuild(runtime) == 1
    assert fact(runtime, case_id).taken_into_care == dt.date(2026, 2, 2)


def test_the_intake_has_no_facts(runtime, people):
    demo_data.run_intake(runtime, people.anna)
    with runtime.db.reading() as session:
        assert session.execute(select(CaseFact)).first() is None


def test_facts_of_pure_data():
    keys = case_facts.FactKeys(scalars={"taken_into_care": "t", "household_size": "h", "total_income": "i",
                                        "closure_date": "c", "per_capita_income": "p"},
                               closure_needs_agreement=True)
    facts = case_facts.facts_of({"t": "2026.01.10", "h": 0, "i": 50000, "c": "2026-02-01"}, keys, completed=False)
    assert facts["per_capita_income"] is None and facts["closure_date"] is None
    done = case_facts.facts_of({"t": "2026-01-10", "h": 2, "i": 50000, "c": "2026-02-01"}, keys, completed=True)
    assert (done["per_capita_income"], done["care_days"], done["follow_up"]) == (25000.0, 22, False)
