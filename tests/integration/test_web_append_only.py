"""The task page with an append-only block (docs/forms.md): rows recorded at earlier steps are shown read-only
with who recorded them, never sent as inputs; the step appends; "Correct this entry" keeps the old value."""
from __future__ import annotations

import pytest

from engine.cases import cases

from .helpers import do, new_family_case, task_of, through_agreement
from .test_web_task_form import Browser, Page

ACTION_33 = {"date": "2026-03-06", "log": "Egyeztetés az iskolával."}


@pytest.fixture
def app(runtime):
    from web.app import create_app

    return create_app(runtime, {"TESTING": True, "SECRET_KEY": "test"})


def _at_case_discussion(runtime, people) -> int:
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"actions": [ACTION_33], "casework_next": "case_discussion"}, people.anna)
    return case_id


def test_carried_rows_are_shown_not_sent_and_the_step_appends(runtime, people, app):
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    anna = Browser(app, "anna")
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Rögzítette: anna, 2026.03.02 10:00 (3.3. lépés)" in html  # Budapest time, Hungarian date
    assert "Egyeztetés az iskolával." in html and "A bejegyzés javítása" in html
    page = Page(html)
    assert not [n for n in page.fields if n.startswith("actions-0-")]  # the carried row is no input
    assert "r-actions-1" in page.ids  # the new row follows it, numbered 2
    page.fields["actions-1-date"] = "2026.03.07."
    page.fields["actions-1-log"] = "Esetmegbeszélés a védőnővel."
    done = anna.post(f"/tasks/{task_id}/complete", page.fields)
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    assert data["actions"] == [ACTION_33, {"date": "2026-03-07", "log": "Esetmegbeszélés a védőnővel."}]


def test_the_page_asks_for_the_steps_own_entry_in_english(runtime, people, app):
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    anna = Browser(app, "anna").english()
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Recorded by anna on 2026-03-02 10:00 (step 3.3)" in html
    refused = anna.post(f"/tasks/{task_id}/complete", Page(html).fields)  # nothing new typed
    assert refused.status_code == 422
    assert "Add at least 1 new entry at this step." in refused.get_data(as_text=True)
    assert cases.get_case(runtime, case_id, people.anna)["data"]["actions"] == [ACTION_33]


def test_correct_this_entry_keeps_the_old_value_on_the_row_and_in_the_history(runtime, people, app):
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    anna = Browser(app, "anna")
    url = f"/cases/{case_id}/entries/actions/0/correct?task={task_id}"
    form = anna.get(url)
    assert form.status_code == 200
    fields = Page(form.get_data(as_text=True)).fields
    assert fields["date"] == "2026.03.06" and fields["log"] == ACTION_33["log"]
    fields["date"] = "2026.02.30"
    refused = anna.post(url, fields)
    assert refused.status_code == 422 and "Érvénytelen dátum" in refused.get_data(as_text=True)
    fields["date"], fields["_reason"] = "2026.03.05", "Elírt dátum."
    done = anna.post(url, fields)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/tasks/{task_id}")
    assert cases.get_case(runtime, case_id, people.anna)["data"]["actions"] == [{**ACTION_33, "date": "2026-03-05"}]
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Javította: anna, 2026.03.02 10:00: Elírt dátum." in html
    assert "A javítás előtti érték" in html and "2026.03.06" in html
    history = anna.get(f"/cases/{case_id}?history=all").get_data(as_text=True)
    assert "Bejegyzés javítva" in history and "2026.03.06" in history and "2026.03.05" in history
    # Another caseworker may not correct anna's case log.
    bela = Browser(app, "bela")
    assert bela.get(url).status_code == 403


def test_without_javascript_rows_are_added_after_the_carried_ones_and_carried_ones_cannot_be_removed(
        runtime, people, app):
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    anna = Browser(app, "anna")
    fields = Page(anna.get(f"/tasks/{task_id}").get_data(as_text=True)).fields
    fields["actions-1-log"] = "Első új."
    added = Page(anna.post(f"/tasks/{task_id}/rows", {**fields.to_dict(), "_add": "actions"}).get_data(as_text=True))
    assert {"r-actions-0", "r-actions-1", "r-actions-2"} <= added.ids and added.fields["actions-1-log"] == "Első új."
    crafted = anna.post(f"/tasks/{task_id}/rows", {**added.fields.to_dict(), "_remove": "actions-0"})
    html = crafted.get_data(as_text=True)
    assert "Egyeztetés az iskolával." in html and Page(html).fields["actions-1-log"] == "Első új."
