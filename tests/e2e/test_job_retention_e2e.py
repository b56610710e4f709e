"""In the browser, job retention beside its calendar (docs/processes.md): the mentor records an extra visit "as
needed" on the visit form, the next one opens empty, and she ends the follow-up because the job was lost — the case
closes and its timers are cancelled. Once in Hungarian, once in English."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.cases import cases
from engine.store import clock
from tests.integration.timer_helpers import local, ready_tasks, start_follow_up, timer_rows

TEXTS = {
    "hu": {"extra": "Szükség szerinti (soron kívüli) látogatás", "lost": "munkahely elvesztése miatt",
           "date": "2026.02.10", "lost_on": "2026.02.09", "done": "Lezárva",
           "refused": "2026.01.02 korábbi, mint 2026.01.31, a(z) „A munkaviszony kezdete” (3 lépés)"},
    "en": {"extra": "Extra visit as needed", "lost": "the job was lost",
           "date": "2026-02-10", "lost_on": "2026-02-09", "done": "Closed",
           "refused": "2026-01-02 is earlier than 2026-01-31, the “First day of employment” (step 3)"},
}


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def _complete(page) -> None:
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_an_extra_visit_then_the_follow_up_ended_as_the_job_was_lost(page, live_server, login, shot, lang):
    rt, people = live_server.runtime, live_server.people
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(rt, people.anna)
    clock.freeze(local("2026-02-10", 15))
    text = TEXTS[lang]
    login(page, "anna")
    if lang == "en":
        page.goto("/")
        _switch(page, "en")

    [extra] = ready_tasks(rt, case_id, "jr_extra_visit")
    page.goto(f"/tasks/{extra.id}")
    expect(page.locator("main h1")).to_contain_text(text["extra"])
    page.fill("#f-visit_date", text["date"])
    page.check("#w-contacts input[value=client]")
    page.check("#w-contacts input[value=institutions]")
    page.fill("#f-client_notes", "Munkaügyi ügyintézésben segítettünk.")
    page.check("#w-institution_kinds input[value=labour_office]")
    page.check("#f-still_employed-true")
    shot(page, f"job-retention-extra-visit-{lang}")
    _complete(page)
    assert not page.js_errors, page.js_errors

    # The next extra visit is there at once, on an empty sheet; the planned visit timer still waits.
    [again] = ready_tasks(rt, case_id, "jr_extra_visit")
    assert again.id != extra.id
    page.goto(f"/tasks/{again.id}")
    expect(page.locator("#f-visit_date")).to_have_value("")
    expect(page.locator("#w-contacts input[value=client]")).not_to_be_checked()
    assert {t.bpmn_id for t in timer_rows(rt, case_id, "scheduled")} == {"visit_due", "day_180_due"}

    [lost] = ready_tasks(rt, case_id, "jr_job_lost")
    page.goto(f"/tasks/{lost.id}")
    expect(page.locator("main h1")).to_contain_text(text["lost"])
    page.fill("#f-job_lost_on", "2026.01.02" if lang == "hu" else "2026-01-02")  # before the first day of work
    page.select_option("#f-job_lost_reason", "probation")
    page.fill("#f-job_lost_details", "A próbaidő alatt a munkáltató megszüntette a munkaviszonyt.")
    page.check("#f-satisfaction_sheet-false")
    _complete(page)
    # Refused, naming the field and the step the limit comes from (this seed numbers no fields); input kept.
    expect(page.locator("#e-job_lost_on")).to_contain_text(text["refused"])
    expect(page.locator("#f-job_lost_details")).to_have_value(
        "A próbaidő alatt a munkáltató megszüntette a munkaviszonyt.")
    shot(page, f"job-retention-job-lost-refused-{lang}")
    assert [e for e in page.js_errors if "422" not in e] == []  # the refusal's status is the only one
    page.js_errors.clear()
    page.fill("#f-job_lost_on", text["lost_on"])
    shot(page, f"job-retention-job-lost-{lang}")
    _complete(page)
    assert not page.js_errors, page.js_errors

    case = cases.get_case(rt, case_id, people.anna)
    assert case["status"] == "completed" and case["data"]["job_lost_reason"] == "probation"
    assert timer_rows(rt, case_id, "scheduled") == []
    assert {t.bpmn_id for t in timer_rows(rt, case_id, "cancelled")} >= {"visit_due", "day_180_due"}
    page.goto(f"/cases/{case_id}")
    main = page.locator("main").inner_text()
    assert re.search(text["done"], main), main[:400]
    shot(page, f"job-retention-ended-early-case-{lang}")
