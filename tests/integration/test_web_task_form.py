"""The task page through HTTP (Flask's test client, CSRF tokens read from the pages as a browser would).

Form files render in both languages; the flat HTML names round-trip to the nested data; the engine's refusals
come back next to their fields, worded in the user's language, with the input kept; drafts resume; done tasks
are read-only; another caseworker gets 403; a conflict is a clear 409.
"""
from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from engine.cases import cases, tasks
from tests import demo_data
from web import form_parse, form_render
from web.app import create_app

from .helpers import do, new_family_case, review, snapshot, task_of, waiting_steps

ROOT = Path(__file__).resolve().parents[2]
FORM_FILES = sorted(ROOT.glob("bpmn/*/forms/*.json"))
ASSESSMENT = json.loads((ROOT / "bpmn/family_care/forms/assessment.json").read_text())
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


# ------------------------------------------------------------------------------------------------ helpers
class Page(HTMLParser):
    """What a browser would post from the task form (no JavaScript: every part is there), and the ids seen."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.fields = MultiDict()
        self.ids: set[str] = set()
        self._in_form = self._template = 0
        self._select = self._textarea = None
        self._option_value = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "form" and "data-task-form" in a:
            self._in_form = 1
        if tag == "template":
            self._template += 1
        if not self._in_form or self._template or "disabled" in a:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.add(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.add(self._select, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = [a.get("name"), ""]

    def handle_endtag(self, tag):
        if tag == "template":
            self._template -= 1
        elif tag == "form":
            self._in_form = 0
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # A browser drops one newline right after <textarea>; html.parser keeps it.
            self.fields.add(self._textarea[0], self._textarea[1].removeprefix("\n"))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data


class Browser:
    """A logged-in user of the web app."""

    def __init__(self, app, username: str):
        self.client = app.test_client()
        self.token = None
        page = self.get("/login")
        assert page.status_code == 200
        done = self.post("/login", {"username": username, "password": f"pw-{username}"})
        assert done.status_code == 302, done.get_data(as_text=True)[:500]

    def get(self, url: str):
        response = self.client.get(url)
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, url: str, data):
        body = MultiDict(data)
        body["csrf_token"] = self.token
        response = self.client.post(url, data=body)
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def english(self):
        self.get("/inbox")
        assert self.post("/language", {"locale": "en", "next": "/inbox"}).status_code == 302
        return self


@pytest.fixture
def app(runtime):
    return create_app(runtime, {"TESTING": True, "SECRET_KEY": "test"})


@pytest.fixture
def anna(app, people):
    return Browser(app, "anna")


def _field_html(html: str, name: str) -> str:
    """The HTML of one field's wrapper (its label, help, errors and input)."""
    start = html.index(f'id="w-{name}"')
    start = html.rindex("<", 0, start)
    tag = html[start + 1:html.index(" ", start)]
    depth = 0
    pattern = re.compile(rf"<(/?){tag}\b")
    for m in pattern.finditer(html, start):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return html[start:html.index(">", m.end()) + 1]
    return html[start:]


def two_members_two_incomes() -> dict:
    data = demo_data.assessment_data()
    data["household_size"] = 3
    data["household_members"] = [
        {"name": "Kovács János", "birth_place_date": "Debrecen, 1980.05.04", "kinship": "spouse",
         "residence_status": "tenant", "income_types": ["work", "child_care"],
         "work_incomes": [{"kind": "wage", "amount": 180000},
                          {"kind": "other", "kind_other": "alkalmi munka", "amount": 20000}],
         "child_incomes": [{"kind": "family_allowance", "amount": 12200}]},
        {"name": "Kovács Lili", "kinship": "other", "kinship_other": "nevelt gyermek",
         "residence_status": "family_member", "income_types": ["pension", "other"],
         "pension_incomes": [{"kind": "widows_pension", "amount": 30000}],
         "other_revenues": [{"kind": "scholarship", "amount": 15000}],
         "institutions_contacts": "Iskola: Petőfi Általános Iskola\nOsztályfőnök: Nagy Éva"},
    ]
    data["problem_types"] = ["financial", "other"]
    data["problem_types_other"] = "lakhatási bizonytalanság"
    data["taken_into_care_date"] = "2026-03-02"
    return data


