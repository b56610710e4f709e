"""In the browser, each page in one language: the catalogue's step counts, the English diagram's decisions, the
report's process filter, the agenda's visit labels, the login page after logout, and the language switch on a
page shown after a refused form (docs/web.md, "Languages")."""
from __future__ import annotations

from tests import demo_data
from tests.integration.helpers import task_of


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def test_catalogue_diagram_and_reports_speak_one_language(page, live_server, login, shot):
    people = live_server.people
    code = demo_data.run_intake(live_server.runtime, people.anna, 0)
    demo_data.run_family_care(live_server.runtime, people.anna, people.lea, code, stop_at="3.3")
    login(page, "anna")
    page.goto("/processes")
    text = page.locator("main").inner_text()
    assert "lépés" in text and "steps" not in text
    shot(page, "lang-catalogue-hu")
    page.goto("/processes/family_care")
    _switch(page, "en")
    page.locator("[data-testid=process-diagram][data-import=done]").wait_for()
    # The viewer writes each name as one <tspan> per line, breaking after a hyphen too: read back one name each.
    names = page.locator("[data-testid=process-diagram] svg g.djs-element").evaluate_all(
        "els => els.map(e => Array.from(e.querySelectorAll(':scope > .djs-visual text tspan'))"
        ".map(t => t.textContent.trim()).join(' ').replace(/- /g, '-')).filter(Boolean)")
    assert "Can a further service be used?" in names and "Does the client take part in follow-up?" in names
    assert not [n for n in names if "igénybe" in n or "Részt vesz" in n]
    shot(page, "lang-process-en")
    page.goto("/processes")
    assert "steps" in page.locator("main").inner_text()
    assert page.js_errors == []


def test_reports_follow_the_language_and_logout_keeps_it(page, live_server, login, shot):
    people = live_server.people
    demo_data.run_family_care(live_server.runtime, people.anna, people.lea,
                         demo_data.run_intake(live_server.runtime, people.anna, 0), stop_at="3.3")
    login(page, "mark")
    page.goto("/reports/family_care")
    options = page.locator("#r-process option").all_inner_texts()
    assert "family_care" not in options and any("Családgondozás" in o or "családgondoz" in o.lower()
                                                for o in options), options
    assert "pcs" not in page.locator("main").inner_text()
    shot(page, "lang-reports-hu")
    _switch(page, "en")
    assert "db" not in page.locator("main").inner_text().split()
    shot(page, "lang-reports-en")
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login**")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "You have logged out." in page.locator("body").inner_text()
    shot(page, "lang-logout-en")


def test_language_switch_after_a_refused_form_opens_the_form_again(page, live_server, login, shot):
    people = live_server.people
    code = demo_data.run_intake(live_server.runtime, people.anna, 0)
    case_id = demo_data.run_family_care(live_server.runtime, people.anna, people.lea, code, stop_at="3.1")
    task_id = task_of(live_server.runtime, case_id, "step_3_1")
    login(page, "anna")
    page.goto(f"/tasks/{task_id}")
    # Submitted empty: refused, shown at the POST-only address.
    page.click("[data-testid=complete]")
    page.wait_for_load_state()
    assert page.url.endswith("/complete")
    shot(page, "lang-refused-hu")
    _switch(page, "en")
    assert page.url.endswith(f"/tasks/{task_id}")
    assert "Method Not Allowed" not in page.locator("body").inner_text()
    shot(page, "lang-after-refused-en")
