"""In the browser, the job-retention figures as a declared report (docs/indicators.md): the year 2026 of five
follow-ups of two mentors (tests/integration/test_job_retention_report.py), read by the manager in both
languages — the figures, the mentor filter named as the service names the role, a drill-down, and the old
address leading to the report."""
from __future__ import annotations

from tests.integration.test_job_retention_report import follow_through_2026

YEAR = "from=2026-01-01&to=2026-12-31"


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def test_the_manager_reads_the_job_retention_figures_in_both_languages(page, live_server, login, shot):
    follow_through_2026(live_server.runtime, live_server.people)
    login(page, "mark")
    page.goto(f"/reports/job-retention?{YEAR}")  # the old address
    page.wait_for_url(f"**/reports/job_retention?{YEAR}")
    assert page.locator("label[for=r-cw]").inner_text() == "Mentor"
    assert page.locator("#r-cw option").first.inner_text() == "Mind"
    main = page.locator("main").inner_text()
    assert "Munkahelymegtartás – utókövetés" in main and "Caseworker" not in main and "Családgondozó" not in main
    values = {i: page.get_by_test_id(f"value-{i}").inner_text().strip()
              for i in ("O1", "O2", "O3", "O4", "O5", "O6", "O7", "R1", "R2", "R3")}
    assert values == {"O1": "4", "O2": "20", "O3": "4", "O4": "9", "O5": "7", "O6": "4", "O7": "6", "R1": "3",
                      "R2": "2", "R3": "66,67 %"}
    sexes = page.get_by_test_id("table-sexes").inner_text()
    assert "nő" in sexes and "nincs megadva" in sexes and "not recorded" not in sexes
    assert "25 év alatt" in page.get_by_test_id("table-ages").inner_text()
    shot(page, "job-retention-report-hu")

    _switch(page, "en")
    assert page.locator("label[for=r-cw]").inner_text() == "Mentor"
    main = page.locator("main").inner_text()
    assert "Job retention – follow-up" in main and "Munkahelymegtartás" not in main
    assert page.get_by_test_id("value-R3").inner_text().strip() == "66.67 %"
    quarters = page.get_by_test_id("table-quarters").inner_text()
    assert "2026-Q4" in quarters and "Bela" in quarters
    assert "under 25" in page.get_by_test_id("table-ages").inner_text()
    shot(page, "job-retention-report-en")

    # The consultations with lay helpers: four visits of three cases.
    page.get_by_test_id("value-O6").locator("a").click()
    page.wait_for_url("**/reports/job_retention/cases?indicator=O6**")
    assert page.locator("main table tbody tr").count() == 3
    shot(page, "job-retention-report-drill-en")
    assert page.js_errors == []
