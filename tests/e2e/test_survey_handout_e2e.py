"""In a real browser, in both languages: at case management's close the case manager hands the anonymous
satisfaction survey to the client as a one-time link (docs/forms.md, "Handing a questionnaire to the client"); the
client opens it in a browser of their own with nobody logged in, answers once, and the link is used up."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from engine.cases import cases
from engine.store import clock
from tests import case_management_data as cm
from tests import demo_data
from tests.integration.helpers import do, task_of

TODAY = dt.datetime(2026, 3, 18, 9, 0, tzinfo=dt.timezone.utc)
TEXTS = {"hu": ("Egyszer használható hivatkozás a kliensnek", "Köszönjük", "már felhasználták"),
         "en": ("A one-time link for the client", "Thank you", "already been used")}


def _language(page, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        page.click("[data-testid=switch-language]")
        page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_the_client_answers_the_closing_survey_on_their_own_device(page, browser, live_server, login, shot, lang):
    clock.freeze(TODAY)
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = cases.start_case(rt, "case_management", people.anna, code)["case_id"]
    do(rt, case_id, "cm_entry", cm.entry(day="2026-03-02"), people.anna)
    do(rt, case_id, "cm_assessment", cm.assessment(), people.anna)
    do(rt, case_id, "cm_meeting", cm.meeting({}, "2026-03-16", next_step="closure"), people.anna)
    do(rt, case_id, "cm_closure", cm.closure({}, "2026-03-18"), people.anna)
    heading, thanks, used = TEXTS[lang]

    login(page, "anna")
    _language(page, lang)
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_satisfaction')}")
    page.get_by_test_id("hand-out").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("main h1")).to_have_text(heading)
    link = page.get_by_test_id("survey-link").inner_text().strip()
    assert "/survey/" in link
    shot(page, f"survey-handed-out-{lang}")
    assert cases.get_case(rt, case_id, people.anna, with_data=False)["status"] == "completed"
    assert not page.js_errors, page.js_errors

    # The client's own device: another browser context, nobody logged in.
    own = browser.new_context(base_url=live_server.url)
    client = own.new_page()
    client.goto(link)
    _language(client, lang)
    expect(client.get_by_test_id("anonymous-note")).to_be_visible()
    expect(client.locator("body")).not_to_contain_text(code)  # nothing of the case
    client.fill("#f-overall", "5")
    client.fill("#f-case_manager_help", "4")
    client.fill("#f-plan_progress", "4")
    client.check("#f-would_recommend-true")
    shot(client, f"survey-client-form-{lang}")
    client.get_by_test_id("send").click()
    client.wait_for_load_state("domcontentloaded")
    expect(client.get_by_test_id("survey-thanks")).to_be_visible()
    expect(client.locator("main h1")).to_have_text(thanks)
    shot(client, f"survey-client-thanks-{lang}")
    client.goto(link)
    expect(client.get_by_test_id("survey-closed")).to_contain_text(used)
    shot(client, f"survey-client-used-{lang}")
    own.close()
