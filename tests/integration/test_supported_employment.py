"""IPS supported employment (seed 004, DOMAIN.md 8): the five phases with no time limit, the employer-contact
log, the 30-day flag for a late first employer contact, job loss back to job search, and the 20-client caseload
of a job coach; on SQLite and PostgreSQL."""
from __future__ import annotations

import lxml.html
import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from engine.store import clock
from engine.store.models import Case
from engine.timers import caseload, timers
from tests import demo_data

from .helpers import do, task_of, waiting, waiting_steps
from .timer_helpers import end_of_local_day, events, local, timer_rows
from .web_client import browser, make_app

ENTRY = {"entry_date": "2026-03-02", "referral_source": "health_care", "target_groups": ["mental_health"],
         "wants_competitive_work": True, "agreement_date": "2026-03-02",
         "agreement_content": "Hetente találkozunk; hozzájárul a munkáltatókkal való kapcsolatfelvételhez.",
         "benefits_counselling_offered": True}
PROFILE = {"profile_date": "2026-03-03", "skills": "Raktári rend, targoncavizsga.",
           "job_wishes": "Raktári munka a lakóhelye közelében.", "wanted_hours_per_week": 30,
           "disclosure_preference": "partly"}
CONTACT = {"date": "2026-03-05", "employer": "Példa Kft.", "contact_kind": "in_person", "outcome": "vacancy"}
JOB = {"employer": "Példa Kft.", "job_type": "raktáros", "start_date": "2026-03-20", "weekly_hours": 30,
       "competitive": True, "employer_support": "Havonta egyeztetünk a műszakvezetővel."}


def start_ips(runtime, coach, i: int = 0) -> int:
    code = demo_data.run_intake(runtime, coach, i)
    return cases.start_case(runtime, "ips", coach, code)["case_id"]


def carried(runtime, case_id: int, bpmn_id: str, field: str, actor) -> list[dict]:
    shown = tasks.get_task(runtime, task_of(runtime, case_id, bpmn_id), actor)["carried"].get(field, [])
    return [e["row"] for e in shown]


def data_of(runtime, case_id: int, actor) -> dict:
    return cases.get_case(runtime, case_id, actor)["data"]


