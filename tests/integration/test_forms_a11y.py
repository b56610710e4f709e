"""The form layer as a screen reader and a careful user meet it, through rendered HTML: required inputs say so
(conditional ones only while they apply), an error in a repeated row names the row in either language, a
timer-fired visit opens on its scheduled day, date boxes are the app's own (never <input type="date">), and the
agenda always shows its calendar link, whose reset is audited and kills the old link."""
from __future__ import annotations

import re

import pytest

from engine.store import clock
from engine.store.timer_models import CalendarFeed
from engine.timers import timers
from web import form_parse, form_render

from .helpers import new_family_case, task_of
from .test_web_task_form import ASSESSMENT, Browser, _field_html, two_members_two_incomes
from .timer_helpers import events, local, ready_tasks, start_follow_up
from .web_client import browser, make_app


@pytest.fixture
def app(runtime):
    return make_app(runtime)


@pytest.fixture
def anna(app, people):
    return Browser(app, "anna")


def _input_tag(html: str, name: str) -> str:
    m = re.search(rf'<(input|select|textarea) name="{re.escape(name)}"[^>]*>', html)
    assert m, name
    return m.group(0)


def test_required_inputs_say_so_and_conditional_ones_only_while_they_apply(app, anna, runtime, people):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    date = _input_tag(html, "taken_into_care_date")
    assert " required" in date and 'aria-required="true"' in date
    # Field 6's "other" text is required only when "other" is ticked: marked for form.js, not required yet.
    other = _input_tag(html, "problem_types_other")
    assert "data-required" in other and " required" not in other and "aria-required" not in other
    # With "other" ticked (a refused submission brings the page back), it is required now.
    flat = form_parse.flatten(ASSESSMENT, two_members_two_incomes())
    flat["household_size"] = "három"
    html = anna.post(f"/tasks/{task_id}/complete", flat).get_data(as_text=True)
    other = _input_tag(html, "problem_types_other")
    assert " required" in other and 'aria-required="true"' in other


def _row_error_page(anna, runtime, people, english: bool) -> str:
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    if english:
        anna.english()
    flat = form_parse.flatten(ASSESSMENT, two_members_two_incomes())
    flat["household_members-0-work_incomes-1-amount"] = "-5"
    anna.get(f"/tasks/{task_id}")
    response = anna.post(f"/tasks/{task_id}/complete", flat)
    assert response.status_code == 422
    return response.get_data(as_text=True)


def test_an_error_in_a_nested_row_names_the_row_in_hungarian(anna, runtime, people):
    html = _row_error_page(anna, runtime, people, english=False)
    row = "1. egy lakásban élő személy, 2. munkajövedelem sor"
    beside = _field_html(html, "household_members-0-work_incomes-1-amount")
    assert f"<li>{row}: " in beside, beside
    summary = html[html.index('class="error-summary"'):html.index("</div>", html.index('class="error-summary"'))]
    assert f'<a href="#w-household_members-0-work_incomes-1-amount">{row}: ' in summary, summary


def test_an_error_in_a_nested_row_names_the_row_in_english(anna, runtime, people):
    html = _row_error_page(anna, runtime, people, english=True)
    row = "1st person living in the dwelling, 2nd work income row"
    beside = _field_html(html, "household_members-0-work_incomes-1-amount")
    assert f"<li>{row}" in beside, beside
    assert f'<a href="#w-household_members-0-work_incomes-1-amount">{row}' in html


def test_row_names_count_in_each_language():
    assert [form_render.ordinal(n, "en") for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
    assert form_render.row_name(2, "Jövedelem sor", "hu") == "2. jövedelem sor"
    assert form_render.row_name(2, "Income row", "en") == "2nd income row"
    assert form_render.row_name(1, "KSH code", "en") == "1st KSH code"  # an abbreviation keeps its capitals


def test_a_timer_fired_visit_opens_on_its_scheduled_day(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-09", 9))  # two days after visit 1 was due: the date is still the 7th
    timers.fire_due(runtime, "w")
    [visit] = ready_tasks(runtime, case_id, "jr_visit")
    anna = browser(make_app(runtime), "anna")
    html = anna.get(f"/tasks/{visit.id}").get_data(as_text=True)
    assert 'value="2026.02.07"' in _input_tag(html, "visit_date")
    anna.post("/language", {"locale": "en", "next": "/inbox"})
    html = anna.get(f"/tasks/{visit.id}").get_data(as_text=True)
    assert 'value="2026-02-07"' in _input_tag(html, "visit_date")


def test_date_boxes_are_the_apps_own_on_forms_and_report_filters(app, anna, runtime, people):
    case_id = new_family_case(runtime, people)
    html = anna.get(f"/tasks/{task_of(runtime, case_id, 'step_3_1')}").get_data(as_text=True)
    assert 'type="date"' not in html and "datepicker.js" in html
    assert "data-date-words=" in _input_tag(html, "taken_into_care_date")
    mark = Browser(app, "mark")
    page = mark.get("/reports/family_care?from=2026-01-01&to=2026-03-31").get_data(as_text=True)
    assert 'type="date"' not in page
    tag = re.search(r'<input id="r-from"[^>]*>', page).group(0)
    assert 'value="2026.01.01"' in tag and "data-date" in tag and 'placeholder="ÉÉÉÉ.HH.NN"' in tag
    # The typed Hungarian form is what the report reads back.
    assert mark.get("/reports/family_care?from=2026.01.01&to=2026.03.31").status_code == 200


def test_the_agenda_always_shows_the_calendar_link_and_a_reset_kills_the_old_one(runtime, people):
    app = make_app(runtime)
    anna = browser(app, "anna")
    page = anna.get("/agenda").get_data(as_text=True)  # never asked for a link: one is there
    url = re.search(r'id="feed-url" type="text" value="([^"]+)"', page).group(1)
    assert 'data-testid="copy-feed"' in page and 'data-testid="new-feed"' in page
    outsider = app.test_client()
    path = url.split("localhost", 1)[1]
    assert outsider.get(path).status_code == 200
    assert url in anna.get("/agenda").get_data(as_text=True)  # the same link on every visit
    assert len(events(runtime, "calendar_feed_created")) == 1

    anna.post("/agenda/feed")
    new = re.search(r'id="feed-url" type="text" value="([^"]+)"', anna.get("/agenda").get_data(as_text=True)).group(1)
    assert new != url
    assert outsider.get(path).status_code == 404
    assert outsider.get(new.split("localhost", 1)[1]).status_code == 200
    [reset] = events(runtime, "calendar_feed_reset")
    assert reset.actor == "anna" and reset.payload["before"] and reset.payload["after"]
    with runtime.db.reading() as session:
        assert session.get(CalendarFeed, people.anna.id).token == new.rsplit("/", 1)[1].removesuffix(".ics")
