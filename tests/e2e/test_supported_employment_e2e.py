"""IPS supported employment (seed 004) in a real browser, in both languages: entry and the first employer contact
of the rapid job search; and a fidelity review whose data items open pre-filled from live data with their
evidence, agreed on the consensus page. Screenshots go to test-artifacts/."""
from __future__ import annotations

import datetime as dt

from playwright.sync_api import expect

from engine.cases import cases
from engine.store import clock
from tests import demo_data
from tests.integration.helpers import do, task_of
from tests.integration.test_ips_fidelity import DATA_SCORES, ITEMS, setup_review
from tests.integration.test_supported_employment import ENTRY, PROFILE

TODAY = dt.datetime(2026, 3, 6, 9, 0, tzinfo=dt.timezone.utc)


def _complete(page):
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def _language(page, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        page.click("[data-testid=switch-language]")
        page.wait_for_load_state()


def test_entry_and_the_first_employer_contact_in_both_languages(page, live_server, login, shot):
    clock.freeze(TODAY)
    rt, people = live_server.runtime, live_server.people
    login(page, "anna")
    for i, (lang, day) in enumerate((("hu", "2026.03.02"), ("en", "2026-03-02"))):
        code = demo_data.run_intake(rt, people.anna, i)
        case_id = cases.start_case(rt, "ips", people.anna, code)["case_id"]
        _language(page, lang)
        page.goto(f"/tasks/{task_of(rt, case_id, 'ips_entry')}")
        page.fill("#f-entry_date", day)
        page.check("#f-wants_competitive_work-true")
        page.fill("#f-agreement_date", day)
        shot(page, f"ips-entry-{lang}")
        _complete(page)
        do(rt, case_id, "ips_profile", {**PROFILE, "profile_date": "2026-03-03"}, people.anna)
        page.goto(f"/tasks/{task_of(rt, case_id, 'ips_first_search')}")
        page.locator("#w-employer_contacts > .add-row [data-add-row]").click()
        page.fill("#f-employer_contacts-0-date", "2026.03.05" if lang == "hu" else "2026-03-05")
        page.fill("#f-employer_contacts-0-employer", "Példa Kft.")
        page.select_option("#f-employer_contacts-0-contact_kind", "in_person")
        page.select_option("#f-employer_contacts-0-outcome", "vacancy")
        page.check("input[name=job_search_next][value=continue]")
        shot(page, f"ips-job-search-{lang}")
        _complete(page)
        data = cases.get_case(rt, case_id, people.anna)["data"]
        assert (data["first_employer_contact_date"], data["ips_phase"]) == ("2026-03-05", "job_search")
        assert data["entry_date"] == "2026-03-02" and ENTRY["wants_competitive_work"] is True


def test_a_fidelity_review_pre_filled_from_live_data_in_both_languages(page, live_server, login, shot):
    clock.freeze(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc))
    rt, people = live_server.runtime, live_server.people
    login(page, "lea")
    for lang, words in (("hu", ("Élő adat", "legfeljebb 20 kliens")), ("en", ("Live data", "20 or fewer clients"))):
        case_id = setup_review(rt, people.lea)
        _language(page, lang)
        page.goto(f"/tasks/{task_of(rt, case_id, 'fr_scoring')}")
        body = page.locator("body")
        expect(body).to_contain_text(words[0])   # the evidence, in the reader's language
        expect(body).to_contain_text(words[1])   # the caseload item's anchor for 5
        shot(page, f"ips-fidelity-scoring-{lang}")
        # Each reviewer scores at a step of their own; the first one's row is then kept read-only.
        for row, (name, caseload) in enumerate((("Lea", "4"), ("Judit", "2"))):
            page.goto(f"/tasks/{task_of(rt, case_id, 'fr_scoring')}")
            page.fill(f"#f-reviewer_scores-{row}-reviewer", name)
            for item in ITEMS:
                page.select_option(f"#f-reviewer_scores-{row}-{item}", caseload if item == "caseload" else "4")
            # Each reviewer's evidence is a row of their own: an earlier reviewer's stays read-only.
            page.locator("#w-item_evidence > .add-row [data-add-row]").click()
            page.select_option(f"#f-item_evidence-{row}-item", "disclosure")
            page.fill(f"#f-item_evidence-{row}-evidence", f"{name}: interjú a tanácsadókkal.")
            if row:
                expect(page.locator("#f-reviewer_scores-0-reviewer")).to_have_count(0)  # carried, not an input
                expect(page.locator("#f-item_evidence-0-evidence")).to_have_count(0)
                expect(body).to_contain_text("Lea: interjú a tanácsadókkal.")
                shot(page, f"ips-fidelity-scoring-second-reviewer-{lang}")
            _complete(page)
        scored = cases.get_case(rt, case_id, people.lea)["data"]
        assert [r["reviewer"] for r in scored["reviewer_scores"]] == ["Lea", "Judit"]
        assert [r["evidence"] for r in scored["item_evidence"]] == \
            ["Lea: interjú a tanácsadókkal.", "Judit: interjú a tanácsadókkal."]
        page.goto(f"/tasks/{task_of(rt, case_id, 'fr_consensus')}")
        # Each item's scores side by side, the item where the reviewers differ marked.
        table = page.get_by_test_id("side-by-side")
        expect(table.locator("thead")).to_contain_text("Judit")
        expect(page.get_by_test_id("side-by-side-caseload")).to_contain_text(
            "eltérő pontok" if lang == "hu" else "scores differ")
        expect(page.get_by_test_id("side-by-side-staff_focus")).not_to_have_class("differ")
        # Every reviewer's evidence gathered under its item, each with who recorded it.
        evidence = page.get_by_test_id("grouped-disclosure")
        expect(evidence).to_contain_text("Lea: interjú a tanácsadókkal.")
        expect(evidence).to_contain_text("Judit: interjú a tanácsadókkal.")
        expect(evidence).to_contain_text("Rögzítette" if lang == "hu" else "Recorded by")
        expect(evidence).to_contain_text("13. A munkavégző" if lang == "hu" else "13. Disclosure at work")
        page.get_by_test_id("review-reviewer_scores").screenshot(path=f"test-artifacts/ips-fidelity-side-by-side-{lang}.png")
        # No IPS case yet: the data answers only what has no cases behind it (a caseload of 0 → 5); the reviewers
        # agree the rest, the data's own scores kept as they opened.
        agreed = {item: scored.get(f"data_{item}") or "3" for item in DATA_SCORES}
        for item in ITEMS:
            if item not in DATA_SCORES:
                page.select_option(f"#f-{item}", "4")
            elif not scored.get(f"data_{item}"):
                page.select_option(f"#f-{item}", "3")
            else:
                expect(page.locator(f"#f-{item}")).to_have_value(scored[f"data_{item}"])
        shot(page, f"ips-fidelity-consensus-{lang}")
        _complete(page)
        data = cases.get_case(rt, case_id, people.lea)["data"]
        expected = 18 * 4 + sum(int(v) for v in agreed.values())
        assert (data["fidelity_total"], data["qualifies"]) == (expected, expected >= 74)
