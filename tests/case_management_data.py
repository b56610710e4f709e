"""Form data for the case-management service (bpmn/case_management): entry, assessment, meetings, reviews,
closure and the anonymous satisfaction survey, as the steps' forms take them."""
from __future__ import annotations


def entry(route: str = "labour_office", consent: bool = True, day: str = "2026-03-02") -> dict:
    data = {"entry_route": route, "entry_date": day, "consent_given": consent}
    if route != "own_register":
        data["referring_organisation"] = "Debreceni Járási Hivatal Foglalkoztatási Osztály"
    if consent:
        data["consent_date"] = day
    return data


def goal(no: str, kind: str, day: str = "2026-03-03", text: str | None = None) -> dict:
    return {"goal_no": no, "goal": text or f"{no}. cél", "goal_type": kind, "set_on": day}


def action(no: str, goal_no: str, kind: str = "labour_market_service", day: str = "2026-03-10") -> dict:
    return {"action_no": no, "goal_no": goal_no, "action": f"{no}. intézkedés", "action_kind": kind,
            "planned_date": day}


def assessment(sex: str = "female", education: str = "primary", prior: str = "registered_jobseeker",
               goals: list[dict] | None = None, actions: list[dict] | None = None,
               training_goal: bool = False, completion_goal: bool = False, employment_goal: bool = True,
               **other) -> dict:
    return other | {"sex": sex, "education": education, "qualification": "none", "prior_status": prior,
            "target_groups": ["low_education", "no_qualification"],
            "plan_kind": "cooperation_agreement", "plan_author": "Járási Hivatal, Nagy Katalin",
            "commissioner": "Megyei Kormányhivatal", "plan_date": "2026-02-20", "plan_end": "2026-08-31",
            "plan_goals": goals if goals is not None else [goal("1", "employment"), goal("1.1", "service")],
            "plan_actions": actions if actions is not None else [action("1", "1.1"), action("2", "1", "job_search")],
            "goal_training_entry": training_goal, "goal_training_completion": completion_goal,
            "goal_employment": employment_goal} | other


def log_row(day: str, minutes: int = 60, client_signed: bool = True) -> dict:
    row = {"date": day, "duration_minutes": minutes, "contact": "personal",
           "activities": "Álláskeresési terv átbeszélése.", "case_manager_assessment": "Motivált, aktív.",
           "client_assessment": "Hasznosnak érezte.", "case_manager_signed": True, "client_signed": client_signed}
    if client_signed:
        row["client_signed_on"] = day
    else:
        row["client_not_signed_reason"] = "Telefonos konzultáció volt."
    return row


def service_row(day: str) -> dict:
    return {"date": day, "event": "Konzultáció az ügyféllel.", "progress": "A terv szerint halad.",
            "quantity": "1 alkalom"}


def result(no: str, status: str, day: str) -> dict:
    row = {"action_no": no, "date": day, "status": status}
    if status in ("not_used", "not_adequate"):
        row.update(reasons="Az időpont nem felelt meg.", further_steps="Új időpontot keresünk.")
    return row


def meeting(carried: dict, day: str, minutes: int = 60, next_step: str = "meeting", results: list | None = None,
            events: list | None = None, client_signed: bool = True) -> dict:
    """One meeting: the carried rows of every append-only block first (the step only appends)."""
    data = {"case_log": carried.get("case_log", []) + [log_row(day, minutes, client_signed)],
            "service_log": carried.get("service_log", []) + [service_row(day)],
            "next_step": next_step}
    if results:
        data["action_results"] = carried.get("action_results", []) + results
    if events:
        data["labour_market_events"] = carried.get("labour_market_events", []) + events
    return data


def plan_review(carried: dict, day: str, progress: list[dict], goals: list | None = None,
                actions: list | None = None, employment_goal: bool = True) -> dict:
    data = {"review_date": day, "goal_progress": carried.get("goal_progress", []) + progress,
            "goal_training_entry": False, "goal_training_completion": False, "goal_employment": employment_goal,
            "feedback_date": day, "feedback_summary": "A részcélok teljesültek, tovább a következő célra."}
    if goals:
        data["plan_goals"] = carried.get("plan_goals", []) + goals
    if actions:
        data["plan_actions"] = carried.get("plan_actions", []) + actions
    return data


def closure(carried: dict, day: str, reason: str = "goals_reached", results: list | None = None,
            events: list | None = None) -> dict:
    data = {"closure_date": day, "closure_reason": reason, "goal_fulfilment": "A célok teljesültek.",
            "final_feedback_date": day}
    if results:
        data["action_results"] = carried.get("action_results", []) + results
    if events:
        data["labour_market_events"] = carried.get("labour_market_events", []) + events
    return data


def satisfaction(overall: int = 5, helped: int = 5, progress: int = 4, recommend: bool = True) -> dict:
    return {"overall": overall, "case_manager_help": helped, "plan_progress": progress,
            "would_recommend": recommend}
