"""In the browser, the self-help groups' attitude change in their report (docs/reports.md, "Paired
questionnaires"): the figures of tests/integration/test_self_help_attitude_report.py, read by the manager in both
languages, without links to cases."""
from __future__ import annotations

from tests.integration.test_self_help_attitude_report import answer_attitudes

YEAR = "from=2026-01-01&to=2026-12-31"


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def test_the_manager_reads_the_attitude_change_in_both_languages(page, live_server, login, shot):
    answer_attitudes(live_server.runtime, live_server.people)
    login(page, "mark")
    page.goto(f"/reports/self_help_groups?{YEAR}")
    values = {i: page.get_by_test_id(f"value-{i}").inner_text().strip() for i in ("A1", "A2", "A3", "A4", "A5", "A6")}
    assert values == {"A1": "3", "A2": "1", "A3": "1", "A4": "1", "A5": "33,33\u00a0%", "A6": "1"}
    assert page.get_by_test_id("value-A2").locator("a").count() == 0  # no cases behind anonymous answers
    table = page.get_by_test_id("table-attitude_change").inner_text()
    assert "Mennyire bízik abban" in table and "összesen" in table and "3,67" in table
    shot(page, "self-help-attitude-report-hu")
    _switch(page, "en")
    table = page.get_by_test_id("table-attitude_change").inner_text()
    assert "How confident are you" in table and "total (the sum of the items)" in table and "-0.33" in table
    assert "Attitude changed for the better" in page.locator("main").inner_text()
    shot(page, "self-help-attitude-report-en")
    assert page.js_errors == []