# ------------------------------------------------------------------------------------------------ rendering
@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.name)
def test_every_form_file_renders_in_both_languages(path):
    schema = json.loads(path.read_text())
    app = create_app(runtime=object(), config={"TESTING": True, "SECRET_KEY": "t"})
    template = '{% import "form/fields.html" as forms with context %}{{ forms.render(model) }}'
    values = two_members_two_incomes() if path.name == "assessment.json" else {}
    with app.test_request_context():
        for locale in ("hu", "en"):
            for read_only in (False, True):
                model = form_render.build(schema, values, {}, locale=locale, read_only=read_only)
                html = app.jinja_env.from_string(template).render(model=model, rows_url="/rows")
                for f in form_render.walk(model):
                    if read_only and f.conditional and f.value in ("", []):
                        continue
                    label = (schema_label(schema, f.path) or {}).get(locale)
                    assert label and label.replace("'", "&#39;").replace('"', "&#34;") in html, (f.path, locale)
                    if not read_only and f.widget not in ("repeat", "computed"):
                        assert f'name="{f.html_name}"' in html
                assert model.title == schema["x-label"][locale]


@pytest.mark.parametrize(("locale", "shown"), [("hu", "2026.03.05"), ("en", "2026-03-05")])
def test_a_computed_date_reads_as_the_user_writes_dates(locale, shown):
    schema = {"type": "object", "x-label": {"hu": "Keresés", "en": "Search"}, "properties": {
        "first_contact": {"type": "string", "format": "date", "readOnly": True,
                          "x-computed": {"earliest": "contacts/date"},
                          "x-label": {"hu": "Az első kapcsolat napja", "en": "Day of the first contact"}}}}
    app = create_app(runtime=object(), config={"TESTING": True, "SECRET_KEY": "t"})
    template = '{% import "form/fields.html" as forms with context %}{{ forms.render(model) }}'
    with app.test_request_context():
        model = form_render.build(schema, {"first_contact": "2026-03-05"}, {}, locale=locale)
        html = app.jinja_env.from_string(template).render(model=model, rows_url="/rows")
    assert re.search(r"<output[^>]*>\s*" + re.escape(shown) + r"\s*</output>", html), html


def schema_label(schema: dict, path: str):
    node = schema
    for part in path.split("/"):
        node = node.get("items", {}) if part.isdigit() else node["properties"][part]
    return node.get("x-label")


# ------------------------------------------------------------------------------------------------ round trip
def test_flat_names_round_trip_to_the_nested_data():
    data = two_members_two_incomes()
    flat = form_parse.flatten(ASSESSMENT, data)
    assert "household_members-1-pension_incomes-0-amount" in flat
    assert flat.getlist("household_members-0-income_types") == ["work", "child_care"]
    assert form_parse.parse(ASSESSMENT, flat) == data
    # Typed by the schema: numbers, yes/no; dates written the Hungarian way come back ISO.
    flat["household_size"] = "3"
    flat["needs_other_helpers"] = "false"
    flat["status_assessment_date"] = "2026.3.2."
    parsed = form_parse.parse(ASSESSMENT, flat)
    assert parsed["household_size"] == 3 and parsed["needs_other_helpers"] is False
    assert parsed["status_assessment_date"] == "2026-03-02"


def test_rows_come_back_in_order_renumbered_and_blank_rows_are_dropped():
    flat = MultiDict([("household_members-5-name", "Második"), ("household_members-2-name", "Első"),
                      ("household_members-7-name", ""), ("household_members-7-kinship", ""),
                      ("household_members-2-work_incomes-9-amount", "1 000"), ("csrf_token", "x"),
                      ("_add", "household_members")])
    assert form_parse.parse(ASSESSMENT, flat) == {
        "household_members": [{"name": "Első", "work_incomes": [{"amount": 1000}]}, {"name": "Második"}]}


