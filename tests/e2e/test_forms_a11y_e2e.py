"""The form layer and the agenda in a real browser, in Hungarian and English: the app's own calendar beside a
date box (typed dates still work), the warning before leaving a changed form (not after a draft save), errors
in repeated rows naming the row, and the agenda's calendar link with copy and reset.
Screenshots go to test-artifacts/ (40-… to 49-…).
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.cases import cases, tasks
from tests import demo_data
from tests.e2e.conftest import ARTIFACTS
from tests.integration.helpers import task_of


def _view(page, name: str) -> None:
    """The visible part only (a task form's full page is very long): where the calendar is open."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _english(page):
    page.get_by_test_id("switch-language").first.click()
    page.wait_for_load_state("domcontentloaded")


def _assessment_task(live_server) -> int:
    rt, anna = live_server.runtime, live_server.people.anna
    code = demo_data.run_intake(rt, anna, 0)
    case_id = cases.start_case(rt, "family_care", anna, code)["case_id"]
    return task_of(rt, case_id, "step_3_1")


def test_the_date_box_has_the_apps_own_calendar_in_both_languages(page, live_server, login, shot):
    task_id = _assessment_task(live_server)
    login(page, "anna")
    page.goto(f"/tasks/{task_id}")
    assert page.locator("input[type=date]").count() == 0
    box = page.locator("#f-taken_into_care_date")
    expect(box).to_have_attribute("placeholder", "ÉÉÉÉ.HH.NN")
    box.fill("2026.03.02")
    button = page.locator("#w-taken_into_care_date [data-date-button]")
    expect(button).to_have_accessible_name(re.compile("Dátum választása naptárból: .*Gondozásba vétel dátuma"))
    button.click()
    picker = page.get_by_role("dialog")
    expect(picker).to_be_visible()
    expect(picker.locator(".date-picker-title")).to_have_text(re.compile("2026. március"))
    expect(picker.locator("[data-day='2026.03.02']")).to_be_focused()
    _view(page, "40-date-picker-hu")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")  # a week later: the 10th
    page.keyboard.press("Enter")
    expect(box).to_have_value("2026.03.10")
    expect(picker).to_have_count(0)
    expect(box).to_be_focused()
    # Escape closes and gives the focus back to the button; typing still works and is tidied.
    button.click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(button).to_be_focused()
    box.fill("2026-3-5")
    box.press("Tab")
    expect(box).to_have_value("2026.03.05")

    _english(page)
    box = page.locator("#f-taken_into_care_date")
    expect(box).to_have_attribute("placeholder", "YYYY-MM-DD")
    box.fill("2026-03-02")
    page.locator("#w-taken_into_care_date [data-date-button]").click()
    picker = page.get_by_role("dialog")
    expect(picker.locator(".date-picker-title")).to_have_text(re.compile("March 2026"))
    picker.get_by_role("button", name="Previous month").click()
    expect(picker.locator(".date-picker-title")).to_have_text(re.compile("February 2026"))
    _view(page, "41-date-picker-en")
    picker.locator("[data-day='2026-02-10']").click()
    expect(box).to_have_value("2026-02-10")
    assert page.js_errors == []


def test_report_filters_use_the_same_date_box(page, live_server, login, shot):
    login(page, "mark")
    page.goto("/reports/family_care?from=2026-01-01&to=2026-03-02")
    assert page.locator("input[type=date]").count() == 0
    expect(page.locator("#r-from")).to_have_value("2026.01.01")
    page.locator("#r-from + [data-date-button]").click()
    expect(page.get_by_role("dialog").locator(".date-picker-title")).to_have_text(re.compile("2026. január"))
    _view(page, "42-report-filter-date-hu")
    page.get_by_role("dialog").locator("[data-day='2026.01.15']").click()
    page.get_by_test_id("run-report").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("#r-from")).to_have_value("2026.01.15")
    _english(page)
    expect(page.locator("#r-from")).to_have_value("2026-01-15")
    assert page.js_errors == []


