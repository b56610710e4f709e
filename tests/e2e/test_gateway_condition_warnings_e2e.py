"""Gateway conditions checked at save in the studio's modeler, in chromium (docs/services.md, "Conditions that can
never be true"): a misspelt option is refused with its "did you mean", an always-true condition is saved as a
draft with its warning listed and marked, in Hungarian and in English, with no script error or untranslated word."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_studio_modeler_e2e import MODELER, _entry, _open_modeler, _save

FLOW = "flow_gw_casework_next_step_3_4"
# English words of the sentences the web app makes (web/findings.py); quoted names, values and ids hold none.
_ENGLISH = ("condition", "never", "always", "true", "did you mean", "reads", "which", "option", "field", "gateway",
            "warning", "the ", " is ")


def _no_english(said: str) -> None:
    bare = re.sub(r"'[^']*'|„[^”]*”|\b(gw|step|flow)_\w+|\b(True|False)\b|\S+\.bpmn(:\d+)?", "", said)
    found = [w for w in _ENGLISH if w in bare.lower()]
    assert not found, (found, said)


def _set_condition(page, source: str) -> None:
    # Selected as the problems' "Show" buttons do: the list above the canvas moves it after a save.
    page.evaluate("""id => { const m = document.querySelector('[data-testid=modeler]').segitoModeler;
        const element = m.get('elementRegistry').get(id);
        m.get('selection').select(element); m.get('canvas').scrollToElement(element); }""", FLOW)
    expect(page.locator("[data-entry-id=segito-id] input")).to_have_value(FLOW)
    _entry(page, "segito-condition-expression").fill(source)
    page.wait_for_timeout(800)  # the panel's inputs are debounced


def test_a_misspelt_option_is_refused_and_an_always_true_condition_is_saved_with_a_warning(page, live_server, login,
                                                                                           shot):
    login(page, "dora")
    _open_modeler(page, "family_care", 1, "family_care.bpmn")
    _set_condition(page, "casework_nxt == 'case_discussion'")
    assert _save(page, "elírt név") == "refused"
    problems = page.get_by_test_id("draft-problems")
    said = problems.inner_text()
    assert "a(z) 'casework_nxt' nevet olvassa" in said and "erre gondolt: 'casework_next'?" in said, said
    _no_english(said)
    shot(page, "studio-misspelt-name-hu")
    page.js_errors.clear()  # the browser logs the refused request itself

    _set_condition(page, "casework_next == 'case_discusion'")
    assert _save(page, "elírás") == "refused"
    said = problems.inner_text()
    assert "sosem lehet igaz" in said and "erre gondolt: 'case_discussion'?" in said, said
    _no_english(said)
    assert problems.locator("li.warning").count() == 0
    shot(page, "studio-never-true-hu")
    page.js_errors.clear()

    _set_condition(page, "True")
    assert _save(page, "mindig igaz") == "saved"
    assert page.get_attribute(MODELER, "data-warnings") == "1"
    assert "figyelmeztetésekkel" in page.get_by_test_id("modeler-status").inner_text()
    warning = problems.locator("li.warning")
    assert warning.count() == 1 and warning.inner_text().startswith("Figyelmeztetés: family_care.bpmn")
    assert "mindig igaz" in warning.inner_text()
    _no_english(warning.inner_text())
    shot(page, "studio-condition-warning-hu")
    assert page.get_attribute(MODELER, "data-untranslated") is None
    assert page.js_errors == []

    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    _open_modeler(page, "family_care", 1, "family_care.bpmn")
    _set_condition(page, "casework_nxt == 'case_discussion'")
    assert _save(page, "misspelt name") == "refused"
    said = problems.inner_text()
    assert "reads 'casework_nxt', which no form, script or the engine sets before this point: did you mean " \
           "'casework_next'?" in said and "erre gondolt" not in said and "olvassa" not in said, said
    shot(page, "studio-misspelt-name-en")
    page.js_errors.clear()
    _set_condition(page, "1 == 1")
    assert _save(page, "always true") == "saved"
    assert "with warnings (listed below)" in page.get_by_test_id("modeler-status").inner_text()
    warning = page.get_by_test_id("draft-problems").locator("li.warning")
    assert warning.inner_text().startswith("Warning: family_care.bpmn") and "Figyelmeztetés" not in warning.inner_text()
    assert "is always true (1 == 1 compares two constants and is always true)" in warning.inner_text()
    assert "mindig" not in warning.inner_text()
    warning.locator("[data-element]").click()  # shows the gateway the warning is about
    shot(page, "studio-condition-warning-en")
    assert page.get_attribute(MODELER, "data-untranslated") is None
    assert page.js_errors == []