def test_the_five_phases_with_job_loss_back_to_job_search_and_leaving(runtime, people):
    clock.freeze(local("2026-03-06", 10))
    case_id = start_ips(runtime, people.anna)
    assert waiting_steps(runtime, case_id) == ["1"]
    assert data_of(runtime, case_id, people.anna)["ips_phase"] == "entry"
    do(runtime, case_id, "ips_entry", ENTRY, people.anna)
    do(runtime, case_id, "ips_profile", PROFILE, people.anna)
    # Phase 3 is due 30 days after entry: the inbox shows the date and marks it overdue after it.
    [search] = waiting(runtime, case_id)
    assert (search.bpmn_id, search.step) == ("ips_first_search", "3")
    assert search.due_at == end_of_local_day("2026-04-01")
    assert data_of(runtime, case_id, people.anna)["ips_phase"] == "job_search"
    # A round with no employer contact yet asks again.
    do(runtime, case_id, "ips_first_search", {"job_search_next": "continue"}, people.anna)
    assert [t.bpmn_id for t in waiting(runtime, case_id)] == ["ips_first_search"]
    do(runtime, case_id, "ips_first_search", {"employer_contacts": [CONTACT], "job_search_next": "continue"},
       people.anna)
    assert data_of(runtime, case_id, people.anna)["first_employer_contact_date"] == "2026-03-05"
    # After the first contact the flag's timer is cancelled and the search goes on without a deadline.
    assert [t.state for t in timer_rows(runtime, case_id) if t.bpmn_id == "first_contact_due"] == ["cancelled"]
    [more] = waiting(runtime, case_id)
    assert (more.bpmn_id, more.due_at) == ("ips_job_search", None)
    # The employer-contact log is append-only: the earlier contact is carried and cannot be changed.
    rows = carried(runtime, case_id, "ips_job_search", "employer_contacts", people.anna)
    assert rows == [{**CONTACT}]
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "ips_job_search",
           {"employer_contacts": [{**CONTACT, "outcome": "job_offer"}], "job_search_next": "continue"}, people.anna)
    assert refused.value.details[0]["kind"] == "x-append-only"
    second = {**CONTACT, "date": "2026-03-06", "employer": "Másik Bt.", "outcome": "interview"}
    do(runtime, case_id, "ips_job_search", {"employer_contacts": rows + [second], "job_search_next": "job_started"},
       people.anna)
    assert data_of(runtime, case_id, people.anna)["first_employer_contact_date"] == "2026-03-05"
    # 4: the job and the support agreed with the employer.
    do(runtime, case_id, "ips_job_start", {"jobs": [JOB]}, people.anna)
    assert data_of(runtime, case_id, people.anna)["ips_phase"] == "follow_along"
    # 5: follow-along has no time limit: it comes back round after round.
    support = {"date": "2026-03-06", "setting": "at_work", "with_whom": "both"}
    do(runtime, case_id, "ips_follow_along", {"support_contacts": [support], "follow_along_next": "continue"},
       people.anna)
    support_rows = carried(runtime, case_id, "ips_follow_along", "support_contacts", people.anna)
    # The job ends: back to job search, the job's end recorded.
    do(runtime, case_id, "ips_follow_along",
       {"support_contacts": support_rows + [{**support, "setting": "outside_work", "with_whom": "client"}],
        "follow_along_next": "job_lost", "job_end_date": "2026-03-06", "job_end_reason": "fixed_term"}, people.anna)
    assert [t.bpmn_id for t in waiting(runtime, case_id)] == ["ips_job_search"]
    assert data_of(runtime, case_id, people.anna)["ips_phase"] == "job_search"
    # A second job: the jobs log keeps the first one.
    rows = carried(runtime, case_id, "ips_job_search", "employer_contacts", people.anna)
    do(runtime, case_id, "ips_job_search", {"employer_contacts": rows, "job_search_next": "job_started"}, people.anna)
    jobs = carried(runtime, case_id, "ips_job_start", "jobs", people.anna)
    do(runtime, case_id, "ips_job_start", {"jobs": jobs + [{**JOB, "employer": "Harmadik Zrt.",
                                                             "job_type": "csomagoló", "start_date": "2026-03-06"}]},
       people.anna)
    support_rows = carried(runtime, case_id, "ips_follow_along", "support_contacts", people.anna)
    # Leaving needs its date and reason.
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "ips_follow_along",
           {"support_contacts": support_rows + [support], "follow_along_next": "leave"}, people.anna)
    assert {e["field"] for e in refused.value.details} == {"exit_date", "exit_reason"}
    do(runtime, case_id, "ips_follow_along",
       {"support_contacts": support_rows + [support], "follow_along_next": "leave", "exit_date": "2026-03-06",
        "exit_reason": "stable_work"}, people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed"
    assert [j["employer"] for j in case["data"]["jobs"]] == ["Példa Kft.", "Harmadik Zrt."]
    assert [s["step"] for s in case["steps_taken"]] == ["1", "2", "3", "3", "3", "4", "5", "5", "3", "4", "5"]


def test_no_employer_contact_30_days_after_entry_flags_the_case_for_the_professional_lead(runtime, people):
    case_id = start_ips(runtime, people.anna)
    do(runtime, case_id, "ips_entry", {**ENTRY, "entry_date": "2026-03-01", "agreement_date": "2026-03-01"},
       people.anna)
    [timer] = [t for t in timer_rows(runtime, case_id, "scheduled")]
    assert (timer.bpmn_id, timer.due_at, timer.purpose) == ("first_contact_due", local("2026-03-31"), "first_contact")
    clock.freeze(local("2026-03-30", 23, 59))
    assert timers.fire_due(runtime, "worker") == 0
    clock.freeze(local("2026-03-31", 0, 1))
    assert timers.fire_due(runtime, "worker") == 1
    # The profile is still open; the lead gets the flag beside it, and the case goes on.
    assert sorted(t.bpmn_id for t in waiting(runtime, case_id)) == ["ips_first_contact_late", "ips_profile"]
    [flag] = [t for t in waiting(runtime, case_id) if t.bpmn_id == "ips_first_contact_late"]
    inbox = tasks.inbox(runtime, people.lea)
    assert flag.id in [i["task_id"] for i in inbox["items"]]
    do(runtime, case_id, "ips_first_contact_late",
       {"late_review_date": "2026-03-31", "late_reason": "A profil még készül.",
        "late_agreed_steps": "Két munkáltatói látogatás a héten."}, people.lea)
    do(runtime, case_id, "ips_profile", {**PROFILE, "profile_date": "2026-03-31"}, people.anna)
    [search] = waiting(runtime, case_id)
    assert search.due_at == end_of_local_day("2026-03-31")
    clock.freeze(local("2026-04-01", 8))
    [item] = [i for i in tasks.inbox(runtime, people.anna)["items"] if i["case_id"] == case_id]
    assert (item["bpmn_id"], item["overdue"]) == ("ips_first_search", True)
    assert len(events(runtime, "timer_fired", case_id)) == 1


def test_a_contact_within_30_days_cancels_the_flag(runtime, people):
    clock.freeze(local("2026-03-04", 10))
    case_id = start_ips(runtime, people.anna)
    do(runtime, case_id, "ips_entry", ENTRY, people.anna)
    do(runtime, case_id, "ips_profile", PROFILE, people.anna)
    do(runtime, case_id, "ips_first_search", {"employer_contacts": [{**CONTACT, "date": "2026-03-02"}],
                                              "job_search_next": "continue"}, people.anna)
    clock.freeze(local("2026-04-02", 10))
    assert timers.fire_due(runtime, "worker") == 0
    assert [t.bpmn_id for t in waiting(runtime, case_id)] == ["ips_job_search"]


def test_a_job_coach_with_more_than_20_clients_is_warned_and_flagged(runtime, people):
    for i in range(20):
        started = start_ips(runtime, people.anna, i)
    assert started
    with runtime.db.reading() as session:
        assert session.query(Case).filter(Case.process_key == "ips").count() == 20
    code = demo_data.run_intake(runtime, people.anna, 20)
    started = cases.start_case(runtime, "ips", people.anna, code)
    [warning] = started["warnings"]
    assert (warning["code"], warning["active"], warning["limit"]) == ("caseload_limit_exceeded", 21, 20)
    [load] = [c for c in caseload.overview(runtime, people.lea) if c["caseload"] == "ips_clients"]
    [anna] = [r for r in load["rows"] if r["username"] == "anna"]
    assert (load["limit"], anna["active"], anna["over"]) == (20, 21, True)
    assert len(events(runtime, caseload.CASELOAD_EXCEEDED)) == 1


@pytest.mark.parametrize(("lang", "coach", "other"), [
    ("hu", "Támogatott foglalkoztatási tanácsadó", "Családgondozó"), ("en", "Job coach", "Caseworker")])
def test_a_step_names_who_is_responsible_as_the_service_calls_the_role(runtime, people, lang, coach, other):
    case_id = start_ips(runtime, people.anna)
    page = browser(make_app(runtime), "anna")
    page.post("/language", {"locale": lang, "next": "/inbox"})
    html = page.get(f"/tasks/{task_of(runtime, case_id, waiting(runtime, case_id)[0].bpmn_id)}").get_data(as_text=True)
    doc = lxml.html.fromstring(html)
    [responsible] = [dd.text_content().strip() for dd in doc.xpath("//dt/following-sibling::dd[1]")
                     if dd.getprevious().text_content().strip() in ("Felelős", "Responsible")]
    assert responsible == coach and other not in responsible
