"""Moving running cases in chromium, in Hungarian and in English: the designer's dry run shows counts and case
numbers only; the manager's shows each case and why one cannot move, moves the others and reverts the move."""
from __future__ import annotations

from tests.integration import family_care_v2
from tests.integration.helpers import do, new_family_case, through_agreement

MEETING = {"date": "2026-02-06", "place": "client_home", "log": "Családlátogatás."}


def _switch(page, to: str) -> None:
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == to


def test_a_dry_run_then_a_move_and_its_revert(page, live_server, login, shot):
    rt, people = live_server.runtime, live_server.people
    waiting_3_1 = new_family_case(rt, people, 0)
    waiting_3_4 = new_family_case(rt, people, 1)
    through_agreement(rt, people, waiting_3_4)
    do(rt, waiting_3_4, "step_3_3", {"meetings": [MEETING], "casework_next": "case_discussion"}, people.anna)
    new = family_care_v2.deploy(rt)

    login(page, "dora")
    page.goto("/processes/family_care")
    page.get_by_test_id("migrate-cases").click()
    page.wait_for_load_state()
    page.select_option("[data-testid=migrate-from]", str(new - 1))
    page.select_option("[data-testid=migrate-to]", str(new))
    page.click("[data-testid=migrate-dry-run]")
    page.wait_for_load_state()
    assert page.get_by_test_id("migrate-counts").inner_text() == "2 eset kiválasztva: 1 áthelyezhető, 1 nem."
    assert "step_3_4_discussion" in page.get_by_test_id("migrate-reasons").inner_text()
    assert page.get_by_test_id("migrate-cases").count() == 0 and page.get_by_test_id("migrate-run").count() == 0
    shot(page, "migrate-dry-run-designer-hu")
    page.get_by_test_id("logout").click()

    login(page, "mark")
    _switch(page, "en")
    page.goto(f"/processes/family_care/migrate?dry=1&from={new - 1}&to={new}")
    assert page.get_by_test_id("migrate-counts").inner_text() == "2 cases chosen: 1 can move, 1 cannot."
    assert "which version" in page.get_by_test_id(f"migrate-case-{waiting_3_4}").inner_text()
    assert "yes" in page.get_by_test_id(f"migrate-case-{waiting_3_1}").inner_text()
    shot(page, "migrate-dry-run-manager-en")
    page.click("[data-testid=migrate-run]")
    page.wait_for_load_state()
    assert "1 case moved, 1 not." in page.get_by_test_id("migrate-done-summary").inner_text()
    shot(page, "migrate-moved-en")
    _switch(page, "hu")
    page.goto(f"/processes/family_care/migrate?dry=1&from={new - 1}&to={new}&map=step_3_4%3Dstep_3_4_discussion")
    assert page.get_by_test_id("migrate-counts").inner_text() == "1 eset kiválasztva: 1 áthelyezhető, 0 nem."
    page.click("[data-testid=migrate-run]")
    page.wait_for_load_state()
    assert "1 eset áthelyezve, 0 nem." in page.get_by_test_id("migrate-done-summary").inner_text()
    page.locator("[data-testid^=revert-]").first.click()
    page.wait_for_load_state()
    assert page.locator("#done-title").inner_text() == "Áthelyezés visszavonva"
    assert "Korábbi áthelyezések" in page.locator("main").inner_text()
    shot(page, "migrate-reverted-hu")
