"""The studio's form editor in chromium (docs/studio.md, "The form editor"): a designer adds a field to a form,
gives it labels, a type and options, sees it in the live preview drawn by the caseworker's renderer, saves the
form as a draft; a form that does not parse is refused with its problem; in Hungarian and in English."""
from __future__ import annotations

from playwright.sync_api import expect

from engine import packages

EDITOR = "[data-testid=form-editor]"


def _open(page, name: str) -> None:
    page.goto(f"/studio/family_care/1/forms/{name}")
    expect(page.locator(EDITOR)).to_have_attribute("data-ready", "true")
    expect(page.locator(EDITOR)).to_have_attribute("data-preview", "done")


def test_a_designer_adds_a_field_sees_it_in_the_preview_and_saves(page, live_server, login, shot):
    login(page, "dora")
    _open(page, "case_discussion.json")
    preview = page.get_by_test_id("form-preview")
    expect(preview.locator("form, .task-form").first).to_be_visible()
    page.locator("[data-role=add-field]").first.click()
    field = page.locator("[data-field=field_1]")
    field.locator("[data-role=key]").fill("participants_count")
    field = page.locator("[data-field=participants_count]")
    field.locator("[data-role=label-hu]").fill("Résztvevők száma")
    field.locator("[data-role=label-en]").fill("Number of participants")
    expect(preview).to_contain_text("Résztvevők száma")
    field.locator("[data-role=kind]").select_option("pick_one")
    field = page.locator("[data-field=participants_count]")
    field.locator("[data-role=options]").fill("few | Kevés | Few\nmany | Sok | Many")
    expect(preview.locator("select[name=participants_count] option", has_text="Sok")).to_have_count(1)
    shot(page, "studio-form-editor-hu")
    page.get_by_test_id("form-note").fill("Résztvevők száma")
    page.get_by_test_id("save-form").click()
    expect(page.locator(EDITOR)).to_have_attribute("data-save", "saved", timeout=30_000)
    assert page.get_attribute(EDITOR, "data-saved") == "2"
    assert "2." in page.get_by_test_id("form-editor-status").inner_text()
    form = packages.files_of(live_server.runtime, "family_care", 2)["forms/case_discussion.json"].decode()
    assert '"participants_count"' in form and '"Kevés"' in form and '"Many"' in form

    # JSON that does not parse: the preview and the save both name the problem; nothing is stored.
    page.locator("summary").click()
    page.get_by_test_id("form-json").fill('{"type": "object", "properties": {')
    page.get_by_test_id("form-json").blur()
    expect(page.get_by_test_id("form-problems")).to_contain_text("A JSON nem olvasható")
    assert page.js_errors == [] or all("422" in e for e in page.js_errors)


def test_the_form_editor_in_english(page, live_server, login, shot):
    login(page, "dora")
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    _open(page, "closure_agreement.json")
    assert "Field key" in page.get_by_test_id("form-tree").inner_text()
    first = page.locator("[data-role=label-en]").first
    first.fill("Agreed to the closure?")
    expect(page.get_by_test_id("form-preview")).to_contain_text("Agreed to the closure?")
    shot(page, "studio-form-editor-en")
    assert page.js_errors == []
