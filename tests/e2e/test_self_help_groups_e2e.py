"""Self-help groups (seed 002) in a real browser, in Hungarian and in English: a group composed with its members,
a start questionnaire answered anonymously, the first meeting on its day with the attendance sheet (a meeting over
four hours refused), the members on the case page, a member leaving with the day-180 follow-up started, and the
monitoring report. Screenshots go to test-artifacts/ (docs/processes.md, "Self-help groups")."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from engine.cases import cases, tasks
from engine.sandbox import calendar_helpers
from engine.store import clock
from engine.timers import timers
from tests import demo_data
from tests.integration.helpers import waiting

TEXTS = {
    "hu": {"setup": "A–B A csoport összeállítása", "first": "Első összejövetel", "members": "Tagok",
           "anonymous": "névtelen", "report": "Önsegítő csoportok – monitoring", "too_long": "240",
           "left_early": "nem lehet ennél korábbi"},
    "en": {"setup": "Compose the group", "first": "First meeting", "members": "Members",
           "anonymous": "anonymous", "report": "Self-help groups – monitoring", "too_long": "240",
           "left_early": "would be earlier"},
}


def _local(day: str, hour: int = 0) -> dt.datetime:
    return calendar_helpers.start_of_day(dt.date.fromisoformat(day)) + dt.timedelta(hours=hour)


def _complete(page):
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def _date(lang: str, iso: str) -> str:
    return iso.replace("-", ".") if lang == "hu" else iso


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_a_group_from_composition_to_a_member_leaving(page, live_server, login, shot, lang):
    rt, people = live_server.runtime, live_server.people
    codes = [demo_data.run_intake(rt, people.anna, i) for i in (0, 1, 25)]
    text = TEXTS[lang]

    def log_in(user: str) -> None:  # again after the clock moves on days: a session does not last that long
        page.context.clear_cookies()
        login(page, user)
        if page.locator("html").get_attribute("lang") != lang:
            page.click("[data-testid=switch-language]")
            page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == lang

    log_in("anna")

    # ---- A–B: compose the group -------------------------------------------------------------------------------
    page.goto("/cases")
    # The day-180 follow-up is the engine's to start when a member leaves: never offered by hand.
    expect(page.get_by_test_id("start-self-help-follow-up")).to_have_count(0)
    page.get_by_test_id("start-self-help-groups").click()
    page.get_by_test_id("start-confirm").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("task-name")).to_contain_text(text["setup"])
    page.fill("#f-group_name", "Szerdai csoport")
    page.select_option("#f-topic", "work_preparation")
    page.select_option("#f-composition_basis", "group_needs")
    page.select_option("#f-composition", "homogeneous")
    page.fill("#f-leader_name", "Kiss Anna")
    page.select_option("#f-meeting_frequency", "weekly")
    page.fill("#f-first_meeting_date", _date(lang, "2026-03-04"))
    for i, (code, sex) in enumerate(zip(codes, ("female", "male", "male"))):
        page.locator("#w-members_joining > .add-row [data-add-row]").click()
        page.fill(f"#f-members_joining-{i}-client_code", code)
        page.fill(f"#f-members_joining-{i}-joined_on", _date(lang, "2026-03-02"))
        page.select_option(f"#f-members_joining-{i}-sex", sex)
        page.select_option(f"#f-members_joining-{i}-entry_route", "labour_office")
        page.select_option(f"#f-members_joining-{i}-labour_market_status", "not_employed")
    shot(page, f"self-help-{lang}-1-compose")
    _complete(page)
    assert not page.js_errors, page.js_errors
    [case] = [c for c in cases.list_cases(rt, people.anna) if c["process_key"] == "self_help_groups"]
    case_id = case["case_id"]

    # ---- D: one start questionnaire per member, anonymous ------------------------------------------------------
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_test_id("member-row")).to_have_count(3)
    expect(page.get_by_test_id("case-members")).to_contain_text(text["members"])
    expect(page.get_by_test_id("case-members")).to_contain_text("Kovács Éva")  # the leader sees names
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.locator("body")).to_contain_text(text["anonymous"])
    page.fill("#f-jelszo", "napraforgó")
    for field, value in (("confidence", "2"), ("not_alone", "2"), ("can_talk", "3"), ("adapting", "3"),
                         ("intends_to_work", "4")):
        page.fill(f"#f-{field}", value)
    shot(page, f"self-help-{lang}-2-attitude-start")
    _complete(page)
    assert not page.js_errors, page.js_errors
    for i, task in enumerate(t for t in waiting(rt, case_id) if t.step == "D"):
        tasks.complete(rt, task.id, {"jelszo": f"jelszó {i}", "confidence": 3, "not_alone": 2, "can_talk": 3,
                                     "adapting": 3, "intends_to_work": 4}, people.anna)

    # ---- C: the first meeting on its day, with the attendance sheet ----------------------------------------------
    clock.freeze(_local("2026-03-04", 8))
    assert timers.fire_due(rt, "w") == 1
    log_in("anna")
    page.goto("/inbox")
    row = page.locator(f"[data-testid=inbox-table] tbody tr:has(a[href='/cases/{case_id}'])")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(_date(lang, "2026-03-04"))
    shot(page, f"self-help-{lang}-3-meeting-in-inbox")
    row.locator("[data-testid^=open-task-]").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("task-name")).to_contain_text(text["first"])
    expect(page.locator("#f-meeting_date")).to_have_value(_date(lang, "2026-03-04"))
    for i, code in enumerate(codes):  # the sheet opens with every member's code
        expect(page.locator(f"#f-attendance-{i}-client_code")).to_have_value(code)
        page.check(f"#f-attendance-{i}-present-{'false' if i == 2 else 'true'}")
    page.fill("#f-duration_minutes", "300")
    page.select_option("#f-group_form", "open")
    page.fill("#f-joining_rules", "Új tag a hónap első összejövetelén csatlakozhat.")
    page.check("#f-professional_present-false")
    page.select_option("#f-group_next", "continue")
    _complete(page)
    expect(page.locator("#e-duration_minutes")).to_contain_text(text["too_long"])  # at most 3–4 hours
    shot(page, f"self-help-{lang}-4-meeting-too-long")
    page.js_errors.clear()  # the refusal's 422 is what was asked for
    page.fill("#f-duration_minutes", "180")
    _complete(page)
    assert not page.js_errors, page.js_errors

    # ---- C: a member leaves at the next meeting; the day-180 follow-up starts for them ---------------------------
    clock.freeze(_local("2026-03-11", 8))
    assert timers.fire_due(rt, "w") == 1
    log_in("anna")
    page.goto(f"/cases/{case_id}")
    page.locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    for i in range(3):
        page.check(f"#f-attendance-{i}-present-true")
    page.fill("#f-duration_minutes", "150")
    page.locator("#w-members_leaving > .add-row [data-add-row]").click()
    page.fill("#f-members_leaving-0-client_code", codes[0])
    page.fill("#f-members_leaving-0-left_on", _date(lang, "2026-03-01"))
    page.select_option("#f-members_leaving-0-leaving_reason", "found_work")
    page.check("#f-members_leaving-0-employed_on_leaving-true")
    page.check("#f-professional_present-false")
    page.select_option("#f-group_next", "continue")
    _complete(page)
    # Leaving before joining is refused at the row, in the page's language only (web/form_errors.py).
    refused = page.locator("[id='e-members_leaving-0-left_on']")
    expect(refused).to_contain_text(text["left_early"])
    expect(refused).not_to_contain_text(TEXTS["en" if lang == "hu" else "hu"]["left_early"])
    shot(page, f"self-help-{lang}-5a-leaving-before-joining")
    page.js_errors.clear()  # the refusal's 422 is what was asked for
    page.fill("#f-members_leaving-0-left_on", _date(lang, "2026-03-11"))
    shot(page, f"self-help-{lang}-5-member-leaves")
    _complete(page)
    assert not page.js_errors, page.js_errors
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_test_id("linked-case")).to_have_count(1)
    expect(page.get_by_test_id("member-row").filter(has_text=codes[0])).to_contain_text(_date(lang, "2026-03-11"))
    shot(page, f"self-help-{lang}-6-case-members")
    page.get_by_test_id("case-members").screenshot(path=f"test-artifacts/self-help-{lang}-6b-members-card.png")

    # ---- the manager reads the monitoring report; members by code only ----------------------------------------
    log_in("mark")
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_test_id("member-row")).to_have_count(3)
    expect(page.get_by_test_id("case-members")).not_to_contain_text("Kovács Éva")
    page.goto("/reports/self_help_groups?from=2026-01-01&to=2026-12-31")
    expect(page.locator("h1")).to_contain_text(text["report"])
    shot(page, f"self-help-{lang}-7-report")
    assert not page.js_errors, page.js_errors
