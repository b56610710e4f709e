"""Browser tests, in Hungarian and English: the lead reads the closure she agrees to, a case with no waiting step
says what it waits for, and a mentor starts a job-retention follow-up from the browser (asked first)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.cases import cases
from tests import demo_data
from tests.integration.helpers import do, new_family_case, task_of, through_agreement


def _english(page):
    page.get_by_test_id("switch-language").click()
    page.wait_for_load_state("domcontentloaded")


def test_the_lead_reads_the_closure_she_agrees_to(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = demo_data.run_family_care(rt, people.anna, people.lea, code, stop_at="3.8 agree")
    agree = task_of(rt, case_id, "agree_closure_success")
    login(page, "lea")
    page.goto(f"/tasks/{agree}")
    review = page.get_by_test_id("review")
    expect(review.first).to_contain_text("A lezárás, amelyről dönt")
    expect(page.get_by_test_id("review-closure_date")).to_have_text("2026.06.30")
    expect(page.get_by_test_id("review-closure_reason")).to_contain_text("sikeres együttműködés")
    expect(page.get_by_test_id("review-client_code")).to_have_text(code)
    expect(page.get_by_test_id("review-caseworker")).to_have_text("Anna")
    expect(page.get_by_test_id("review-problem_types")).to_contain_text("anyagi")
    expect(page.get_by_test_id("review-meetings")).to_contain_text("2026.02")
    shot(page, "roles-01-agreement-review-hu")
    _english(page)
    expect(page.get_by_test_id("review-closure_date")).to_have_text("2026-06-30")
    expect(page.get_by_test_id("review-closure_reason")).to_contain_text("successful cooperation")
    expect(review.last).to_contain_text("The case")
    shot(page, "roles-02-agreement-review-en")


def test_a_case_waiting_for_follow_up_says_for_what_and_when(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    case_id = new_family_case(rt, people)
    through_agreement(rt, people, case_id)
    do(rt, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    do(rt, case_id, "step_3_6", demo_data.review_data(True), people.anna)
    do(rt, case_id, "step_3_8", {**demo_data.closure_data(True), "follow_up_months": 2}, people.anna)
    do(rt, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    waits = page.get_by_test_id("case-waits")
    # Beside the step for an extra contact or ending (always there in follow-up), the next scheduled contact.
    expect(page.get_by_test_id("current-step")).to_contain_text("3.10")
    expect(waits).to_contain_text("Következő ütemezett esemény")
    expect(waits).to_contain_text(re.compile(r"utánkövetés, \d{4}\.\d{2}\.\d{2}"))
    shot(page, "roles-03-case-waits-hu")
    _english(page)
    expect(waits).to_contain_text("Scheduled next")
    expect(waits).to_contain_text(re.compile(r"follow-up contact 1 on \d{4}-\d{2}-\d{2}"))
    shot(page, "roles-04-case-waits-en")


def test_a_mentor_starts_a_job_retention_follow_up_from_the_browser(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    login(page, "anna")
    page.goto("/cases")
    page.get_by_test_id("start-job-retention").click()
    expect(page.get_by_test_id("start-case")).to_contain_text("Új eset indítása")
    shot(page, "roles-05-start-job-retention-hu")
    page.get_by_test_id("cancel-start").click()  # a misclick: nothing started
    page.wait_for_url("**/cases")
    assert not [c for c in cases.list_cases(rt, people.anna) if c["process_key"] == "job_retention"]
    _english(page)
    page.get_by_test_id("start-job-retention").click()
    expect(page.get_by_test_id("start-case")).to_contain_text("Start a new case")
    page.fill("#client-code", code)
    shot(page, "roles-06-start-job-retention-en")
    page.get_by_test_id("start-confirm").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("client-code")).to_have_text(code)
    assert [c for c in cases.list_cases(rt, people.anna) if c["process_key"] == "job_retention"]
