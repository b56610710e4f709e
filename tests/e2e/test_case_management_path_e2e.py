"""Case management's main path (seed 001) driven entirely in a real browser, in each language: the entry with the
consent statement, the assessment with the individual plan's goals and actions, a meeting writing the case log and
the service log, the plan review, and the professional lead certifying the log. Every page is checked to speak the
chosen language only, and what an earlier step recorded to be shown on the later pages. Screenshots go to
test-artifacts/."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from engine.cases import cases
from engine.store import clock
from tests import demo_data
from tests.integration.helpers import task_of

TODAY = dt.datetime(2026, 3, 18, 9, 0, tzinfo=dt.timezone.utc)
GOAL, SUB_GOAL, ACTION = "Elhelyezkedés a kereskedelemben", "Álláskeresési tréning", "Jelentkezés a tréningre"
ACTIVITY, EVENT, PROGRESS = "Önéletrajz közös megírása.", "Konzultáció: önéletrajz.", "A terv szerint halad."
REVIEW_NOTE, REMARK = "A tréninget elvégezte.", "Rendben, hitelesítve."


def _day(lang: str, iso: str) -> str:
    return iso.replace("-", ".") if lang == "hu" else iso


def _language(page, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        page.click("[data-testid=switch-language]")
        page.wait_for_load_state()


def _speaks(page, lang: str, hu: str, en: str) -> None:
    """The page says the chosen language's text and not the other's."""
    expect(page.locator("html")).to_have_attribute("lang", lang)
    body = page.locator("body")
    expect(body).to_contain_text(hu if lang == "hu" else en)
    expect(body).not_to_contain_text(en if lang == "hu" else hu)


def _row(page, field: str, i: int, probe: str) -> None:
    """Row i of a repeated block: a form may open with an empty first row; otherwise one is added."""
    if page.locator(f"#f-{field}-{i}-{probe}").count() == 0:
        page.locator(f"#w-{field} > .add-row [data-add-row]").click()
    expect(page.locator(f"#f-{field}-{i}-{probe}")).to_be_visible()


def _complete(page) -> None:
    # The POST answers with a redirect once the step is done; a rejected form would come back with its errors.
    with page.expect_navigation():
        page.get_by_test_id("complete").click()
    expect(page.locator(".flash-error, .error-summary, .has-error")).to_have_count(0)


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_case_management_main_path_in_the_browser(page, live_server, login, shot, lang):
    clock.freeze(TODAY)
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = cases.start_case(rt, "case_management", people.anna, code)["case_id"]
    login(page, "anna")
    _language(page, lang)

    # 3: the way of entry and the consent statement, before any personal data.
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_entry')}")
    _speaks(page, lang, "Bevonás", "Entry")
    page.select_option("#f-entry_route", "labour_office")
    page.fill("#f-referring_organisation", "Debreceni Járási Hivatal")
    page.fill("#f-entry_date", _day(lang, "2026-03-02"))
    page.check("#f-consent_given-true")
    page.fill("#f-consent_date", _day(lang, "2026-03-02"))
    shot(page, f"cm-path-1-entry-{lang}")
    _complete(page)

    # 4.2: basic data and the individual plan with a goal, a sub-goal and an action.
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_assessment')}")
    _speaks(page, lang, "Célok, részcélok és intézkedések", "Goals, sub-goals and actions")
    page.select_option("#f-sex", "female")
    page.select_option("#f-education", "primary")
    page.select_option("#f-qualification", "none")
    page.select_option("#f-prior_status", "registered_jobseeker")
    page.check("input[name=target_groups][value=low_education]")
    page.select_option("#f-plan_kind", "cooperation_agreement")
    page.fill("#f-plan_author", "Járási Hivatal, Nagy Katalin")
    page.fill("#f-commissioner", "Megyei Kormányhivatal")
    page.fill("#f-plan_date", _day(lang, "2026-02-20"))
    page.fill("#f-plan_end", _day(lang, "2026-08-31"))
    for i, (no, text, kind) in enumerate((("1", GOAL, "employment"), ("1.1", SUB_GOAL, "service"))):
        _row(page, "plan_goals", i, "goal_no")
        page.fill(f"#f-plan_goals-{i}-goal_no", no)
        page.fill(f"#f-plan_goals-{i}-goal", text)
        page.select_option(f"#f-plan_goals-{i}-goal_type", kind)
        page.fill(f"#f-plan_goals-{i}-set_on", _day(lang, "2026-03-03"))
    _row(page, "plan_actions", 0, "action_no")
    page.fill("#f-plan_actions-0-action_no", "1")
    page.fill("#f-plan_actions-0-goal_no", "1.1")
    page.fill("#f-plan_actions-0-action", ACTION)
    page.select_option("#f-plan_actions-0-action_kind", "labour_market_service")
    page.fill("#f-plan_actions-0-planned_date", _day(lang, "2026-03-10"))
    page.check("#f-goal_training_entry-false")
    page.check("#f-goal_training_completion-false")
    page.check("#f-goal_employment-true")
    shot(page, f"cm-path-2-assessment-{lang}")
    _complete(page)

    # 5: a meeting writes the case log and the service log; the plan recorded above is shown for reference.
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_meeting')}")
    _speaks(page, lang, "Esetnapló", "Case log")
    _row(page, "case_log", 0, "date")
    page.fill("#f-case_log-0-date", _day(lang, "2026-03-10"))
    page.fill("#f-case_log-0-duration_minutes", "60")
    page.select_option("#f-case_log-0-contact", "personal")
    page.fill("#f-case_log-0-activities", ACTIVITY)
    page.fill("#f-case_log-0-case_manager_assessment", "Motivált, aktív.")
    page.fill("#f-case_log-0-client_assessment", "Hasznosnak érezte.")
    page.check("#f-case_log-0-case_manager_signed-true")
    page.check("#f-case_log-0-client_signed-true")
    page.fill("#f-case_log-0-client_signed_on", _day(lang, "2026-03-10"))
    _row(page, "service_log", 0, "date")
    page.fill("#f-service_log-0-date", _day(lang, "2026-03-10"))
    page.fill("#f-service_log-0-event", EVENT)
    page.fill("#f-service_log-0-progress", PROGRESS)
    page.check("input[name=next_step][value=plan_review]")
    shot(page, f"cm-path-3-meeting-{lang}")
    _complete(page)

    # 5.4: the plan review; the goals and the action set at the assessment are still shown.
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_plan_review')}")
    _speaks(page, lang, "Felülvizsgálat", "Review")
    for text in (GOAL, SUB_GOAL, ACTION):
        expect(page.locator("body")).to_contain_text(text)
    page.fill("#f-review_date", _day(lang, "2026-03-16"))
    _row(page, "goal_progress", 0, "goal_no")
    page.fill("#f-goal_progress-0-goal_no", "1.1")
    page.select_option("#f-goal_progress-0-status", "reached")
    page.fill("#f-goal_progress-0-note", REVIEW_NOTE)
    page.check("#f-goal_training_entry-false")
    page.check("#f-goal_training_completion-false")
    page.check("#f-goal_employment-true")
    page.fill("#f-feedback_date", _day(lang, "2026-03-16"))
    page.fill("#f-feedback_summary", "A részcél teljesült, tovább az elhelyezkedésre.")
    shot(page, f"cm-path-4-plan-review-{lang}")
    _complete(page)

    # 8.2: the professional lead sees the case log, the service log and the review, and certifies.
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login**")
    login(page, "lea")
    _language(page, lang)
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_log_certification')}")
    _speaks(page, lang, "Hitelesítés", "Certification")
    _speaks(page, lang, "elérte", "reached")  # the review's recorded status, worded in the page's language
    for text in (ACTIVITY, EVENT, PROGRESS, REVIEW_NOTE):
        expect(page.locator("body")).to_contain_text(text)
    page.check("#f-certified-true")
    page.fill("#f-certified_on", _day(lang, "2026-03-17"))
    page.fill("#f-certification_remarks", REMARK)
    shot(page, f"cm-path-5-certification-{lang}")
    _complete(page)

    # Back to the case manager: the next meeting carries the earlier rows, who wrote them and when.
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login**")
    login(page, "anna")
    _language(page, lang)
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_meeting')}")
    _speaks(page, lang, "Szolgáltatási napló", "Service log")
    for text in (ACTIVITY, EVENT, PROGRESS):
        expect(page.locator("body")).to_contain_text(text)
    shot(page, f"cm-path-6-next-meeting-{lang}")

    data = cases.get_case(rt, case_id, people.anna)["data"]
    assert data["consent_given"] is True and data["certified"] is True
    assert [g["goal"] for g in data["plan_goals"]] == [GOAL, SUB_GOAL]
    assert data["plan_actions"][0]["action"] == ACTION
    assert [r["activities"] for r in data["case_log"]] == [ACTIVITY]
    assert [r["event"] for r in data["service_log"]] == [EVENT]
    assert data["goal_progress"][0]["note"] == REVIEW_NOTE
    assert page.js_errors == []
