"""Consent and masking in a real browser, in Hungarian and English: the caseworker sees the consent her client
signed at entry, records its withdrawal, is refused the next step with the way to record consent, records it
again; the administrator (a role that needs no names) sees the case and the audit log by code only; the
data-protection officer downloads the person's data with their consents. Screenshots go to
test-artifacts/consent-*.png."""
from __future__ import annotations

import json

from playwright.sync_api import expect

from engine.cases import cases
from engine.people import users
from engine.store import clock
from tests import case_management_data as cm
from tests import demo_data
from tests.conftest import _password_hash
from tests.integration.helpers import do, task_of


def test_consent_withdrawn_and_given_again_masked_views_and_the_dpo_export(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    with rt.db.unit_of_work() as session:
        users.create_user(session, "dpo", "Dóra Adat", [users.DATA_PROTECTION_OFFICER], None, "test", clock.now(),
                          password_hash=_password_hash("dpo"))
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = cases.start_case(rt, "case_management", people.anna, code)["case_id"]
    do(rt, case_id, "cm_entry", cm.entry(day="2026-03-02"), people.anna)  # the client signs at entry

    # ---- Hungarian: anna sees the consent in force, records its withdrawal -----------------------------------
    login(page, "anna")
    page.goto(f"/cases/{case_id}")
    panel = page.get_by_test_id("consent-panel")
    expect(panel.get_by_test_id("consent-state")).to_have_attribute("data-state", "in_force")
    expect(panel).to_contain_text("Adatkezelési hozzájárulás")
    expect(panel).to_contain_text("Jogalap: GDPR 6. cikk (1) a)")
    expect(panel).to_contain_text("Lejár: 2029.03.01.")
    expect(page.get_by_test_id("client-name")).to_contain_text("Kovács")  # her own case: names
    panel.scroll_into_view_if_needed()
    shot(page, "consent-in-force-hungarian")
    page.fill("#consent-withdrawn-on", "2026.03.02")  # the test clock stands at 2026.03.02
    page.fill("#consent-reason", "A kliens aznapi levele")
    page.get_by_test_id("consent-withdraw").click()
    page.wait_for_load_state("domcontentloaded")
    panel = page.get_by_test_id("consent-panel")
    expect(panel.get_by_test_id("consent-state")).to_have_attribute("data-state", "withdrawn")
    expect(panel).to_contain_text("Visszavonva: 2026.03.02.")
    expect(page.locator(".flashes")).to_contain_text("A visszavonás rögzítve")
    panel.scroll_into_view_if_needed()
    shot(page, "consent-withdrawn-hungarian")

    # ---- the next step is refused, saying why and where to record consent ----------------------------------
    page.goto(f"/tasks/{task_of(rt, case_id, 'cm_assessment')}")
    # The browser's own required-field checks off: the server refuses before it reads a field.
    page.eval_on_selector("form:has([data-testid=complete])", "f => { f.noValidate = true; }")
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")
    alert = page.get_by_test_id("task-alert")
    expect(alert).to_contain_text("a kliens visszavonta adatkezelési hozzájárulását")
    shot(page, "consent-step-refused-hungarian")
    page.get_by_test_id("consent-link").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page).to_have_url(f"{live_server.url}/cases/{case_id}#consent")

    # ---- English: the client signs again, anna records it, the case goes on --------------------------------
    page.get_by_test_id("switch-language").click()
    page.wait_for_load_state("domcontentloaded")
    page.goto(f"/cases/{case_id}")
    panel = page.get_by_test_id("consent-panel")
    expect(panel).to_contain_text("Data-processing consent")
    expect(panel).to_contain_text("I consent to the provider processing my personal data")
    page.fill("#consent-given-on", "2026-03-02")
    page.get_by_test_id("consent-signed").check()
    page.get_by_test_id("consent-give").click()
    page.wait_for_load_state("domcontentloaded")
    panel = page.get_by_test_id("consent-panel")
    expect(panel.get_by_test_id("consent-state")).to_have_attribute("data-state", "in_force")
    expect(panel.get_by_test_id("consent-rows").get_by_test_id("consent-row")).to_have_count(2)
    expect(panel).not_to_contain_text("Visszavonva")
    panel.scroll_into_view_if_needed()
    shot(page, "consent-given-again-english")
    # The refused step's 422 is the one expected console line; no script error, no CSP violation.
    assert [e for e in page.js_errors if "status of 422" not in e] == [], page.js_errors

    # ---- the administrator oversees every case but needs no names: codes only ----------------------------
    admin = page.context.browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    apage = admin.new_page()
    login(apage, "admin")
    apage.goto(f"/cases/{case_id}")
    expect(apage.get_by_test_id("client-code")).to_have_text(code)
    expect(apage.get_by_test_id("client-masked")).to_contain_text("Csak kóddal látható")
    expect(apage.locator("main")).not_to_contain_text("Kovács")
    shot(apage, "consent-masked-case-hungarian")
    apage.goto("/audit/")
    expect(apage.locator("main")).not_to_contain_text("Kovács")
    expect(apage.locator("main")).to_contain_text("•••")
    apage.get_by_test_id("switch-language").click()
    apage.wait_for_load_state("domcontentloaded")
    apage.goto("/audit/")
    expect(apage.locator("main")).to_contain_text("Step completed")
    expect(apage.locator("main")).not_to_contain_text("Tóth Mária")
    shot(apage, "consent-masked-audit-english")
    admin.close()

    # ---- the data-protection officer hands the person their data, consents included --------------------------
    dpo = page.context.browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    dpage = dpo.new_page()
    login(dpage, "dpo")
    dpage.goto(f"/privacy/clients/{code}")
    expect(dpage.locator("input[name=family_name]")).to_have_value("Kovács")
    shot(dpage, "consent-dpo-request-hungarian")
    with dpage.expect_download() as got:
        dpage.get_by_test_id("export-json").click()
    exported = json.loads(got.value.path().read_text(encoding="utf-8"))
    assert [c["status"] for c in exported["consents"]] == ["withdrawn", "in_force"]
    assert exported["client"]["family_name"] == "Kovács"
    dpage.get_by_test_id("switch-language").click()
    dpage.wait_for_load_state("domcontentloaded")
    dpage.goto(f"/privacy/clients/{code}")
    expect(dpage.locator("main")).to_contain_text("Access: all their data")
    shot(dpage, "consent-dpo-request-english")
    dpo.close()
