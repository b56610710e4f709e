"""A caseworker's whole family-care case in a real browser (chromium), through the task pages.

Anna registers a client at intake, draws up the action plan with two household members and two income types
each (the per-capita income follows the amounts as she types, and the server recomputes it), records two
meetings and an action, answers 3.6 "no" and 3.9 "yes", amends the plan, closes the case, and the professional
lead agrees. Along the way: conditional parts appear and disappear, a refused submission keeps what was typed,
and the page switches to English. Screenshots of the key pages go to test-artifacts/.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.cases import cases


def _number(page, selector: str) -> str:
    return page.locator(selector).inner_text().replace("\u00a0", " ").replace("\u202f", " ").strip()


def _complete(page):
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def _visible(page, name: str):
    return expect(page.locator(f"#w-{name}"))


def test_a_family_care_case_from_intake_to_the_leads_agreement(page, live_server, login, shot):
    login(page, "anna")

    # ---- intake: register the client ---------------------------------------------------------------------
    page.goto("/cases")
    page.get_by_test_id("start-intake").click()
    page.get_by_test_id("start-confirm").click()  # the start asks first
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("task-name")).to_have_text("Esetfelvétel")
    page.fill("#f-family_name", "Kovács")
    page.fill("#f-given_name", "Éva")
    page.fill("#f-birth_date", "1984.5.7")
    page.locator("#f-birth_date").blur()
    expect(page.locator("#f-birth_date")).to_have_value("1984.05.07")  # tidied to YYYY.MM.DD
    page.fill("#f-mother_name", "Tóth Mária")
    page.fill("#f-intake_problem", "Lakbérhátralék, a gyermekek iskolai hiányzásai.")
    _complete(page)
    page.wait_for_url("**/inbox")
    intake_case = cases.list_cases(live_server.runtime, live_server.people.anna)[0]
    assert intake_case["status"] == "completed" and intake_case["client_code"]

    # ---- start family care from the intake case ----------------------------------------------------------
    page.goto(f"/cases/{intake_case['case_id']}")
    page.get_by_test_id("start-family-care").click()
    page.get_by_test_id("start-confirm").click()  # the start asks first
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.1")
    expect(page.get_by_test_id("client-code")).to_have_text(intake_case["client_code"])
    expect(page.locator("#f-presented_problem")).to_have_value("Lakbérhátralék, a gyermekek iskolai hiányzásai.")

    # "other, namely…" appears only while "other" is ticked
    _visible(page, "problem_types_other").to_be_hidden()
    page.check("input[name=problem_types][value=other]")
    _visible(page, "problem_types_other").to_be_visible()
    page.uncheck("input[name=problem_types][value=other]")
    _visible(page, "problem_types_other").to_be_hidden()
    page.check("input[name=problem_types][value=financial]")
    page.check("input[name=problem_types][value=other]")
    page.fill("#f-problem_types_other", "lakhatási bizonytalanság")
    page.fill("#f-persons_concerned", "4")
    page.fill("#f-household_size", "4")

    # Two household members, two income types each; the blocks follow the ticked types (13 → 14–25)
    add_member = page.locator("#w-household_members > .add-row [data-add-row]")
    add_member.click()
    page.fill("#f-household_members-0-name", "Kovács János")
    page.select_option("#f-household_members-0-kinship", "spouse")
    page.select_option("#f-household_members-0-residence_status", "tenant")
    _visible(page, "household_members-0-work_incomes").to_be_hidden()
    page.check("input[name=household_members-0-income_types][value=work]")
    page.check("input[name=household_members-0-income_types][value=child_care]")
    _visible(page, "household_members-0-work_incomes").to_be_visible()
    _visible(page, "household_members-0-pension_incomes").to_be_hidden()
    page.select_option("#f-household_members-0-work_incomes-0-kind", "wage")
    page.fill("#f-household_members-0-work_incomes-0-amount", "180 000")
    assert _number(page, "#f-per_capita_income") == "45 000"  # live: 180 000 / 4
    page.locator("#w-household_members-0-work_incomes > .add-row [data-add-row]").click()
    page.select_option("#f-household_members-0-work_incomes-1-kind", "other")
    _visible(page, "household_members-0-work_incomes-1-kind_other").to_be_visible()
    page.fill("#f-household_members-0-work_incomes-1-kind_other", "alkalmi munka")
    page.fill("#f-household_members-0-work_incomes-1-amount", "20000")
    page.select_option("#f-household_members-0-child_incomes-0-kind", "family_allowance")
    page.fill("#f-household_members-0-child_incomes-0-amount", "12200")

    add_member.click()
    page.fill("#f-household_members-1-name", "Kovács Lili")
    page.select_option("#f-household_members-1-kinship", "child")
    page.select_option("#f-household_members-1-residence_status", "family_member")
    page.check("input[name=household_members-1-income_types][value=pension]")
    page.check("input[name=household_members-1-income_types][value=other]")
    page.select_option("#f-household_members-1-pension_incomes-0-kind", "widows_pension")
    page.fill("#f-household_members-1-pension_incomes-0-amount", "30000")
    page.select_option("#f-household_members-1-other_revenues-0-kind", "scholarship")
    page.fill("#f-household_members-1-other_revenues-0-amount", "15000")

    # A third member added by mistake and removed again
    add_member.click()
    page.fill("#f-household_members-2-name", "Tévedés")
    page.locator("#r-household_members-2 > .row-actions [data-remove-row]").click()
    expect(page.locator("#f-household_members-2-name")).to_have_count(0)

    # The client's own income (26 → 27–38)
    page.check("input[name=client_income_types][value=pension]")
    page.select_option("#f-client_pension_incomes-0-kind", "disability_pension")
    page.fill("#f-client_pension_incomes-0-amount", "95000")
    assert _number(page, "#f-total_income") == "352 200"
    assert _number(page, "#f-per_capita_income") == "88 050"
    page.fill("#f-household_size", "3")
    assert _number(page, "#f-per_capita_income") == "117 400"
    page.fill("#f-household_size", "4")

    # 43 → 44 with a yes; 45 (the action plan) either way
    page.check("#f-needs_other_helpers-true")
    _visible(page, "other_helpers").to_be_visible()
    _visible(page, "action_plan").to_be_visible()
    page.check("#f-needs_other_helpers-false")
    _visible(page, "other_helpers").to_be_hidden()
    _visible(page, "action_plan").to_be_visible()
    page.fill("#f-action_plan", "Adósságkezelési tanácsadás; iskolai kapcsolattartás; havi költségvetés.")
    page.fill("#f-status_assessment_date", "2026.03.02")
    shot(page, "01-assessment-filled")
    # On a phone (and at 200% zoom, the same width in CSS pixels) the form reflows: no sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "01b-assessment-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Field 7 says 4 but two other residents are listed: a warning first (not a refusal); completing again sends
    page.get_by_test_id("complete").click()
    expect(page.get_by_test_id("count-warning")).to_be_visible()
    # Refused (field 1 missing): the error sits at the field, nothing typed is lost, 40 recomputed by the server
    _complete(page)
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#w-taken_into_care_date .field-errors")).to_contain_text("Kötelező")
    expect(page.locator("#f-household_members-1-other_revenues-0-amount")).to_have_value("15000")
    expect(page.locator("#f-household_members-0-work_incomes-1-kind_other")).to_have_value("alkalmi munka")
    assert _number(page, "#f-per_capita_income") == "88 050"
    shot(page, "02-assessment-refused")
    page.fill("#f-taken_into_care_date", "2026.02.16")
    _complete(page)

    # ---- 3.2 agreement -----------------------------------------------------------------------------------
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.2")
    family = cases.list_cases(live_server.runtime, live_server.people.anna)[0]
    assert family["process_key"] == "family_care"
    case_id = family["case_id"]
    stored = cases.get_case(live_server.runtime, case_id, live_server.people.anna)["data"]
    assert stored["total_income"] == 352200 and stored["per_capita_income"] == 88050
    assert len(stored["household_members"]) == 2 and stored["taken_into_care_date"] == "2026-02-16"
    page.fill("#f-agreement_date", "2026.03.05")
    page.select_option("#f-review_frequency", "monthly")
    _complete(page)

    # ---- 3.3 casework: two meetings and an action ----------------------------------------------------------
    expect(page.get_by_test_id("step")).to_contain_text("3.3")
    add_meeting = page.locator("#w-meetings > .add-row [data-add-row]")
    add_meeting.click()
    page.fill("#f-meetings-0-date", "2026.02.23")
    page.select_option("#f-meetings-0-place", "client_home")
    page.fill("#f-meetings-0-log", "Családlátogatás: a befizetési csekkeket bemutatták.")
    add_meeting.click()
    page.fill("#f-meetings-1-date", "2026.03.02")
    page.select_option("#f-meetings-1-place", "other")
    _visible(page, "meetings-1-place_other").to_be_visible()
    page.fill("#f-meetings-1-place_other", "Iskola")
    page.fill("#f-meetings-1-log", "Egyeztetés az osztályfőnökkel.")
    page.locator("#w-actions > .add-row [data-add-row]").click()
    page.fill("#f-actions-0-date", "2026.03.17")
    page.fill("#f-actions-0-log", "Adósságkezelési tanácsadásra jelentkezés.")
    page.check("input[name=casework_next][value=review]")
    shot(page, "03-casework")
    _complete(page)

    # ---- 3.6 in English: "no" → 3.9 "yes" → 3.7 -------------------------------------------------------------
    expect(page.get_by_test_id("step")).to_contain_text("3.6")
    page.get_by_test_id("switch-language").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.get_by_test_id("step")).to_have_text("Step 3.6")
    expect(page.locator("#w-commitments_met legend")).to_contain_text(
        "Are the commitments of the cooperation agreement met?")
    page.fill("#f-review_date", "2026-03-02")
    page.select_option("#f-review_checks-0-kind", "own_contribution")
    page.fill("#f-review_checks-0-name", "Debt settlement own contribution")
    page.fill("#f-review_checks-0-month", "2026-02")
    page.check("#f-review_checks-0-shown-false")
    shot(page, "04-decision-3.6-english")
    page.check("#f-commitments_met-false")
    _visible(page, "goal_reached").to_be_hidden()
    _complete(page)
    expect(page.get_by_test_id("step")).to_have_text("Step 3.9")
    _visible(page, "referral_to").to_be_hidden()
    page.check("#f-further_service_available-true")  # a yes records the further service and why
    _visible(page, "referral_to").to_be_visible()
    page.select_option("#f-referral_to_kind", "service")
    page.fill("#f-referral_to", "Debt management service")
    page.fill("#f-referral_reason", "The rent arrears need a repayment plan.")
    _complete(page)
    expect(page.get_by_test_id("step")).to_have_text("Step 3.7")
    expect(page.locator("#f-referral_to")).to_have_value("Debt management service")  # 3.7 refines it
    page.check("#f-needs_other_helpers-true")
    _visible(page, "other_helpers").to_be_visible()
    _visible(page, "action_plan").to_be_visible()  # 45 kept beside 44, pre-filled with the plan so far
    expect(page.locator("#f-action_plan")).to_have_value(re.compile("Adósságkezelési tanácsadás"))
    page.fill("#f-other_helpers", "Családterapeuta; adósságkezelési tanácsadó")
    page.fill("#f-agreement_date", "2026-03-20")
    shot(page, "05-plan-amendment")
    _complete(page)

    # ---- back at casework, then review "yes" and the closure (3.8) -------------------------------------------
    expect(page.get_by_test_id("step")).to_have_text("Step 3.3")
    # The case's meetings are kept, shown read-only (x-append-only): no input holds them.
    expect(page.locator("#r-meetings-1[data-carried-row]")).to_contain_text("Iskola")
    expect(page.locator("#f-meetings-1-place_other")).to_have_count(0)
    expect(page.locator("#r-meetings-0[data-carried-row]")).to_contain_text("2026-02-23")  # English: ISO dates
    page.check("input[name=casework_next][value=review]")
    _complete(page)
    # The first review's check is kept, read-only; this review adds its own row after it.
    expect(page.locator("#r-review_checks-0[data-carried-row]")).to_contain_text("Debt settlement own contribution")
    page.fill("#f-review_date", "2026-03-02")
    page.select_option("#f-review_checks-1-kind", "own_contribution")
    page.fill("#f-review_checks-1-name", "Debt settlement own contribution")
    page.fill("#f-review_checks-1-month", "2026-02")
    page.check("#f-review_checks-1-shown-true")
    page.check("#f-commitments_met-true")
    _visible(page, "goal_reached").to_be_visible()
    page.check("#f-goal_reached-true")
    _complete(page)
    expect(page.get_by_test_id("step")).to_have_text("Step 3.8")
    # The evaluation comes first (results, the agreement's commitments, the changes), then fields 52–55.
    expect(page.get_by_test_id("review")).to_contain_text("Adósságkezelési tanácsadás")  # the action plan
    page.fill("#f-results_evaluation", "The rent arrears are settled.")
    page.fill("#f-commitments_evaluation", "Both reviews saw the slips; the own contribution was paid.")
    page.fill("#f-changes_recorded", "Regular income; a monthly budget.")
    page.fill("#f-closure_date", "2026-06-30")
    page.select_option("#f-closure_reason", "successful")
    page.check("#f-follow_up-true")  # 54 → 55
    _visible(page, "follow_up_agreement").to_be_visible()
    page.check("#f-follow_up-false")
    _visible(page, "follow_up_agreement").to_be_hidden()
    shot(page, "06-closure")
    _complete(page)
    page.wait_for_url("**/inbox")  # the next step is the professional lead's
    expect(page.locator(".flash").first).to_contain_text("The step is done")
    page.get_by_test_id("logout").click()

    # ---- the professional lead agrees --------------------------------------------------------------------
    login(page, "lea")
    page.get_by_test_id("closures").locator("[data-testid^=open-task-]").first.click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    expect(page.get_by_test_id("step")).to_contain_text("3.8")
    page.check("#f-closure_agreed-true")
    page.fill("#f-closure_agreement_note", "Egyetértek a lezárással.")
    shot(page, "07-lead-agreement")
    _complete(page)
    expect(page.locator(".flash").first).to_contain_text("az eset lezárult")
    case = cases.get_case(live_server.runtime, case_id, live_server.people.lea, with_data=False)
    assert case["status"] == "completed"
    page.goto(f"/cases/{case_id}")
    shot(page, "08-case-closed")
    # No script error and no CSP violation; the one refused submission (422) is the only failed load.
    unexpected = [e for e in page.js_errors if "status of 422" not in e]
    assert not unexpected, unexpected
