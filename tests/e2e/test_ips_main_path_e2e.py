"""IPS supported employment's main path driven through a real browser, in Hungarian and in English: entry, the
vocational profile, the rapid job search with its employer contacts, a job start, follow-along support and leaving.
Every page is checked to be in the chosen language and to still show what an earlier step recorded. Screenshots
go to test-artifacts/."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from engine.cases import cases
from engine.store import clock
from tests import demo_data
from tests.integration.helpers import task_of

TODAY = dt.datetime(2026, 3, 25, 9, 0, tzinfo=dt.timezone.utc)

# Words each page shows in its own language only: the form's title and a section's label.
WORDS = {
    "ips_entry": {"hu": "Bekerülés", "en": "Entry"},
    "ips_profile": {"hu": "Munkavállalói profil", "en": "Vocational profile"},
    "ips_first_search": {"hu": "Munkáltatói kapcsolatok naplója", "en": "Employer-contact log"},
    "ips_job_search": {"hu": "Munkáltatói kapcsolatok naplója", "en": "Employer-contact log"},
    "ips_job_start": {"hu": "Munkahelyek", "en": "Jobs"},
    "ips_follow_along": {"hu": "Utókísérési napló", "en": "Follow-along log"},
}
OTHER = {"hu": "en", "en": "hu"}


def _date(lang: str, iso: str) -> str:
    return iso.replace("-", ".") if lang == "hu" else iso


def _language(page, lang: str) -> None:
    if page.locator("html").get_attribute("lang") != lang:
        page.click("[data-testid=switch-language]")
        page.wait_for_load_state()


def _choose(page, name: str, value: str) -> None:
    """A choice is drawn as radio buttons or as a list, depending on how many options it has."""
    radio = page.locator(f"input[name='{name}'][value='{value}']")
    if radio.count():
        radio.check()
    else:
        page.select_option(f"[name='{name}']", value)


def _open(page, rt, case_id: int, bpmn_id: str, lang: str):
    page.goto(f"/tasks/{task_of(rt, case_id, bpmn_id)}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    body = page.locator("body")
    expect(body).to_contain_text(WORDS[bpmn_id][lang])
    expect(body).not_to_contain_text(WORDS[bpmn_id][OTHER[lang]])
    return body


def _complete(page) -> None:
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("[aria-invalid=true]")).to_have_count(0)


def _add_row(page, field: str) -> None:
    page.locator(f"#w-{field} > .add-row [data-add-row]").click()
    page.wait_for_load_state("domcontentloaded")


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_the_ips_main_path_from_entry_to_leaving_in_the_browser(page, live_server, login, shot, lang):
    clock.freeze(TODAY)
    rt, people = live_server.runtime, live_server.people
    login(page, "anna")
    _language(page, lang)
    code = demo_data.run_intake(rt, people.anna, 0)
    case_id = cases.start_case(rt, "ips", people.anna, code)["case_id"]

    # 1 Entry and the agreement with the jobseeker.
    _open(page, rt, case_id, "ips_entry", lang)
    page.fill("#f-entry_date", _date(lang, "2026-03-02"))
    page.check("#f-wants_competitive_work-true")
    page.fill("#f-agreement_date", _date(lang, "2026-03-02"))
    shot(page, f"ips-main-entry-{lang}")
    _complete(page)

    # 2 The vocational profile: the jobseeker's own wishes.
    _open(page, rt, case_id, "ips_profile", lang)
    page.fill("#f-profile_date", _date(lang, "2026-03-03"))
    page.fill("#f-skills", "Raktári rend, targoncavizsga.")
    page.fill("#f-job_wishes", "Raktári munka a lakóhelye közelében.")
    page.fill("#f-wanted_hours_per_week", "30")
    _choose(page, "disclosure_preference", "partly")
    shot(page, f"ips-main-profile-{lang}")
    _complete(page)

    # 3 Rapid job search: the first employer contact; the search goes on.
    _open(page, rt, case_id, "ips_first_search", lang)
    _add_row(page, "employer_contacts")
    page.fill("#f-employer_contacts-0-date", _date(lang, "2026-03-05"))
    page.fill("#f-employer_contacts-0-employer", "Példa Kft.")
    page.select_option("#f-employer_contacts-0-contact_kind", "in_person")
    page.select_option("#f-employer_contacts-0-outcome", "vacancy")
    _choose(page, "job_search_next", "continue")
    shot(page, f"ips-main-first-search-{lang}")
    _complete(page)

    # 3 again: the first contact is carried read-only; a second contact, an interview, and the jobseeker starts work.
    body = _open(page, rt, case_id, "ips_job_search", lang)
    carried = page.locator("#w-employer_contacts [data-carried-rows]")
    expect(carried).to_contain_text("Példa Kft.")
    expect(carried).to_contain_text("álláshely van / lesz" if lang == "hu" else "a vacancy exists or will")
    expect(page.locator("#f-employer_contacts-0-employer")).to_have_count(0)
    expect(body).to_contain_text(_date(lang, "2026-03-05"))  # the first contact's day, computed and shown
    _add_row(page, "employer_contacts")
    page.fill("#f-employer_contacts-1-date", _date(lang, "2026-03-10"))
    page.fill("#f-employer_contacts-1-employer", "Másik Bt.")
    page.select_option("#f-employer_contacts-1-contact_kind", "with_client")
    page.select_option("#f-employer_contacts-1-outcome", "job_offer")
    _choose(page, "job_search_next", "job_started")
    shot(page, f"ips-main-job-search-{lang}")
    _complete(page)

    # 4 The job start and the support agreed with the employer.
    _open(page, rt, case_id, "ips_job_start", lang)
    if not page.locator("#f-jobs-0-employer").count():
        _add_row(page, "jobs")
    page.fill("#f-jobs-0-employer", "Másik Bt.")
    page.fill("#f-jobs-0-job_type", "raktáros")
    page.fill("#f-jobs-0-start_date", _date(lang, "2026-03-16"))
    page.fill("#f-jobs-0-weekly_hours", "30")
    page.check("#f-jobs-0-competitive-true")
    page.fill("#f-jobs-0-employer_support", "Havonta egyeztetünk a műszakvezetővel.")
    shot(page, f"ips-main-job-start-{lang}")
    _complete(page)

    # 5 Follow-along: one round of support goes on, the next the worker leaves in steady work.
    _open(page, rt, case_id, "ips_follow_along", lang)
    if not page.locator("#f-support_contacts-0-date").count():
        _add_row(page, "support_contacts")
    page.fill("#f-support_contacts-0-date", _date(lang, "2026-03-18"))
    _choose(page, "support_contacts-0-setting", "at_work")
    page.select_option("#f-support_contacts-0-with_whom", "both")
    page.fill("#f-support_contacts-0-note", "Első hét a raktárban.")
    _choose(page, "follow_along_next", "continue")
    shot(page, f"ips-main-follow-along-{lang}")
    _complete(page)

    _open(page, rt, case_id, "ips_follow_along", lang)
    carried = page.locator("#w-support_contacts [data-carried-rows]")
    expect(carried).to_contain_text("Első hét a raktárban.")
    expect(carried).to_contain_text("a munkahelyen" if lang == "hu" else "at work")
    if not page.locator("#f-support_contacts-1-date").count():
        _add_row(page, "support_contacts")
    page.fill("#f-support_contacts-1-date", _date(lang, "2026-03-24"))
    _choose(page, "support_contacts-1-setting", "outside_work")
    page.select_option("#f-support_contacts-1-with_whom", "client")
    _choose(page, "follow_along_next", "leave")
    page.fill("#f-exit_date", _date(lang, "2026-03-24"))
    _choose(page, "exit_reason", "stable_work")
    shot(page, f"ips-main-leaving-{lang}")
    _complete(page)

    # The case page still shows what each step recorded, in the chosen language.
    page.goto(f"/cases/{case_id}")
    body = page.locator("body")
    for recorded in ("Raktári munka a lakóhelye közelében.", "Példa Kft.", "Másik Bt.", "raktáros",
                     "Első hét a raktárban."):
        expect(body).to_contain_text(recorded)
    expect(body).to_contain_text("tartósan dolgozik" if lang == "hu" else "works steadily")
    shot(page, f"ips-main-case-{lang}")
    case = cases.get_case(rt, case_id, people.anna)
    assert case["status"] == "completed"
    data = case["data"]
    assert (data["entry_date"], data["first_employer_contact_date"], data["ips_phase"]) == \
        ("2026-03-02", "2026-03-05", "left")
    assert [c["employer"] for c in data["employer_contacts"]] == ["Példa Kft.", "Másik Bt."]
    assert [j["employer"] for j in data["jobs"]] == ["Másik Bt."]
    assert [s["setting"] for s in data["support_contacts"]] == ["at_work", "outside_work"]
    assert [s["step"] for s in case["steps_taken"]] == ["1", "2", "3", "3", "4", "5", "5"]
