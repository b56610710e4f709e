"""The audit log and a case timeline as the manager mark reads them in a real browser, in Hungarian and in
English: event names in words, before/after tables with field labels and numbers, times as 2026.03.02 10:00
(ISO in English), day filters typed as text, the process filter by name, repeated views collapsed with every view
one click away. Screenshots go to test-artifacts/audit-*.png."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import demo_data


def test_manager_reads_the_audit_and_a_timeline_in_hungarian_and_english(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = demo_data.run_family_care(rt, people.anna, people.lea, code, stop_at="3.6")

    # ---- Hungarian: the audit log, filtered by process name and a day typed as ÉÉÉÉ.HH.NN --------------
    login(page, "mark")
    page.goto("/audit/")
    expect(page.locator("#a-from")).to_have_attribute("placeholder", "ÉÉÉÉ.HH.NN")
    page.select_option("#a-process", label="Felmérés, családgondozási folyamat megtervezése")
    page.select_option("#a-kind", label="Lépés elvégezve")
    page.fill("#a-from", "2026.03.02")
    page.fill("#a-to", "2026.03.02")
    page.get_by_role("button", name="Szűrés").click()
    page.wait_for_load_state("domcontentloaded")
    events = page.get_by_test_id("audit-events")
    expect(events).to_contain_text("Lépés elvégezve")
    expect(events).to_contain_text("Együttműködési megállapodás dátuma (46. mező)")
    expect(events).to_contain_text("2026.03.02 10:00")
    expect(events).not_to_contain_text("task_completed")
    expect(events).not_to_contain_text("\\u00")
    expect(page.locator("#a-from")).to_have_value("2026.03.02")
    shot(page, "audit-log-hungarian")

    # ---- the case timeline: mark's repeated views are one line, every view one click away ---------------
    for _ in range(3):  # a page shows the views before its own
        page.goto(f"/cases/{case_id}")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("mark 2 alkalommal megtekintette")
    expect(timeline).to_contain_text("Lépés elvégezve")
    expect(timeline.get_by_test_id("changes").first).to_be_visible()
    timeline.scroll_into_view_if_needed()
    shot(page, "audit-timeline-hungarian")
    page.get_by_test_id("every-view").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.get_by_test_id("timeline").get_by_text("Eset megtekintve")).to_have_count(3)
    expect(page.get_by_test_id("collapse-views")).to_be_visible()

    # ---- English: the same pages in English, times in ISO -------------------------------------------------
    page.get_by_test_id("switch-language").click()
    page.wait_for_load_state("domcontentloaded")
    page.goto(f"/cases/{case_id}")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text(re.compile(r"Viewed [4-9] times by mark"))
    expect(timeline).to_contain_text("Step completed")
    expect(timeline).to_contain_text("(field 46)")
    expect(timeline).not_to_contain_text("Lépés elvégezve")
    shot(page, "audit-timeline-english")
    page.goto(f"/audit/?case={case_id}")
    events = page.get_by_test_id("audit-events")
    expect(events).to_contain_text("Case started")
    expect(events).to_contain_text("Step completed")
    expect(events).to_contain_text(re.compile(r"2026-03-02 10:00"))
    expect(page.locator("#a-from")).to_have_attribute("placeholder", "YYYY-MM-DD")
    shot(page, "audit-log-english")
    page.goto(f"/audit/cases/{case_id}")
    expect(page.get_by_test_id("case-history")).to_contain_text("Case viewed")
    expect(page.get_by_test_id("case-history")).not_to_contain_text("case_viewed")
    shot(page, "audit-history-english")
