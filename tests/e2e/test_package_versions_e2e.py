"""Drafts and publishing in chromium: a designer sees a draft on the process page, publishes it, rolls back by
publishing the earlier version again, in Hungarian and in English; a caseworker sees neither card."""
from __future__ import annotations

import shutil

from engine import packages
from engine.store import clock
from engine.store.config import BPMN_DIR


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def test_a_designer_publishes_a_draft_and_rolls_back(page, live_server, login, shot, tmp_path):
    folder = tmp_path / "intake"
    shutil.copytree(BPMN_DIR / "intake", folder)
    (folder / "README.md").write_text("draft\n", encoding="utf-8")
    packages.deploy(live_server.runtime, [packages.from_folder(folder)], "dora", clock.now(), "Új beutaló",
                    draft=True)
    login(page, "dora")
    page.goto("/processes/intake")
    starts = page.locator("[data-testid=starts-new-cases]")
    assert starts.inner_text() == "Az új esetek ezen a verzión indulnak: 1."
    draft = page.locator("[data-testid=package-version-2]")
    assert "Vázlat, ellenőrizve: nincs hiba" in draft.inner_text()
    shot(page, "package-versions-draft-hu")
    draft.locator("input[name=note]").fill("Élesítés")
    page.click("[data-testid=publish-2]")
    page.wait_for_load_state()
    assert "közzétéve" in page.locator(".flashes").inner_text()
    assert starts.inner_text() == "Az új esetek ezen a verzión indulnak: 2."
    _switch(page, "en")
    assert "Publish again (roll back)" in page.locator("[data-testid=publish-1]").inner_text()
    page.click("[data-testid=publish-1]")
    page.wait_for_load_state()
    assert "is published" in page.locator(".flashes").inner_text()
    assert page.locator("[data-testid=starts-new-cases]").inner_text() == "New cases start on version 3."
    assert page.locator("h1 + p.muted").inner_text().startswith("Version 3 ·"), "the page reads the new version"
    assert "Élesítés" in page.locator("[data-testid=versions-table]").inner_text()
    shot(page, "package-versions-rolled-back-en")
    page.get_by_test_id("logout").click()
    login(page, "anna")
    page.goto("/processes/intake")
    assert page.locator("[data-testid=versions-table]").count() == 0
    assert page.locator("[data-testid=package-versions-table]").count() == 0
