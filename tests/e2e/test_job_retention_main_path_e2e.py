"""In the browser, job retention's main path (docs/processes.md): the mentor records the follow-up plan, the first
planned visit comes on its day (its timer fired by the engine with the clock moved) and the day-180 check closes the
case; the case page keeps showing what the earlier steps recorded. Once in Hungarian, once in English."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from engine.cases import cases
from engine.store import clock
from engine.timers import timers
from tests import demo_data
from tests.integration.timer_helpers import ENTRY, complete, local, ready_tasks, timer_rows

PLAN_NOTE = "Havonta látogatás a raktárban, a műszakvezetővel együtt."
VISIT_NOTE = "Az első héten jól beilleszkedett, a műszakvezető elégedett."
CLOSING_NOTE = "A munkáltató igazolta a foglalkoztatást, az utókövetés lezárult."

TEXTS = {
    "hu": {"plan": "Utókövetési terv készítése", "visit": "Utókövetési látogatás",
           "check": "Foglalkoztatás a 180. napon", "complete": "Lépés befejezése",
           "intensity": "csökkenő intenzitás a leírás szerint", "months": "Utókövetés időtartama (hónap)",
           "visit_label": "A látogatás dátuma", "check_label": "Az ellenőrzés dátuma",
           "case": "Munkahelymegtartás segítése", "next": "2. utókövetési látogatás", "done": "Lezárva"},
    "en": {"plan": "Make the follow-up plan", "visit": "Follow-up visit",
           "check": "Employment on day 180", "complete": "Complete the step",
           "intensity": "decreasing as the standard says", "months": "Duration of the follow-up (months)",
           "visit_label": "Date of the visit", "check_label": "Date of the check",
           "case": "Job-retention support and follow-up", "next": "follow-up visit 2", "done": "Closed"},
}
OTHER = {"hu": "en", "en": "hu"}


def _date(lang: str, iso: str) -> str:
    return iso.replace("-", ".") if lang == "hu" else iso


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def _complete(page) -> None:
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def _choose(page, field: str, value: str) -> None:
    """A choice is a select or a radio group, whichever the form renders for it."""
    el = page.locator(f"#f-{field}")
    if el.count() and el.evaluate("e => e.tagName") == "SELECT":
        page.select_option(f"#f-{field}", value)
    else:
        page.check(f"#f-{field}-{value}")


def _in_language(page, lang: str, *keys: str) -> str:
    """The page's texts are the chosen language's: its own words are there, the other language's are not."""
    main = page.locator("main").inner_text()
    for key in keys:
        assert TEXTS[lang][key] in main, (key, main[:600])
        assert TEXTS[OTHER[lang]][key] not in main, (key, main[:600])
    return main


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_plan_then_a_planned_visit_on_its_day_then_the_day_180_check_closes_the_case(
        page, live_server, login, shot, lang):
    rt, people = live_server.runtime, live_server.people
    clock.freeze(local("2026-01-28", 10))
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = cases.start_case(rt, "job_retention", people.anna, code)["case_id"]
    complete(rt, case_id, "jr_entry", {**ENTRY, "employment_start": "2026-01-31"}, people.anna)
    clock.freeze(local("2026-02-03", 9))

    def log_in() -> None:  # again after the clock moves on days: a session does not last that long
        page.context.clear_cookies()
        login(page, "anna")
        if page.locator("html").get_attribute("lang") != lang:
            _switch(page, lang)
        assert page.locator("html").get_attribute("lang") == lang

    log_in()

    # ---- 4.1 the follow-up plan --------------------------------------------------------------------------------
    [plan] = ready_tasks(rt, case_id, "jr_plan")
    page.goto(f"/tasks/{plan.id}")
    expect(page.get_by_test_id("task-name")).to_contain_text(TEXTS[lang]["plan"])
    page.check("#f-employer_evaluation_agreed-true")
    page.fill("#f-employer_evaluation_date", _date(lang, "2026-02-02"))
    page.fill("#f-employer_evaluation", "Pontos, a csapatmunkában bizonytalan.")
    page.fill("#f-follow_up_months", "6")
    _choose(page, "intensity", "standard")
    page.check("#w-interventions input[value=client_consultation]")
    page.check("#w-interventions input[value=employer_consultation]")
    page.fill("#f-plan_notes", PLAN_NOTE)
    _in_language(page, lang, "plan", "complete", "intensity", "months")
    shot(page, f"job-retention-main-1-plan-{lang}")
    _complete(page)
    assert not page.js_errors, page.js_errors
    due = {t.bpmn_id: t.due_at for t in timer_rows(rt, case_id, "scheduled")}
    assert set(due) == {"visit_due", "day_180_due"}

    # ---- 4.2 the first planned visit, on its day (the standard intensity: a week after the first day of work) ---
    clock.freeze(due["visit_due"] + dt.timedelta(hours=9))  # 9 in the morning of the visit day
    assert timers.fire_due(rt, "w") == 1
    log_in()
    [visit] = ready_tasks(rt, case_id, "jr_visit")
    page.goto(f"/tasks/{visit.id}")
    expect(page.get_by_test_id("task-name")).to_contain_text(TEXTS[lang]["visit"])
    expect(page.locator("#f-visit_date")).to_have_value(_date(lang, "2026-02-07"))  # its day, pre-filled
    _in_language(page, lang, "visit", "complete", "visit_label")
    page.check("#w-contacts input[value=client]")
    page.check("#w-contacts input[value=employer]")
    page.fill("#f-client_notes", "Beilleszkedik, a betanulás halad.")
    page.check("#w-employer_persons input[value=supervisor]")
    _choose(page, "employer_satisfaction", "satisfied")
    page.check("#f-still_employed-true")
    page.fill("#f-visit_notes", VISIT_NOTE)
    shot(page, f"job-retention-main-2-visit-{lang}")
    _complete(page)
    assert not page.js_errors, page.js_errors

    # The case page still shows the plan (its completed step with the values) and what comes next.
    page.goto(f"/cases/{case_id}")
    main = _in_language(page, lang, "case", "intensity", "next")
    assert PLAN_NOTE in main and VISIT_NOTE in main, main[:800]
    shot(page, f"job-retention-main-3-case-after-visit-{lang}")

    # ---- 6 the day-180 check closes the case --------------------------------------------------------------------
    clock.freeze(due["day_180_due"] + dt.timedelta(hours=9))
    assert timers.fire_due(rt, "w") >= 1  # the check, and the planned visits the mentor let pass meanwhile
    log_in()
    [check] = ready_tasks(rt, case_id, "jr_day_180_check")
    page.goto(f"/tasks/{check.id}")
    expect(page.get_by_test_id("task-name")).to_contain_text(TEXTS[lang]["check"])
    _in_language(page, lang, "check", "complete", "check_label")
    page.fill("#f-check_date", _date(lang, "2026-07-30"))
    page.check("#f-employed_on_day_180-true")
    page.check("#f-employer_certificate-true")
    page.fill("#f-certificate_date", _date(lang, "2026-07-29"))
    page.check("#f-satisfaction_sheet-true")
    page.fill("#f-closing_note", CLOSING_NOTE)
    shot(page, f"job-retention-main-4-day-180-check-{lang}")
    _complete(page)
    assert not page.js_errors, page.js_errors

    case = cases.get_case(rt, case_id, people.anna)
    assert case["status"] == "completed" and case["data"]["employed_on_day_180"] is True
    assert timer_rows(rt, case_id, "scheduled") == []
    page.goto(f"/cases/{case_id}")
    main = _in_language(page, lang, "case", "done")
    assert CLOSING_NOTE in main, main[:800]
    shot(page, f"job-retention-main-5-case-closed-{lang}")
    # The plan and the visit are further back in the closed case's history, a click away.
    page.locator("a[href*='history=all']:not([data-testid=every-view])").click()
    page.wait_for_load_state("domcontentloaded")
    main = _in_language(page, lang, "case", "done", "intensity")
    assert PLAN_NOTE in main and VISIT_NOTE in main and CLOSING_NOTE in main, main[:800]
