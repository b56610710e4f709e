"""The diagram viewer (bpmn-js, web/static/viewer/) in chromium: family care's catalogue diagram draws every step
without an import warning, zooms and fits, speaks the page's language, and the case page marks the steps taken and
the one waiting; all under the app's CSP (a violation is a console error, which fails the test)."""
from __future__ import annotations

from tests import demo_data
from tests.e2e.conftest import ARTIFACTS

STEPS = ["step_3_1", "step_3_2", "step_3_3", "step_3_6", "step_3_8", "step_3_10", "follow_up_3_10",
         "agree_closure_success"]
CURRENT_FILL = "rgb(255, 241, 214)"  # viewer.css's marks (frontend/src/viewer.css)
DONE_FILL = "rgb(220, 239, 226)"
TAKEN_STROKE = "rgb(31, 111, 58)"


def _drawn(page, testid: str):
    viewer = page.locator(f"[data-testid={testid}]")
    viewer.locator("xpath=self::*[@data-import]").wait_for()
    return viewer


def _near(a: float, b: float) -> bool:
    return abs(a - b) <= 0.005 * b  # the canvas reports its scale rounded to three decimals


VIEWER = "document.querySelector('[data-testid={}]').segitoViewer"


def _zoom(page, testid: str) -> float:
    return page.evaluate(f"{VIEWER.format(testid)}.get('canvas').zoom()")


def _label(viewer, element_id: str) -> str:
    # bpmn-js writes a name as one <tspan> per line (breaking after a hyphen too); read back as one line.
    spans = viewer.locator(f"g.djs-element[data-element-id={element_id}] text tspan").all_text_contents()
    return " ".join(s.strip() for s in spans).replace("- ", "-")


def _fill(viewer, element_id: str) -> str:
    return viewer.locator(f"g.djs-element[data-element-id={element_id}] .djs-visual > :first-child").evaluate(
        "el => getComputedStyle(el).fill")


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def test_family_care_diagram_draws_without_warnings_zooms_and_fits(page, live_server, login, shot):
    login(page, "anna")
    page.goto("/processes/family_care")
    viewer = _drawn(page, "process-diagram")
    assert viewer.get_attribute("data-import") == "done", viewer.get_attribute("data-import-messages")
    assert viewer.get_attribute("data-import-warnings") == "0", viewer.get_attribute("data-import-messages")
    for element_id in STEPS:
        assert viewer.locator(f"svg g.djs-element[data-element-id={element_id}]").count() == 1, element_id
    assert _label(viewer, "step_3_1") == "3.1 Cselekvési terv kidolgozása"
    assert not viewer.locator("[data-role=loading]").is_visible()
    assert not viewer.locator("[data-role=failed]").is_visible()
    # Fitted: the whole diagram inside the frame.
    frame = viewer.locator("[data-role=canvas]").bounding_box()
    drawing = viewer.locator("svg g.viewport").bounding_box()
    # (give or take the invisible hit areas around edges, a few pixels wide)
    assert drawing["width"] <= frame["width"] * 1.02 and drawing["height"] <= frame["height"] * 1.02
    fitted = _zoom(page, "process-diagram")
    shot(page, "diagram-catalogue-hu")

    page.get_by_role("button", name="Nagyítás").click()
    page.get_by_role("button", name="Nagyítás").click()
    assert _near(_zoom(page, "process-diagram"), fitted * 1.25 ** 2)
    assert viewer.locator("svg g.viewport").bounding_box()["width"] > drawing["width"] * 1.5
    viewer.screenshot(path=str(ARTIFACTS / "diagram-catalogue-zoomed.png"))
    page.get_by_role("button", name="Kicsinyítés").click()
    assert _near(_zoom(page, "process-diagram"), fitted * 1.25)
    page.get_by_role("button", name="Teljes ábra", exact=True).click()
    assert _near(_zoom(page, "process-diagram"), fitted)
    # The keyboard moves it too, once the drawing has the focus.
    x = page.evaluate(f"{VIEWER.format('process-diagram')}.get('canvas').viewbox().x")
    viewer.locator(".djs-container > svg").focus()
    page.keyboard.press("Control+ArrowRight")
    assert page.evaluate(f"{VIEWER.format('process-diagram')}.get('canvas').viewbox().x") > x
    page.get_by_role("button", name="Teljes ábra", exact=True).click()

    _switch(page, "en")
    viewer = _drawn(page, "process-diagram")
    assert viewer.get_attribute("data-import-warnings") == "0"
    assert _label(viewer, "step_3_1") == "Draw up the action plan"
    decisions = " | ".join(_label(viewer, i) for i in
                           viewer.locator("g.djs-shape[data-element-id$=_label]").evaluate_all(
                               "els => els.map(e => e.dataset.elementId)"))
    assert "Can a further service be used?" in decisions and "igénybe" not in decisions
    page.get_by_role("button", name="Zoom in").click()
    assert _zoom(page, "process-diagram") > fitted
    page.get_by_role("button", name="Fit", exact=True).click()
    assert _near(_zoom(page, "process-diagram"), fitted)
    shot(page, "diagram-catalogue-en")
    assert page.js_errors == []


