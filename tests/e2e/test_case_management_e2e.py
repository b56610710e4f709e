"""Case management (seed 001) in a real browser, in both languages: the entry with the consent statement, a
meeting's case log over the weekly time warned and shown on the caseload page, and the anonymous satisfaction
survey at the close (no draft; the answers read in aggregate only). Screenshots go to test-artifacts/."""
from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from engine.cases import cases, tasks
from engine.store import clock
from tests import case_management_data as cm
from tests import demo_data
from tests.integration.helpers import do, task_of

TODAY = dt.datetime(2026, 3, 18, 9, 0, tzinfo=dt.timezone.utc)


def _complete(page):
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def _language(page, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        page.click("[data-testid=switch-language]")
        page.wait_for_load_state()


def test_the_main_path_in_both_languages(page, live_server, login, shot):
    clock.freeze(TODAY)
    rt, people = live_server.runtime, live_server.people
    login(page, "anna")
    for i, (lang, day) in enumerate((("hu", "2026.03.02"), ("en", "2026-03-02"))):
        code = demo_data.run_intake(rt, people.anna, i)
        case_id = cases.start_case(rt, "case_management", people.anna, code)["case_id"]
        _language(page, lang)
        # 3: the way of entry and the consent statement, before any personal data.
        page.goto(f"/tasks/{task_of(rt, case_id, 'cm_entry')}")
        page.select_option("#f-entry_route", "labour_office")
        page.fill("#f-referring_organisation", "Debreceni Járási Hivatal")
        page.fill("#f-entry_date", day)
        page.check("#f-consent_given-true")
        page.fill("#f-consent_date", day)
        shot(page, f"case-management-entry-{lang}")
        _complete(page)
        assert cases.get_case(rt, case_id, people.anna)["data"]["consent_given"] is True
        do(rt, case_id, "cm_assessment", cm.assessment(), people.anna)
        # 5: a meeting of 70 minutes on Monday, recorded by the engine; then 60 more on Wednesday in the browser.
        do(rt, case_id, "cm_meeting", cm.meeting({}, "2026-03-16", minutes=70), people.anna)
        page.goto(f"/tasks/{task_of(rt, case_id, 'cm_meeting')}")
        expect(page.locator("body")).to_contain_text("anna")  # the carried row: who recorded it, and when
        data = cm.meeting({}, "2026-03-18", minutes=60)
        row, service = data["case_log"][0], data["service_log"][0]
        day2 = "2026.03.18" if lang == "hu" else "2026-03-18"
        page.locator("#w-case_log > .add-row [data-add-row]").click()
        page.fill("#f-case_log-1-date", day2)
        page.fill("#f-case_log-1-duration_minutes", "60")
        page.select_option("#f-case_log-1-contact", "personal")
        for field in ("activities", "case_manager_assessment", "client_assessment"):
            page.fill(f"#f-case_log-1-{field}", row[field])
        page.check("#f-case_log-1-case_manager_signed-true")
        page.check("#f-case_log-1-client_signed-true")
        page.fill("#f-case_log-1-client_signed_on", day2)
        page.locator("#w-service_log > .add-row [data-add-row]").click()
        page.fill("#f-service_log-1-date", day2)
        page.fill("#f-service_log-1-event", service["event"])
        page.fill("#f-service_log-1-progress", service["progress"])
        page.check("input[name=next_step][value=closure]")
        shot(page, f"case-management-meeting-{lang}")
        _complete(page)
        # The weekly time warned (70 + 60 minutes), worded in the page's language only.
        warning = page.locator(".flash-warning")
        expect(warning).to_contain_text("130 perc" if lang == "hu" else "130 minutes")
        expect(warning).not_to_contain_text("minutes" if lang == "hu" else "perc")
        shot(page, f"case-management-time-warning-{lang}")
        do(rt, case_id, "cm_closure", cm.closure({}, "2026-03-18"), people.anna)
        # 8.1: the anonymous survey: said so, no draft button, nothing of it kept with the case.
        page.goto(f"/tasks/{task_of(rt, case_id, 'cm_satisfaction')}")
        expect(page.get_by_test_id("anonymous-note")).to_be_visible()
        expect(page.get_by_test_id("save-draft")).to_have_count(0)
        page.fill("#f-overall", "5")
        page.fill("#f-case_manager_help", "4")
        page.fill("#f-plan_progress", "4")
        page.check("#f-would_recommend-true")
        shot(page, f"case-management-survey-{lang}")
        _complete(page)
        case = cases.get_case(rt, case_id, people.anna)
        assert case["status"] == "completed" and "overall" not in case["data"]
    # A running case over the weekly time (closed cases leave the caseload): the manager sees its client's code.
    running = cases.start_case(rt, "case_management", people.anna, demo_data.run_intake(rt, people.anna, 2))
    do(rt, running["case_id"], "cm_entry", cm.entry(day="2026-03-02"), people.anna)
    do(rt, running["case_id"], "cm_assessment", cm.assessment(), people.anna)
    do(rt, running["case_id"], "cm_meeting", cm.meeting({}, "2026-03-16", minutes=90), people.anna)
    shown = tasks.get_task(rt, task_of(rt, running["case_id"], "cm_meeting"), people.anna)["carried"]
    do(rt, running["case_id"], "cm_meeting", cm.meeting({f: [e["row"] for e in rows] for f, rows in shown.items()},
                                                         "2026-03-17", minutes=45), people.anna)
    # The manager: the caseload page shows the client over the weekly time; the survey in aggregate only.
    page.context.clear_cookies()
    login(page, "mark")
    for lang in ("hu", "en"):
        _language(page, lang)
        page.goto("/caseload")
        expect(page.get_by_test_id("over-time-anna")).to_contain_text("135")
        shot(page, f"case-management-caseload-{lang}")
        page.goto("/questionnaires/case_management/satisfaction?from=2026-01-01&to=2026-03-31")
        expect(page.get_by_test_id("answer-count")).to_contain_text("2")
        expect(page.get_by_test_id("withheld")).to_be_visible()  # 2 answers, fewer than 3: no figures
        shot(page, f"case-management-survey-figures-{lang}")
    assert page.js_errors == []
