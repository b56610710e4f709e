"""Family care to its standard, in a real browser: the regular review (3.6) on its day. Screenshots go to
test-artifacts/ (docs/processes.md, "Decision: the flow of process 3")."""
from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from engine.cases import cases
from engine.sandbox import calendar_helpers
from engine.store import clock
from engine.timers import timers
from tests import demo_data
from tests.integration.helpers import do, new_family_case


def _local(day: str, hour: int = 0) -> dt.datetime:
    return calendar_helpers.start_of_day(dt.date.fromisoformat(day)) + dt.timedelta(hours=hour)


def _complete(page):
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def _evaluate(page) -> None:
    for field, value in demo_data.evaluation_data().items():
        page.fill(f"#f-{field}", value)


def _agreed(live_server, frequency: str = "monthly") -> int:
    rt, people = live_server.runtime, live_server.people
    case_id = new_family_case(rt, people)
    do(rt, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(rt, case_id, "step_3_2", {"agreement_date": "2026-02-20", "review_frequency": frequency}, people.anna)
    return case_id


def test_the_review_comes_on_its_day_and_records_the_payments_checked(page, live_server, login, shot):
    case_id = _agreed(live_server)
    clock.freeze(_local("2026-03-20", 8))  # the agreement of 20 February, monthly: the first review is due
    assert timers.fire_due(live_server.runtime, "w") == 1
    login(page, "anna")
    row = page.locator(f"[data-testid=inbox-table] tbody tr:has(a[href='/cases/{case_id}'])")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3.6")
    expect(row).to_contain_text("2026.03.20")  # due today
    shot(page, "family-3.6-review-in-inbox")
    row.locator("[data-testid^=open-task-]").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.6")
    page.fill("#f-review_date", "2026.03.20")
    page.select_option("#f-review_checks-0-kind", "monthly_payment")
    page.fill("#f-review_checks-0-name", "Lakbér")
    page.fill("#f-review_checks-0-month", "2026.03")
    page.check("#f-review_checks-0-shown-true")
    page.fill("#f-review_checks-0-amount", "45000")
    page.locator("#w-review_checks > .add-row [data-add-row]").click()
    page.select_option("#f-review_checks-1-kind", "own_contribution")
    page.fill("#f-review_checks-1-name", "Adósságkezelési önrész")
    page.fill("#f-review_checks-1-month", "2026.03")
    page.check("#f-review_checks-1-shown-false")
    expect(page.locator("#w-goal_reached")).to_be_hidden()
    page.check("#f-commitments_met-true")
    expect(page.locator("#w-goal_reached")).to_be_visible()  # a yes asks whether the case can be closed
    page.check("#f-goal_reached-false")
    shot(page, "family-3.6-review-form")
    _complete(page)
    assert not page.js_errors, page.js_errors

    # Casework goes on; the next review is on the agenda, a month after this one.
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_test_id("current-step")).to_contain_text("3.3")
    page.goto("/agenda?weeks=8")
    expect(page.get_by_test_id("agenda-item").filter(has_text="2. felülvizsgálat (3.6)")).to_contain_text(
        "2026.04.20")
    shot(page, "family-3.6-next-review-on-agenda")


def test_follow_up_as_agreed_with_an_extra_contact_and_an_early_end(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    case_id = _agreed(live_server)
    do(rt, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    do(rt, case_id, "step_3_6", demo_data.review_data(True), people.anna)
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.8")
    _evaluate(page)
    page.fill("#f-closure_date", "2026.03.02")
    page.select_option("#f-closure_reason", "successful")
    page.check("#f-follow_up-true")
    expect(page.locator("#f-follow_up_months")).to_have_value("6")  # the default offered, not a limit
    page.fill("#f-follow_up_agreement", "Havonta egy kapcsolat egy évig, szükség esetén soron kívül is.")
    page.select_option("#f-follow_up_frequency", "monthly")
    page.fill("#f-follow_up_months", "12")
    shot(page, "family-3.8-follow-up-a-year")
    _complete(page)
    do(rt, case_id, "agree_closure_success", {"closure_agreed": True, "closure_agreement_note": "Rendben."},
       people.lea)

    # The extra contact: recorded when needed, between the scheduled ones.
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_test_id("case-waits")).to_contain_text("2026.04.02")  # the first of twelve
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("task-name")).to_contain_text("soron kívüli alkalom vagy befejezés")
    page.check("input[name=follow_up_action][value=contact]")
    expect(page.locator("#w-follow_up_end_reason")).to_be_hidden()
    page.locator("#w-follow_up_contacts > .add-row [data-add-row]").click()
    page.fill("#f-follow_up_contacts-0-date", "2026.03.02")
    page.fill("#f-follow_up_contacts-0-state_found", "Telefonon jelezték: új közüzemi tartozás; tanácsadás.")
    shot(page, "family-3.10-extra-contact")
    _complete(page)

    # Ending early, with a reason: the case closes, the contacts still to come are cancelled.
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("#r-follow_up_contacts-0[data-carried-row]")).to_contain_text("közüzemi tartozás")
    page.check("input[name=follow_up_action][value=end]")
    expect(page.locator("#w-follow_up_end_reason")).to_be_visible()
    page.fill("#f-follow_up_end_date", "2026.03.02")
    page.fill("#f-follow_up_end_reason", "A tartozás rendezve, a család nem kér több kapcsolatot.")
    shot(page, "family-3.10-end-early")
    _complete(page)
    assert not page.js_errors, page.js_errors
    page.goto(f"/cases/{case_id}")
    shot(page, "family-3.10-case-closed")
    expect(page.get_by_test_id("current-step")).to_have_count(0)
    assert cases.get_case(rt, case_id, people.anna)["status"] == "completed"