def test_case_page_marks_the_current_and_the_finished_steps(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = demo_data.run_family_care(rt, people.anna, people.lea, code, stop_at="3.3")
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    for lang in ("hu", "en"):
        viewer = _drawn(page, "case-diagram")
        assert viewer.get_attribute("data-import-warnings") == "0", viewer.get_attribute("data-import-messages")
        current = viewer.locator("g.djs-element[data-element-id=step_3_3]")
        assert "segito-current" in current.get_attribute("class").split()
        assert "segito-done" in viewer.locator("g.djs-element[data-element-id=step_3_1]").get_attribute("class")
        untouched = viewer.locator("g.djs-element[data-element-id=step_3_8]").get_attribute("class").split()
        assert not {"segito-current", "segito-done"} & set(untouched)
        assert "segito-taken" in viewer.locator(
            "g.djs-element[data-element-id=flow_step_3_1_step_3_2]").get_attribute("class")
        # The marks are painted (the style sheet is served and wins over bpmn-js's own colours).
        assert _fill(viewer, "step_3_3") == CURRENT_FILL and _fill(viewer, "step_3_1") == DONE_FILL
        assert _fill(viewer, "step_3_8") not in (CURRENT_FILL, DONE_FILL)
        taken = viewer.locator("g.djs-element[data-element-id=flow_step_3_1_step_3_2] .djs-visual > path")
        assert taken.evaluate("el => getComputedStyle(el).stroke") == TAKEN_STROKE
        steps = page.locator("[data-testid=diagram-steps] li[data-state=current]").all_text_contents()
        assert len(steps) == 1 and steps[0].startswith("3.3")
        viewer.scroll_into_view_if_needed()
        shot(page, f"diagram-case-{lang}")
        viewer.screenshot(path=str(ARTIFACTS / f"diagram-case-{lang}-viewer.png"))
        if lang == "hu":
            _switch(page, "en")
    assert _label(viewer, "step_3_1") == "Draw up the action plan"
    assert page.js_errors == []


def test_every_catalogue_process_draws_without_warnings(page, live_server, login):
    login(page, "anna")
    page.goto("/processes")
    links = page.locator(".process-list h2 a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert len(links) >= 6, links
    for link in links:
        page.goto(link)
        viewer = _drawn(page, "process-diagram")
        assert viewer.get_attribute("data-import") == "done", (link, viewer.get_attribute("data-import-messages"))
        assert viewer.get_attribute("data-import-warnings") == "0", (link, viewer.get_attribute("data-import-messages"))
        assert viewer.locator("g.djs-element").count() > 5, link
    assert page.js_errors == []
