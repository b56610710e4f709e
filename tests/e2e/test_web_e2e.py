"""The caseworker's and the lead's way through the app in a real browser (Debian's chromium via Playwright)."""
from __future__ import annotations

from tests import demo_data


def _cases(live_server):
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    at_casework = demo_data.run_family_care(rt, people.anna, people.lea, code, stop_at="3.3")
    code2 = demo_data.run_intake(rt, people.anna, 1)
    at_agreement = demo_data.run_family_care(rt, people.anna, people.lea, code2, stop_at="3.8 agree")
    return at_casework, at_agreement


def test_caseworker_inbox_case_page_diagram_language_and_logout(page, live_server, login, shot):
    at_casework, _ = _cases(live_server)
    login(page, "anna")
    assert page.locator("html").get_attribute("lang") == "hu"
    assert page.get_by_role("heading", level=1).inner_text() == "Feladatok"
    rows = page.locator("[data-testid=inbox-table] tbody tr")
    assert rows.count() >= 1
    shot(page, "inbox-caseworker")

    page.click(f"a[href='/cases/{at_casework}']")
    page.wait_for_url(f"**/cases/{at_casework}")
    page.locator("[data-testid=case-diagram][data-import=done]").wait_for()
    current = page.locator("[data-testid=case-diagram] svg g.djs-element[data-element-id=step_3_3]")
    assert "segito-current" in current.get_attribute("class").split()
    done = page.locator("[data-testid=case-diagram] svg g.djs-element[data-element-id=step_3_1]")
    assert "segito-done" in done.get_attribute("class").split()
    not_reached = page.locator("[data-testid=case-diagram] svg g.djs-element[data-element-id=step_3_8]")
    assert not {"segito-done", "segito-current"} & set(not_reached.get_attribute("class").split())
    assert page.locator("[data-testid=timeline] li").count() > 3
    shot(page, "case-page")

    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Where the case stands").is_visible()
    # The choice is the user's: it holds on the next page too.
    page.goto("/inbox")
    assert page.get_by_role("heading", level=1).inner_text() == "Inbox"
    shot(page, "inbox-english")

    page.click("[data-testid=logout]")
    page.wait_for_url("**/login**")
    page.goto(f"/cases/{at_casework}")
    page.wait_for_url("**/login**")
    assert page.js_errors == []


def test_lead_sees_the_closure_waiting_for_agreement(page, live_server, login, shot):
    _, at_agreement = _cases(live_server)
    login(page, "lea")
    closures = page.locator("[data-testid=closures]")
    assert closures.is_visible()
    assert closures.locator(f"a[href='/cases/{at_agreement}']").count() == 1
    shot(page, "inbox-lead-closures")
    assert page.js_errors == []


def test_phone_width_has_no_horizontal_scroll_on_inbox(browser, live_server, login, shot):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        _cases(live_server)
        login(page, "anna")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1
        shot(page, "inbox-phone")
    finally:
        context.close()