def test_a_referral_at_closure_starts_job_retention_for_the_same_client(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    case_id = _agreed(live_server)
    do(rt, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    do(rt, case_id, "step_3_6", demo_data.review_data(True), people.anna)
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    _evaluate(page)
    page.fill("#f-closure_date", "2026.03.02")
    page.select_option("#f-closure_reason", "successful")
    expect(page.locator("#w-referral_to")).to_be_hidden()
    page.select_option("#f-closure_reason", "referred_service")  # a referral asks where to and why
    expect(page.locator("#w-referral_to")).to_be_visible()
    expect(page.locator("#w-referral_start_case")).to_be_visible()
    page.fill("#f-referral_to", "Munkahelymegtartást segítő szolgáltatás")
    page.fill("#f-referral_reason", "Elhelyezkedett raktárosként; a munkahely megtartásához kér segítséget.")
    page.select_option("#f-referral_start_case", "job_retention")
    page.check("#f-follow_up-false")
    shot(page, "family-3.8-referral")
    _complete(page)
    expect(page.locator(".flash").first).to_contain_text("Kapcsolódó eset indult ugyanennek a kliensnek")
    assert not page.js_errors, page.js_errors

    family = cases.get_case(rt, case_id, people.anna)
    (link,) = family["links"]
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_test_id("linked-case")).to_contain_text(f"{link['case_id']}. számú eset")
    expect(page.get_by_test_id("linked-case")).to_contain_text("3.8 lépésében indult")
    shot(page, "family-case-linked")
    page.get_by_test_id("linked-case").get_by_role("link").click()
    page.wait_for_url(f"**/cases/{link['case_id']}")
    expect(page.get_by_test_id("client-code")).to_have_text(family["client"]["client_code"])
    expect(page.get_by_test_id("linked-case")).to_contain_text(f"{case_id}. számú eset")
    expect(page.get_by_test_id("current-step")).to_contain_text("3")
    shot(page, "job-retention-case-linked-back")


def test_a_case_conference_records_who_does_what_and_casework_sees_the_due_dates(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    case_id = _agreed(live_server)
    do(rt, case_id, "step_3_3", {"casework_next": "case_conference"}, people.anna)
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.5")
    page.fill("#f-conference_date", "2026.02.27")
    page.fill("#f-invitation_date", "2026.02.20")
    page.fill("#f-invitation_registry_number", "CS-123/2026")
    page.fill("#f-conference_participants-0-name", "Kovács János")
    page.select_option("#f-conference_participants-0-kind", "family_member")
    expect(page.locator("#w-conference_participants-0-organisation")).to_be_hidden()
    page.check("#f-conference_participants-0-invited-true")
    page.check("#f-conference_participants-0-attended-true")
    page.locator("#w-conference_participants > .add-row [data-add-row]").click()
    page.fill("#f-conference_participants-1-name", "Szabó Ilona")
    page.select_option("#f-conference_participants-1-kind", "professional")
    expect(page.locator("#w-conference_participants-1-organisation")).to_be_visible()  # with her organisation
    page.fill("#f-conference_participants-1-organisation", "Petőfi Általános Iskola")
    page.check("#f-conference_participants-1-invited-true")
    page.check("#f-conference_participants-1-attended-false")
    page.fill("#f-conference_tasks-0-participant", "Kovács János")
    page.fill("#f-conference_tasks-0-task", "Havi költségvetés vezetése, a csekkek megőrzése.")
    page.fill("#f-conference_tasks-0-due_date", "2026.03.31")
    page.locator("#w-conference_involvements > .add-row [data-add-row]").click()
    page.fill("#f-conference_involvements-0-name", "Adósságkezelési tanácsadó")
    page.select_option("#f-conference_involvements-0-kind", "professional")
    page.fill("#f-conference_involvements-0-reason", "A lakbérhátralék részletfizetésének megtervezése.")
    page.fill("#f-actions-0-date", "2026.02.27")
    page.fill("#f-actions-0-log", "Esetkonferencia az iskolával.")
    shot(page, "family-3.5-case-conference")
    _complete(page)
    assert not page.js_errors, page.js_errors

    # Back at casework: the task taken on, with its due date, read-only above the form.
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.3")
    carried = page.locator("#r-conference_tasks-0[data-carried-row]")
    expect(carried).to_contain_text("Havi költségvetés vezetése")
    expect(carried).to_contain_text("2026.03.31")
    shot(page, "family-3.3-sees-conference-tasks")


def test_the_closure_evaluates_first_and_the_lead_sees_the_evaluation(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    case_id = _agreed(live_server)
    do(rt, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    do(rt, case_id, "step_3_6", demo_data.review_data(True), people.anna)
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    review = page.get_by_test_id("review")  # what is evaluated: the plan, the agreement, the payments checked
    expect(review).to_contain_text("Adósságkezelési tanácsadás")
    expect(review).to_contain_text("Lakbér")
    page.fill("#f-closure_date", "2026.03.02")
    page.select_option("#f-closure_reason", "successful")
    page.check("#f-follow_up-false")
    _complete(page)  # without the evaluation: refused, naming the three fields
    expect(page.locator("#w-results_evaluation .field-errors")).to_be_visible()
    expect(page.locator("#w-changes_recorded .field-errors")).to_be_visible()
    _evaluate(page)
    shot(page, "family-3.8-evaluation")
    _complete(page)
    page.get_by_test_id("logout").click()
    login(page, "lea")
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-], [data-testid^=claim-]").first.click()
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("review").first).to_contain_text(demo_data.evaluation_data()["results_evaluation"])
    shot(page, "family-3.8-lead-sees-evaluation")
