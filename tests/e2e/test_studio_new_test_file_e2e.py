"""The studio's "New sample-data file" in chromium (docs/studio.md, "Test runs"): from the test-runs page a
designer names a file and picks its process, writes its sample data in the editor and saves it as a draft, whose
test runs then list it; an existing name is refused; in Hungarian and in English."""
from __future__ import annotations

from playwright.sync_api import expect

from engine import packages


def test_a_designer_adds_a_sample_data_file_from_the_test_runs_page(page, live_server, login, shot):
    login(page, "dora")
    page.goto("/studio/intake/1/test-runs")
    form = page.get_by_test_id("new-test-file-form")
    expect(form).to_contain_text("Folyamat")
    page.get_by_test_id("new-test-file-name").fill("returning")
    shot(page, "studio-new-test-file-hu")
    page.get_by_test_id("new-test-file").click()
    page.wait_for_url("**/studio/intake/1/tests/returning.yaml?process=intake")
    content = page.get_by_test_id("test-file-content")
    assert "process: intake" in content.input_value()
    sample = packages.files_of(live_server.runtime, "intake", 1)["tests/paths.yaml"].decode()
    content.fill(sample)
    page.get_by_test_id("save-test-file").click()
    page.wait_for_url("**/studio/intake/2/test-runs")
    expect(page.get_by_test_id("test-run-result")).to_contain_text("Sikeres")
    expect(page.locator("code", has_text="tests/returning.yaml").first).to_be_visible()
    assert "tests/returning.yaml" in packages.files_of(live_server.runtime, "intake", 2)

    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    page.goto("/studio/intake/2/test-runs")
    expect(page.get_by_test_id("new-test-file-form")).to_contain_text("Process")
    page.get_by_test_id("new-test-file-name").fill("returning")
    shot(page, "studio-new-test-file-en")
    page.get_by_test_id("new-test-file").click()
    expect(page.locator("body")).to_contain_text("tests/returning.yaml exists already")
    assert all("422" in e for e in page.js_errors), page.js_errors  # the refusal itself
