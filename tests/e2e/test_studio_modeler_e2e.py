"""The studio's modeler in chromium (docs/studio.md): a designer opens family care in bpmn-js's Modeler, draws a
task on the first flow, makes it a user task, sets its lane and form in Segito's properties panel, saves a draft
(a refused draft lists its problems and shows their elements), publishes it, and a case started afterwards runs on
the new version and waits at the drawn task. In Hungarian and in English, with no script error, CSP violation or
untranslated word."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from engine.store.models import Case, ProcessDefinition
from tests import demo_data

MODELER = "[data-testid=modeler]"


def _open_modeler(page, package: str, version: int, file: str) -> None:
    page.goto(f"/studio/{package}/{version}/modeler?file={file}")
    page.wait_for_selector(f"{MODELER}[data-import]")
    assert page.get_attribute(MODELER, "data-import") == "done", page.get_attribute(MODELER, "data-import-messages")
    assert page.get_attribute(MODELER, "data-import-warnings") == "0", \
        page.get_attribute(MODELER, "data-import-messages")


def _select(page, element_id: str, at: tuple[float, float] = (0.5, 0.5)) -> None:
    """Brings the element into view (as scrolling the canvas would) and clicks it, at ``at`` of its box (a flow
    may cross the middle of a small shape)."""
    page.evaluate("""id => { const m = document.querySelector('[data-testid=modeler]').segitoModeler;
        m.get('canvas').scrollToElement(m.get('elementRegistry').get(id)); }""", element_id)
    box = page.locator(f"[data-element-id={element_id}] .djs-hit").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * at[0], box["y"] + box["height"] * at[1])
    expect(page.locator("[data-entry-id=segito-id] input")).to_have_value(element_id)


def _entry(page, entry_id: str):
    return page.locator(f"[data-entry-id={entry_id}]").locator("input, select, textarea").first


def _save(page, note: str) -> str:
    page.fill("[data-testid=draft-note]", note)
    page.evaluate("document.querySelector('[data-testid=modeler]').removeAttribute('data-save')")
    page.click("[data-testid=save-draft]")
    # Saving checks the whole package on the server (about a second on a quiet machine, several under load).
    expect(page.locator(MODELER)).to_have_attribute("data-save", re.compile("^(saved|refused)$"), timeout=30_000)
    return page.get_attribute(MODELER, "data-save")


def _draw_user_task_on_first_flow(page, name: str) -> str:
    """Palette → task, dropped on the flow from the start event to 3.1 (bpmn-js splits the flow), its name typed
    in place, then the context pad's "change element" → user task. Answers the new task's id."""
    flow = page.locator("[data-element-id=flow_start_family_care_step_3_1]").first.bounding_box()
    # Zoomed in around the flow (ctrl + wheel), as a designer would, to draw at a readable size.
    page.mouse.move(flow["x"] + flow["width"] / 2, flow["y"])
    page.keyboard.down("Control")
    for _ in range(3):
        page.mouse.wheel(0, -120)
    page.keyboard.up("Control")
    page.wait_for_timeout(200)
    flow = page.locator("[data-element-id=flow_start_family_care_step_3_1]").first.bounding_box()
    page.click(".djs-palette [data-action='create.task']")
    x, y = flow["x"] + flow["width"] / 2, flow["y"] + flow["height"] / 2
    page.mouse.move(x - 10, y)
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_selector(".djs-direct-editing-content")
    page.keyboard.type(name)
    page.keyboard.press("Enter")  # ends the editing; the new task stays selected with its context pad
    new_id = page.evaluate("document.querySelector('[data-testid=modeler]').segitoModeler.get('selection').get()[0].id")
    page.click(".djs-context-pad [data-action=replace]")
    page.click(".djs-popup [data-id=replace-with-user-task]")
    return new_id


def _case_version(runtime, case_id: int) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(ProcessDefinition.version).join(Case, Case.definition_id == ProcessDefinition.id)
                               .where(Case.id == case_id)).scalar_one()


def test_a_designer_draws_a_step_saves_publishes_and_a_case_runs_it(page, live_server, login, shot):
    login(page, "dora")
    _open_modeler(page, "family_care", 1, "family_care.bpmn")
    shot(page, "studio-modeler-family-care-hu")
    new_id = _draw_user_task_on_first_flow(page, "3.0 Előzetes egyeztetés")
    page.wait_for_selector("[data-entry-id=segito-form]")
    assert _entry(page, "segito-name").input_value() == "3.0 Előzetes egyeztetés"
    _entry(page, "segito-task-lane").select_option("professional_lead")
    _entry(page, "segito-form").select_option("case_discussion.json")
    _entry(page, "segito-step").fill("3.0")
    _entry(page, "segito-name-en").fill("Preliminary agreement")
    page.wait_for_timeout(800)  # the panel's inputs are debounced
    shot(page, "studio-modeler-user-task-hu")

    # A condition that is not Python is refused at save: nothing stored, the problem names the flow.
    _select(page, "flow_gw_casework_next_step_3_4")
    _entry(page, "segito-condition-expression").fill("casework_next = = 'case_discussion'")
    page.wait_for_timeout(800)
    assert _save(page, "rossz feltétel") == "refused"
    problems = page.get_by_test_id("draft-problems")
    assert "flow_gw_casework_next_step_3_4" in problems.inner_text()
    shot(page, "studio-modeler-refused-hu")
    # The browser logs the refused request itself; nothing else went wrong.
    assert [e for e in page.js_errors if "422" not in e] == []
    page.js_errors.clear()
    problems.locator("[data-element]").first.click()
    _entry(page, "segito-condition-expression").fill("casework_next == 'case_discussion'")
    page.wait_for_timeout(800)
    assert _save(page, "Előzetes egyeztetés a szakmai vezetővel") == "saved"
    assert page.get_attribute(MODELER, "data-saved") == "2"
    assert "2." in page.get_by_test_id("modeler-status").inner_text()
    assert page.get_attribute(MODELER, "data-untranslated") is None
    assert page.js_errors == []

    # The saved draft opens again with the task in the lead's lane, its form kept; then it is published.
    page.get_by_test_id("open-saved").click()
    page.wait_for_selector(f"{MODELER}[data-import=done]")
    _select(page, new_id)
    assert _entry(page, "segito-task-lane").input_value() == "professional_lead"
    assert _entry(page, "segito-form").input_value() == "case_discussion.json"
    # The test runs of the draft: the new step has no sample data yet, so every path stops there.
    page.goto("/studio/family_care/2")
    page.get_by_test_id("open-test-runs").click()
    summary = page.get_by_test_id("test-run-summary")
    expect(summary).to_contain_text("1 út: 0 véget ért, 1 elakadt")
    # The stuck step is named as the designer named it, not by its element id.
    stuck = "Itt: 3.0 Előzetes egyeztetés: ehhez a feladathoz nincs mintaadat"
    assert stuck in page.get_by_test_id("test-run-paths").inner_text()
    expect(page.locator("[data-testid=test-run-diagram]")).to_have_attribute("data-import", "done")
    shot(page, "studio-test-run-stuck-hu")
    # The designer gives the new step its sample data (its form asks for an action); the test runs then pass.
    page.get_by_test_id("edit-sample-data").click()
    content = page.get_by_test_id("test-file-content")
    content.fill(content.input_value() + f"  {new_id}:\n  - actions:\n    - {{date: '2026-02-12', log: Egyeztetés.}}\n")
    page.get_by_test_id("save-test-file").click()
    page.wait_for_load_state()
    assert "/studio/family_care/3/test-runs" in page.url
    expect(page.get_by_test_id("test-run-summary")).to_contain_text("13 út: 13 véget ért, 0 elakadt")
    expect(page.get_by_test_id("test-run-result")).to_contain_text("Sikeres")
    shot(page, "studio-test-run-passed-hu")
    page.goto("/studio/family_care/3")
    page.get_by_test_id("studio-publish").click()
    page.wait_for_load_state()
    assert "közzétéve" in page.locator(".flashes").inner_text()

    # A caseworker starts a family-care case: it runs on the new version and waits at the drawn step.
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    page.get_by_test_id("logout").click()
    login(page, "anna")
    page.goto(f"/cases/new?process_key=family_care&client_code={code}")
    page.get_by_test_id("start-confirm").click()
    page.wait_for_load_state()
    shot(page, "studio-case-on-new-version-hu")
    with rt.db.reading() as session:
        case_id = session.execute(select(func.max(Case.id)).where(Case.process_key == "family_care")).scalar_one()
    assert _case_version(rt, case_id) == 2  # the process's second version: package version 3
    page.get_by_test_id("logout").click()
    login(page, "lea")
    assert "3.0 Előzetes egyeztetés" in page.locator("main").inner_text()
    shot(page, "studio-new-step-in-lead-inbox-hu")


def test_the_modeler_in_english_and_closed_to_caseworkers(page, live_server, login, shot):
    login(page, "dora")
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    _open_modeler(page, "family_care", 1, "family_care.bpmn")
    _select(page, "review_due_3_6", at=(0.5, 0.85))
    assert _entry(page, "segito-timer-expression").input_value() == "review['due_at']"
    # The picker writes a quoted duration; a bare ISO literal is flagged.
    _entry(page, "segito-timer-amount").fill("14")
    expect(_entry(page, "segito-timer-expression")).to_have_value("'P14D'")
    _entry(page, "segito-timer-unit").select_option("W")
    expect(_entry(page, "segito-timer-expression")).to_have_value("'P14W'")
    _entry(page, "segito-timer-date").fill("2026-12-01")
    expect(_entry(page, "segito-timer-expression")).to_have_value("'2026-12-01'")
    _entry(page, "segito-timer-time").fill("10:30")
    expect(_entry(page, "segito-timer-expression")).to_have_value("'2026-12-01T10:30:00'")
    expect(_entry(page, "segito-timer-kind")).to_have_value("timeDate")
    _entry(page, "segito-timer-date").fill("2026-02-30")
    expect(page.get_by_test_id("properties-panel")).to_contain_text("A date as YYYY-MM-DD.")
    _entry(page, "segito-timer-expression").fill("P14D")
    expect(page.get_by_test_id("properties-panel")).to_contain_text("Put the ISO text in quotes.")
    _select(page, "caseworker")
    assert _entry(page, "segito-lane-role").input_value() == "caseworker"
    shot(page, "studio-modeler-timer-en")
    assert "Role of this lane" in page.get_by_test_id("properties-panel").inner_text()
    assert page.get_attribute(MODELER, "data-untranslated") is None
    assert page.js_errors == []
    # The test runs of the bundled version, in English: every path ends, every gateway flow taken.
    page.goto("/studio/family_care/1/test-runs")
    expect(page.get_by_test_id("test-run-summary")).to_contain_text(
        "13 paths: 13 ended, 0 stuck; gateway flows taken: 17 of 17.")
    expect(page.locator("[data-testid=test-run-diagram]")).to_have_attribute("data-import", "done")
    assert "Ended" in page.get_by_test_id("test-run-paths").inner_text()
    shot(page, "studio-test-runs-en")
    assert page.js_errors == []
    page.get_by_test_id("logout").click()
    login(page, "anna")
    response = page.goto("/studio/family_care/1/modeler?file=family_care.bpmn")
    assert response.status == 403