def test_the_page_posts_back_exactly_what_it_shows(runtime, people, anna):
    """The rendered page (from a saved draft), read as a browser reads it, parses back to the same data."""
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    data = two_members_two_incomes()
    tasks.save_draft(runtime, task_id, data, people.anna)
    page = anna.get(f"/tasks/{task_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "2026.03.02" in html  # Hungarian shows dates as YYYY.MM.DD
    posted = Page(html).fields
    assert form_parse.parse(ASSESSMENT, posted) == data
    done = anna.post(f"/tasks/{task_id}/complete", posted)
    assert done.status_code == 302
    stored = cases.get_case(runtime, case_id, people.anna)["data"]
    assert stored["total_income"] == 180000 + 20000 + 12200 + 30000 + 15000 + 95000
    assert stored["per_capita_income"] == round(stored["total_income"] / 3, 2)
    assert stored["household_members"] == data["household_members"]
    # On to the next step of the same case, which is anna's.
    assert done.headers["Location"].endswith(f"/tasks/{task_of(runtime, case_id, 'step_3_2')}")


def test_missing_and_unknown_fields_are_placed_whichever_way_the_engine_names_them():
    from web import form_errors

    values = {"favourite": "kék", "household_members": [{"name": "A", "foo": "x"}]}
    old = [{"field": "(form)", "kind": "additionalProperties"}, {"field": "(form)", "kind": "required"},
           {"field": "household_members/0", "kind": "additionalProperties"}]
    new = [{"field": "favourite", "kind": "additionalProperties"},
           {"field": "household_members/0/foo", "kind": "additionalProperties"},
           {"field": "taken_into_care_date", "kind": "required"}]
    app = create_app(runtime=object(), config={"TESTING": True, "SECRET_KEY": "t"})
    with app.test_request_context():
        for details in (old, new):
            placed = form_errors.place(details, ASSESSMENT, values, "en")
            assert "favourite" in placed["(form)"][0] and "foo" in placed["household_members/0"][0]
            assert placed["taken_into_care_date"] == ["Kötelező kitölteni."]  # the request's language: Hungarian


# ------------------------------------------------------------------------------------------------ bad input
def _set(name, value):
    return lambda flat: flat.setlist(name, value if isinstance(value, list) else [value])


BAD_INPUT = {
    # kind: (change to the posted fields, field wrapper that shows the error, message (hu), value kept)
    "wrong type": (_set("household_size", "három"), "household_size", "Egész számot adjon meg", 'value="három"'),
    "missing required": (_set("taken_into_care_date", ""), "taken_into_care_date", "Kötelező kitölteni", None),
    "unknown field": (_set("favourite_colour", "kék"), None, "Ismeretlen mező(k): favourite_colour", None),
    "option not in list": (_set("problem_types", ["financial", "astrology"]), "problem_types",
                           "„astrology” nem választható", 'value="astrology" checked'),
    "option not in a list": (_set("household_members-0-kinship", "nagybácsi"), "household_members-0-kinship",
                             "„nagybácsi” nem választható", '<option value="nagybácsi" selected>nagybácsi</option>'),
    "negative amount": (_set("household_members-0-work_incomes-0-amount", "-5"),
                        "household_members-0-work_incomes-0-amount", "A legkisebb megengedett érték: 0", 'value="-5"'),
    "impossible date": (_set("taken_into_care_date", "2026.02.30"), "taken_into_care_date", "Érvénytelen dátum",
                        'value="2026.02.30"'),
    "oversized text": (_set("presented_problem", "x" * 10001), "presented_problem",
                       "legfeljebb 10000 karakter írható be (most 10001)", ">\n" + "x" * 10001 + "</textarea>"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUT))
def test_bad_input_is_shown_at_its_field_and_the_input_is_kept(runtime, people, anna, kind):
    change, field, message, kept = BAD_INPUT[kind]
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    flat = form_parse.flatten(ASSESSMENT, two_members_two_incomes())
    change(flat)
    anna.get(f"/tasks/{task_id}")  # opening the page is logged; what follows must change nothing
    before = snapshot(runtime, case_id)
    response = anna.post(f"/tasks/{task_id}/complete", flat)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nem történt mentés" in html and 'class="error-summary"' in html
    where = _field_html(html, field) if field else html[html.index('class="error-summary"'):]
    assert message in where, where[:3000]
    if field:
        assert 'aria-invalid="true"' in where and 'class="field-errors"' in where
    if kept:
        assert kept in where
    # Everything else typed is still there: the second member's income rows, the other text.
    assert 'value="nevelt gyermek"' in html and 'value="lakhatási bizonytalanság"' in html
    assert 'name="household_members-1-other_revenues-0-amount" id="f-household_members-1-other_revenues-0-amount"' \
           ' value="15000"' in html
    assert snapshot(runtime, case_id) == before
    assert waiting_steps(runtime, case_id) == ["3.1"]


def test_errors_are_worded_in_english_for_an_english_user(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    anna.english()
    flat = form_parse.flatten(ASSESSMENT, two_members_two_incomes())
    flat["household_size"] = "three"
    flat["needs_other_helpers"] = "true"  # 44 now required; 45 applies either way
    anna.get(f"/tasks/{task_id}")
    html = anna.post(f"/tasks/{task_id}/complete", flat).get_data(as_text=True)
    assert "Enter a whole number" in _field_html(html, "household_size")
    assert "Required with the answer given to “Must another helper be involved?”" in _field_html(html, "other_helpers")
    assert "has-error" not in _field_html(html, "action_plan")
    assert "Number of persons living in the dwelling" in html and "2026-03-02" in html  # English: ISO dates


# ------------------------------------------------------------------------------------------------ drafts, rows
def test_a_draft_is_saved_and_resumed_through_the_page(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    anna.get(f"/tasks/{task_id}")
    half = MultiDict([("taken_into_care_date", "2026.03.04"), ("household_size", "abc"),
                      ("household_members-0-name", "Kovács János"), ("presented_problem", "Adósság")])
    saved = anna.post(f"/tasks/{task_id}/draft", half)
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/tasks/{task_id}")
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "A piszkozat elmentve" in html and 'data-testid="draft-note"' in html
    assert 'value="2026.03.04"' in html and 'value="abc"' in html and 'value="Kovács János"' in html
    assert tasks.get_task(runtime, task_id, people.anna)["values"]["household_size"] == "abc"
    assert waiting_steps(runtime, case_id) == ["3.1"]


def test_rows_are_added_and_removed_without_javascript(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    anna.get(f"/tasks/{task_id}")  # opening the page is logged; adding and removing rows saves nothing
    before = snapshot(runtime, case_id)
    flat = form_parse.flatten(ASSESSMENT, two_members_two_incomes())
    flat["_add"] = "household_members-1-pension_incomes"
    html = anna.post(f"/tasks/{task_id}/rows", flat).get_data(as_text=True)
    assert 'name="household_members-1-pension_incomes-1-amount"' in html
    flat.pop("_add")
    flat["_remove"] = "household_members-0"
    html = anna.post(f"/tasks/{task_id}/rows", flat).get_data(as_text=True)
    assert "Kovács János" not in html and 'name="household_members-0-name" id="f-household_members-0-name" ' \
                                               'value="Kovács Lili"' in html
    assert snapshot(runtime, case_id) == before  # nothing saved


# ------------------------------------------------------------------------------------------------ the page
def test_the_page_shows_the_step_its_documents_client_and_conditions(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    client = cases.get_case(runtime, case_id, people.anna, with_data=False)["client"]["client_code"]
    assert "3.1. lépés" in html and "Cselekvési terv kidolgozása" in html and client in html
    assert "Esetnapló" in html and "Alapadatok" in html and "Egy lakásban élő" in html
    # Field 5 is pre-filled from the intake; 39/40 are read-only outputs; 44/45 hang on 43.
    assert "Lakbérhátralék, a család megélhetése bizonytalan." in html
    assert 'data-computed="per_capita_income"' in html and 'name="per_capita_income"' not in html
    other_helpers = _field_html(html, "other_helpers")
    assert "data-visible-when" in other_helpers and "&#34;equals&#34;: true" in other_helpers
    assert "data-visible-when" in _field_html(html, "household_members-0-work_incomes") if \
        'id="w-household_members-0-work_incomes"' in html else True
    # A new member's template holds the income blocks, with their own row placeholder.
    assert 'name="household_members-__i0__-work_incomes-__i1__-amount"' in html
    english = anna.english().get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Step 3.1" in english and "Draw up the action plan" in english and "Basic data" in english
    assert "Action plan; Case log" in english


def test_a_decision_is_a_yes_no_question(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    task_id = task_of(runtime, case_id, "step_3_6")
    html = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    question = _field_html(html, "commitments_met")
    assert "decision" in question and "Teljesülnek az együttműködési megállapodásban vállaltak?" in question
    assert 'type="radio" name="commitments_met" id="f-commitments_met-true" value="true"' in question
    assert ">Igen<" in question.replace("> Igen", ">Igen") and "Nem" in question
    done = anna.post(f"/tasks/{task_id}/complete", {
        "review_date": "2026.03.02", "review_checks-0-kind": "monthly_payment", "review_checks-0-name": "Lakbér",
        "review_checks-0-month": "2026-02", "review_checks-0-shown": "false", "commitments_met": "false"})
    assert done.status_code == 302 and waiting_steps(runtime, case_id) == ["3.9"]


def test_a_done_task_is_read_only_and_the_next_step_elsewhere_leads_to_the_inbox(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    first = task_of(runtime, case_id, "step_3_1")
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    html = anna.get(f"/tasks/{first}").get_data(as_text=True)
    assert "data-task-form" not in html and "Kovács János" in html and "Lépés befejezése" not in html
    # Field 40 as the server computed it, written the Hungarian way: 317 200 / 3.
    assert "105 733,33" in html.replace("\u00a0", " ")
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    closure = task_of(runtime, case_id, "step_3_8")
    anna.get(f"/tasks/{closure}")
    done = anna.post(f"/tasks/{closure}/complete", form_parse.flatten(
        tasks.get_task(runtime, closure, people.anna)["form"], demo_data.closure_data(follow_up=False)))
    assert done.status_code == 302 and done.headers["Location"].endswith("/inbox")
    assert waiting_steps(runtime, case_id) == ["3.8"]  # the lead's agreement


def test_another_caseworker_gets_403_and_changes_nothing(runtime, people, app, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    bela = Browser(app, "bela")
    before = snapshot(runtime, case_id)
    assert bela.get(f"/tasks/{task_id}").status_code == 403
    bela.get("/inbox")
    flat = form_parse.flatten(ASSESSMENT, demo_data.assessment_data())
    assert bela.post(f"/tasks/{task_id}/complete", flat).status_code == 403
    assert bela.post(f"/tasks/{task_id}/draft", flat).status_code == 403
    assert snapshot(runtime, case_id) == before
    # The professional lead oversees every case: the page, read-only.
    lea = Browser(app, "lea")
    html = lea.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "data-task-form" not in html and "csak megtekintheti" in html


def test_a_post_without_the_csrf_token_is_refused(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    before = snapshot(runtime, case_id)
    response = anna.client.post(f"/tasks/{task_id}/complete",
                                data=form_parse.flatten(ASSESSMENT, demo_data.assessment_data()))
    assert response.status_code == 400 and snapshot(runtime, case_id) == before


def test_a_conflict_is_a_clear_409_that_shows_what_was_typed(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    anna.get(f"/tasks/{task_id}")
    tasks.complete(runtime, task_id, demo_data.assessment_data(), people.anna)  # e.g. from another tab
    typed = copy.deepcopy(demo_data.assessment_data())
    typed["action_plan"] = "Egy másik terv, amit közben írtam."
    response = anna.post(f"/tasks/{task_id}/complete", form_parse.flatten(ASSESSMENT, typed))
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and 'data-testid="task-alert"' in html
    assert "Valaki más előbb lezárta" in html and "Egy másik terv, amit közben írtam." in html
    assert "data-task-form" not in html


def test_opening_a_case_or_task_page_is_logged_as_a_view(runtime, people, anna):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")
    assert anna.get(f"/tasks/{task_id}").status_code == 200
    assert anna.get(f"/cases/{case_id}").status_code == 200
    events = [e for e in cases.history(runtime, case_id, people.anna) if e["kind"].endswith("_viewed")]
    assert [(e["kind"], e["actor"], e["task_id"], e["payload"]["via"]) for e in events] == [
        ("task_viewed", "anna", task_id, "web"), ("case_viewed", "anna", None, "web")]


def test_a_date_before_the_day_taken_into_care_is_refused_naming_both_dates_in_either_language(runtime, people,
                                                                                            anna):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", dict(demo_data.assessment_data(), taken_into_care_date="2026-03-02"), people.anna)
    task_id = task_of(runtime, case_id, "step_3_2")
    anna.get(f"/tasks/{task_id}")
    html = anna.post(f"/tasks/{task_id}/complete", {"agreement_date": "2026.02.27",
                                                    "review_frequency": "monthly"}).get_data(as_text=True)
    assert "2026.02.27 korábbi, mint 2026.03.02, a(z) „Gondozásba vétel dátuma” (1. mező, 3.1 lépés)" in \
        _field_html(html, "agreement_date")
    anna.english()
    anna.get(f"/tasks/{task_id}")
    html = anna.post(f"/tasks/{task_id}/complete", {"agreement_date": "2026-02-27",
                                                    "review_frequency": "monthly"}).get_data(as_text=True)
    assert "2026-02-27 is earlier than 2026-03-02, the “Date taken into care” (field 1, step 3.1)" in \
        _field_html(html, "agreement_date")
    assert waiting_steps(runtime, case_id) == ["3.2"]
