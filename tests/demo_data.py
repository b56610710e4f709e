"""Form data of the bundled services for tests and benchmarks: realistic submissions (the ones the bundled demo
scripts record, bpmn/*/demo/), and cases driven through the engine's commands with them.

The benchmark uses the same builders, so what it measures is a case a caseworker would really record.
"""
from __future__ import annotations

import datetime as dt

from engine.cases import cases, tasks
from engine.runtime.runtime import Runtime
from engine.sandbox.calendar_helpers import local_date
from engine.store import clock


def intake_data(i: int = 0) -> dict:
    family = ["Kovács", "Szabó", "Horváth", "Varga", "Molnár", "Farkas"][i % 6]
    return {"family_name": family,
            "given_name": ["Éva", "Péter", "Zsófia", "Gábor"][i % 4] + (f" {i}" if i >= 24 else ""),
            "birth_date": f"{1970 + i % 30}-0{1 + i % 9}-1{i % 9}", "birth_place": "Debrecen",
            "mother_name": "Tóth Mária", "phone": "+36 30 123 4567",
            "intake_problem": "Lakbérhátralék, a család megélhetése bizonytalan."}


def assessment_data() -> dict:
    """Two household members besides the client (work and child-care income) and the client's pension."""
    return {
        "taken_into_care_date": "2026.02.02",
        "persons_concerned": 3,
        "phone": "+36 30 123 4567",
        "presented_problem": "Lakbérhátralék; a gyermekek iskolai hiányzásai.",
        "problem_types": ["financial", "child_rearing"],
        "household_size": 3,
        "household_members": [
            {"name": "Kovács János", "birth_place_date": "Debrecen, 1980.05.04", "kinship": "spouse",
             "residence_status": "tenant", "income_types": ["work"],
             "work_incomes": [{"kind": "wage", "amount": 180000}]},
            {"name": "Kovács Lili", "birth_place_date": "Debrecen, 2015.09.01", "kinship": "child",
             "residence_status": "family_member", "income_types": ["child_care"],
             "child_incomes": [{"kind": "family_allowance", "amount": 12200},
                               {"kind": "child_maintenance", "amount": 30000}]},
        ],
        "client_income_types": ["pension"],
        "client_pension_incomes": [{"kind": "disability_pension", "amount": 95000}],
        "in_kind_benefits": ["energy_support"],
        "status_assessment_date": "2026-03-02",
        "needs_other_helpers": False,
        "action_plan": "Adósságkezelési tanácsadás; iskolai kapcsolattartás; havi költségvetés.",
    }


def meeting(day: int) -> dict:
    """A meeting held on ``day`` February 2026: after the day taken into care, and in the past of the tests' clock
    (2 March 2026), as a meeting recorded as held must be (docs/forms.md, date rules)."""
    return {"date": f"2026-02-{day:02d}", "place": "client_home",
            "log": "Családlátogatás: a befizetési csekkeket bemutatták."}


def action(day: int, text: str = "Egyeztetés az iskolával.") -> dict:
    return {"date": f"2026-02-{day:02d}", "log": text}


def review_data(met: bool, goal_reached: bool = True, earlier: list | None = None,
                on: str = "2026-03-02") -> dict:
    """3.6: the February rent and own contribution shown; ``earlier``: the payments checked at the reviews before
    (an append-only block sends them back first, docs/forms.md)."""
    data = {"review_date": on, "review_checks": [*(earlier or []), *review_checks()], "commitments_met": met}
    if met:
        data["goal_reached"] = goal_reached
    return data


def review_checks(month: str = "2026-02") -> list[dict]:
    return [{"kind": "monthly_payment", "name": "Lakbér", "month": month, "shown": True, "amount": 45000},
            {"kind": "own_contribution", "name": "Adósságkezelési önrész", "month": month, "shown": True}]


def conference_data(actions: list[dict]) -> dict:
    """3.5: a case conference with the husband and the class teacher, each taking on a task with a due date."""
    return {"conference_date": "2026-02-25", "invitation_date": "2026-02-18",
            "conference_participants": [
                {"name": "Kovács János", "kind": "family_member", "invited": True, "attended": True},
                {"name": "Szabó Ilona", "kind": "professional", "organisation": "Petőfi Általános Iskola",
                 "invited": True, "attended": False}],
            "conference_tasks": [
                {"participant": "Kovács János", "task": "Havi költségvetés vezetése.", "due_date": "2026-03-31"},
                {"participant": "Szabó Ilona", "task": "Heti visszajelzés a hiányzásokról.",
                 "due_date": "2026-03-15"}],
            "actions": actions}


