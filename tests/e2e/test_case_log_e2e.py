"""The case log in a real browser: meetings and actions recorded at 3.3 are shown read-only on the later steps'
forms (with who recorded them and when), a step appends its own rows, and "Correct this entry" keeps the old
value — in Hungarian and in English. Screenshots go to test-artifacts/case-log-*.png."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.cases import cases, tasks
from tests.integration.helpers import do, new_family_case, task_of, through_agreement

MEETING = {"date": "2026-02-06", "place": "client_home", "log": "Családlátogatás: a csekkeket bemutatták."}
ACTION = {"date": "2026-03-06", "log": "Egyeztetés az iskolával."}


def _complete(page):
    page.get_by_test_id("complete").click()
    page.wait_for_load_state("domcontentloaded")


def test_carried_rows_are_read_only_and_a_step_appends_in_hungarian_and_english(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    case_id = new_family_case(rt, people)
    through_agreement(rt, people, case_id)
    do(rt, case_id, "step_3_3", {"meetings": [MEETING], "actions": [ACTION], "casework_next": "case_discussion"},
       people.anna)

    # ---- 3.4 in Hungarian: the 3.3 action is read-only, the discussion is a new row after it ---------------
    login(page, "anna")
    page.goto(f"/tasks/{task_of(rt, case_id, 'step_3_4')}")
    carried = page.locator("#r-actions-0[data-carried-row]")
    expect(carried).to_contain_text("Egyeztetés az iskolával.")
    expect(carried).to_contain_text("2026.03.06")
    expect(carried.get_by_test_id("recorded")).to_have_text("Rögzítette: anna, 2026.03.02 10:00 (3.3. lépés)")
    expect(page.locator("[name^='actions-0-']")).to_have_count(0)  # not an input: never sent, never overwritten
    expect(page.locator("#r-actions-1 > legend")).to_contain_text("2")  # the new row is the second action
    page.fill("#f-actions-1-date", "2026.03.07")
    page.fill("#f-actions-1-log", "Esetmegbeszélés a védőnővel.")
    shot(page, "case-log-3.4-hungarian")
    _complete(page)
    data = cases.get_case(rt, case_id, people.anna)["data"]
    assert data["actions"] == [ACTION, {"date": "2026-03-07", "log": "Esetmegbeszélés a védőnővel."}]

    # ---- back at 3.3, in English: both actions and the meeting are carried; add a third action ------------
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    page.get_by_test_id("switch-language").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.get_by_test_id("step")).to_have_text("Step 3.3")
    expect(page.locator("#r-meetings-0[data-carried-row]")).to_contain_text("at the client's home")
    expect(page.locator("#r-actions-1[data-carried-row]").get_by_test_id("recorded")).to_have_text(
        "Recorded by anna on 2026-03-02 10:00 (step 3.4)")
    expect(page.locator("#r-actions-0[data-carried-row]")).to_contain_text("2026-03-06")  # ISO in English
    page.locator("#w-actions > .add-row [data-add-row]").click()
    expect(page.locator("#r-actions-2 > legend")).to_contain_text("3")
    page.fill("#f-actions-2-date", "2026-03-09")
    page.fill("#f-actions-2-log", "Levél a közüzemi szolgáltatónak.")

    # ---- correct the first action: the old value stays visible ------------------------------------------
    page.locator("#r-actions-0 [data-testid=correct-entry]").click()
    page.wait_for_url(re.compile(r"/entries/actions/0/correct"))
    expect(page.locator("h1")).to_have_text("Correct this entry")
    page.fill("#f-log", "Egyeztetés az iskolával és az osztályfőnökkel.")
    page.fill("#f-_reason", "Incomplete note.")
    shot(page, "case-log-correction-english")
    page.get_by_test_id("save-correction").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    corrected = page.locator("#r-actions-0[data-carried-row]")
    expect(corrected).to_contain_text("Egyeztetés az iskolával és az osztályfőnökkel.")
    expect(corrected.get_by_test_id("corrected")).to_contain_text("Corrected by anna on 2026-03-02 10:00")
    corrected.locator("summary").click()
    expect(corrected.locator("details")).to_contain_text("Egyeztetés az iskolával.")
    # What was typed before going to correct is still there (kept as a draft meanwhile).
    expect(page.locator("#f-actions-2-log")).to_have_value("Levél a közüzemi szolgáltatónak.")
    page.check("input[name=casework_next][value=continue]")
    shot(page, "case-log-3.3-english")
    _complete(page)

    data = cases.get_case(rt, case_id, people.anna)["data"]
    assert [a["log"] for a in data["actions"]] == ["Egyeztetés az iskolával és az osztályfőnökkel.",
                                                   "Esetmegbeszélés a védőnővel.", "Levél a közüzemi szolgáltatónak."]
    assert data["meetings"] == [MEETING]
    history = cases.history(rt, case_id, people.anna)
    [fix] = [e for e in history if e["kind"] == "entry_corrected"]
    assert fix["payload"]["before"] == {"actions": [ACTION]} and fix["payload"]["reason"] == "Incomplete note."
    opened = tasks.get_task(rt, task_of(rt, case_id, "step_3_3"), people.anna)
    assert [e["recorded_by"] for e in opened["carried"]["actions"]] == ["anna", "anna", "anna"]
    # The case history keeps both: the value first recorded at 3.3 and the correction (before and after).
    page.goto(f"/cases/{case_id}?history=all")
    corrected = page.locator("[data-testid=timeline] li", has_text="Entry corrected")
    expect(corrected).to_have_count(1)
    expect(corrected.get_by_test_id("changes")).to_be_visible()  # the before/after table, shown at once
    expect(corrected).to_contain_text("Egyeztetés az iskolával. ")  # before: the old log, then the new
    expect(corrected).to_contain_text("Egyeztetés az iskolával és az osztályfőnökkel.")
    expect(corrected).to_contain_text("Incomplete note.")
    shot(page, "case-log-history-english")
    assert not [e for e in page.js_errors], page.js_errors
