"""Comparing two versions in chromium, in Hungarian and in English: the list of what changed and both diagrams
drawn by bpmn-js with the added, removed and changed elements marked (canvas markers, our own colours)."""
from __future__ import annotations

from tests.integration import family_care_v2


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def _drawn(page, testid: str) -> None:
    holder = page.get_by_test_id(testid)
    page.wait_for_function(f"document.querySelector('[data-testid={testid}]').dataset.import === 'done'")
    assert holder.get_attribute("data-import-warnings") == "0", holder.get_attribute("data-import-messages")


def test_a_designer_compares_two_versions_marked_on_the_diagrams(page, live_server, login, shot):
    new = family_care_v2.deploy(live_server.runtime)
    login(page, "dora")
    page.goto("/processes/family_care")
    page.get_by_test_id("compare-versions").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Verziók összehasonlítása")
    summary = page.get_by_test_id("diff-summary").inner_text()
    assert f"{new - 1}. verzióról" in summary and "1 új, 1 törölt" in summary
    assert "Törölve" in page.get_by_test_id("diff-removed-step_3_4").inner_text()
    assert "feltétel" in page.get_by_test_id("diff-elements").inner_text()
    assert "új mező" in page.get_by_test_id("diff-form-casework.json").inner_text()
    for testid in ("diff-diagram-new", "diff-diagram-old"):
        _drawn(page, testid)
    new_diagram, old_diagram = page.get_by_test_id("diff-diagram-new"), page.get_by_test_id("diff-diagram-old")
    assert new_diagram.locator('[data-element-id="step_3_4_discussion"].segito-added').count() == 1
    assert new_diagram.locator('[data-element-id="step_3_3"].segito-changed').count() == 1
    assert old_diagram.locator('[data-element-id="step_3_4"].segito-removed').count() == 1
    # The colour comes from our style sheet: the removed task's outline is red and dashed.
    stroke = old_diagram.locator('[data-element-id="step_3_4"] .djs-visual > :first-child').evaluate(
        "el => [getComputedStyle(el).stroke, getComputedStyle(el).strokeDasharray]")
    assert stroke[0] == "rgb(180, 35, 24)" and stroke[1] != "none"
    shot(page, "version-diff-hu")
    _switch(page, "en")
    assert page.locator("h1").inner_text().startswith("Compare versions")
    assert "1 added, 1 removed" in page.get_by_test_id("diff-summary").inner_text()
    assert "condition" in page.get_by_test_id("diff-elements").inner_text()
    assert "Verzió" not in page.locator("main").inner_text()
    _drawn(page, "diff-diagram-new")
    # Comparing the other way round swaps added and removed.
    page.select_option("[data-testid=diff-from]", str(new))
    page.select_option("[data-testid=diff-to]", str(new - 1))
    page.click("[data-testid=diff-compare]")
    page.wait_for_load_state()
    assert page.get_by_test_id("diff-added-step_3_4").count() == 1
    shot(page, "version-diff-en")
    page.get_by_test_id("logout").click()
    login(page, "anna")
    response = page.goto("/processes/family_care/diff")
    assert response is not None and response.status == 403