def further_service_data() -> dict:
    """3.9 yes: the further service brought in, and why (the referral, recorded again at 3.7)."""
    return {"further_service_available": True, "referral_to_kind": "service",
            "referral_to": "Adósságkezelési szolgáltatás",
            "referral_reason": "A lakbérhátralék rendezéséhez adósságkezelési tanácsadás kell."}


def evaluation_data() -> dict:
    """3.8's evaluation before the closure fields: results, the agreement's commitments, the changes."""
    return {"results_evaluation": "A lakbérhátralék rendeződött, a gyerekek rendszeresen járnak iskolába.",
            "commitments_evaluation": "A havi befizetéseket és az önrészt minden felülvizsgálaton igazolták.",
            "changes_recorded": "Rendszeres jövedelem, havi költségvetés szerint gazdálkodnak."}


def closure_data(follow_up: bool) -> dict:
    data = {**evaluation_data(), "closure_date": "2026-06-30", "closure_reason": "successful", "follow_up": follow_up}
    if follow_up:
        data.update(follow_up_agreement="Havonta egy látogatás három hónapig.", follow_up_frequency="monthly",
                    follow_up_months=3)
    return data


def _next(runtime: Runtime, actor, case_id: int) -> int:
    box = tasks.inbox(runtime, actor, limit=200)
    ids = [t["task_id"] for t in box["items"] if t["case_id"] == case_id]
    if not ids:
        raise LookupError(f"no task waiting for {actor.username} in case {case_id}")
    return ids[0]


def run_intake(runtime: Runtime, caseworker, i: int = 0) -> str:
    started = cases.start_case(runtime, "intake", caseworker)
    tasks.complete(runtime, _next(runtime, caseworker, started["case_id"]), intake_data(i), caseworker)
    return cases.get_case(runtime, started["case_id"], caseworker, with_data=False)["client"]["client_code"]


def run_family_care(runtime: Runtime, caseworker, lead, client_code: str, loops: int = 1,
                    stop_at: str | None = None) -> int:
    """A successful family-care case: assessment, agreement, ``loops`` casework rounds, review, closure.

    ``stop_at`` leaves the case waiting at that step (for demo cases in different states)."""
    case_id = cases.start_case(runtime, "family_care", caseworker, client_code)["case_id"]
    steps = [("3.1", caseworker, assessment_data()),
             ("3.2", caseworker, {"agreement_date": "2026-03-05", "review_frequency": "monthly"})]
    meetings = []
    for n in range(loops):
        meetings.append(meeting(6 + n % 20))
        steps.append(("3.3", caseworker, {"meetings": list(meetings), "casework_next": "continue"}))
    steps.append(("3.3", caseworker, {"meetings": list(meetings), "actions": [action(10)], "casework_next": "review"}))
    steps += [("3.6", caseworker, review_data(True)), ("3.8", caseworker, closure_data(follow_up=False)),
              ("3.8 agree", lead, {"closure_agreed": True})]
    for label, actor, data in steps:
        if stop_at == label:
            break
        tasks.complete(runtime, _next(runtime, actor, case_id), data, actor)
    return case_id


def run_job_retention(runtime: Runtime, mentor, client_code: str, days_ago: int = 10) -> int:
    """A job-retention follow-up that began ``days_ago`` days ago: its first visit is in the inbox,
    the others (and the day-180 check) are scheduled — the mentor's agenda has something to show."""
    start = local_date(clock.now()) - dt.timedelta(days=days_ago)
    case_id = cases.start_case(runtime, "job_retention", mentor, client_code)["case_id"]
    tasks.complete(runtime, _next(runtime, mentor, case_id),
                   {"entry_route": "development_plan", "development_plan_date": start.isoformat(),
                    "employer_name": "Példa Kft.", "job_title": "raktáros", "employment_start": start.isoformat()},
                   mentor)
    tasks.complete(runtime, _next(runtime, mentor, case_id),
                   {"employer_evaluation_agreed": False, "follow_up_months": 6, "intensity": "standard",
                    "interventions": ["client_consultation", "employer_consultation"]}, mentor)
    return case_id