def test_leaving_a_changed_form_asks_first_but_not_after_a_draft_is_saved(page, live_server, login, shot):
    task_id = _assessment_task(live_server)
    login(page, "anna")
    asked: list[str] = []

    def on_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"/tasks/{task_id}")
    here = page.url
    # Unchanged: leaving does not ask.
    page.locator(".site-nav a[href$='/cases']").click()
    page.wait_for_load_state("domcontentloaded")
    assert asked == [] and page.url != here
    page.goto(f"/tasks/{task_id}")
    page.locator("#f-presented_problem").click()
    page.keyboard.type("Lakhatási gond, hátralék.")
    page.locator(".site-nav a[href$='/cases']").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and page.url == here  # stayed: the typing is still there
    expect(page.locator("#f-presented_problem")).to_have_value(re.compile("hátralék"))
    page.get_by_test_id("save-draft").click()
    page.wait_for_load_state("domcontentloaded")
    page.locator(".site-nav a[href$='/cases']").click()
    page.wait_for_load_state("domcontentloaded")
    assert asked == ["beforeunload"] and "/cases" in page.url


def _draft_with_a_bad_income_row(live_server) -> int:
    task_id = _assessment_task(live_server)
    data = demo_data.assessment_data()
    data["household_size"] = 2
    data["taken_into_care_date"] = "2026-03-02"
    data["household_members"] = [{
        "name": "Kovács János", "kinship": "spouse", "residence_status": "tenant", "income_types": ["work"],
        "work_incomes": [{"kind": "wage", "amount": 180000}, {"kind": "wage", "amount": -5}]}]
    tasks.save_draft(live_server.runtime, task_id, data, live_server.people.anna)
    return task_id


def test_an_error_in_a_repeated_row_names_the_row_in_both_languages(page, live_server, login, shot):
    task_id = _draft_with_a_bad_income_row(live_server)
    login(page, "anna")
    page.goto(f"/tasks/{task_id}")
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("1. egy lakásban élő személy, 2. munkajövedelem sor: ")
    expect(page.locator("#w-household_members-0-work_incomes-1-amount .field-errors")).to_contain_text(
        "1. egy lakásban élő személy, 2. munkajövedelem sor: ")
    _view(page, "43-row-named-error-hu")
    _english(page)
    page.goto(f"/tasks/{task_id}")
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("#error-summary")).to_contain_text("1st person living in the dwelling, 2nd work income row: ")
    summary_link = page.locator("#error-summary a", has_text="2nd work income row")
    summary_link.click()
    expect(page.locator("#w-household_members-0-work_incomes-1-amount .field-errors")).to_be_in_viewport()
    _view(page, "44-row-named-error-en")


def test_the_agenda_shows_the_calendar_link_with_copy_and_reset(page, live_server, login, shot):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, "anna")
    page.goto("/agenda")
    link = page.get_by_test_id("feed-url")
    url = link.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/calendar/[A-Za-z0-9_-]+\.ics", url)
    page.get_by_test_id("copy-feed").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Kimásolva")
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert page.request.get(url).status == 200
    shot(page, "45-agenda-feed-hu")

    page.once("dialog", lambda dialog: dialog.accept())  # "make a new link?" is asked first
    page.get_by_test_id("new-feed").click()
    page.wait_for_load_state("domcontentloaded")
    new = page.get_by_test_id("feed-url").input_value()
    assert new != url
    assert page.request.get(url).status == 404 and page.request.get(new).status == 200
    expect(page.locator(".flash, [role=status], .alert").first).to_be_visible()
    shot(page, "46-agenda-feed-reset-hu")

    _english(page)
    page.goto("/agenda")
    expect(page.get_by_test_id("calendar-feed")).to_contain_text("Your calendar link")
    page.get_by_test_id("copy-feed").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied")
    assert page.get_by_test_id("feed-url").input_value() == new
    # Declining the question keeps the link.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id("new-feed").click()
    page.wait_for_timeout(300)
    assert page.get_by_test_id("feed-url").input_value() == new
    shot(page, "47-agenda-feed-en")
    assert page.js_errors == []


def test_a_conditionally_required_field_is_required_only_while_it_applies(page, live_server, login):
    task_id = _assessment_task(live_server)
    login(page, "anna")
    page.goto(f"/tasks/{task_id}")
    date = page.locator("#f-taken_into_care_date")
    expect(date).to_have_attribute("aria-required", "true")
    other_text = page.locator("#f-problem_types_other")
    other_box = page.locator("input[name=problem_types][value=other]")
    if other_box.is_checked():
        other_box.uncheck()
    expect(other_text).not_to_have_attribute("aria-required", "true")
    assert other_text.evaluate("el => el.required") is False
    other_box.check()
    expect(other_text).to_have_attribute("aria-required", "true")
    assert other_text.evaluate("el => el.required") is True
    other_box.uncheck()
    expect(other_text).not_to_have_attribute("aria-required", "true")
    assert page.js_errors == []
