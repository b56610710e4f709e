"""The audit page, a case's complete history and the case timeline as a manager reads them, in both languages:
event names translated, field changes as a before/after table with the field's label and number, times as
2026.03.02 10:00 (ISO in English), no escaped characters, day filters as text, the process filter by name, and
repeated views collapsed with the full list one click away."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from tests import demo_data
from web import audit_views, formatting

from .web_client import browser, make_app

HU_TIME = re.compile(r"\b2026\.\d{2}\.\d{2} \d{2}:\d{2}\b")
EN_TIME = re.compile(r"\b2026-\d{2}-\d{2} \d{2}:\d{2}\b")
RAW_KINDS = ("task_completed", "task_created", "case_started", "case_viewed", "decision_taken", "user_created",
             "definition_deployed", "family_care")


@pytest.fixture
def world(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.6")
    return {"case": case_id}


@pytest.fixture
def app(runtime):
    return make_app(runtime)


def visible(page: str) -> str:
    """The text a person sees: tags (and their attributes, e.g. an option's value) left out."""
    body = page[page.index("<main"):] if "<main" in page else page
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def events(page: str) -> str:
    """The visible text of the audit page's table of events (the filters above name every kind)."""
    return visible(page[page.index('data-testid="audit-events"'):]) if 'data-testid="audit-events"' in page else ""


def no_codes(text: str) -> None:
    for raw in RAW_KINDS:
        assert raw not in text, raw
    assert "\\u00" not in text and '{"' not in text


def test_audit_page_in_hungarian(world, app):
    mark = browser(app, "mark")
    page = mark.get("/audit/", query_string={"case": world["case"]})
    assert page.status_code == 200
    raw = page.get_data(as_text=True)
    text = visible(raw)
    no_codes(text)
    assert "Lépés elvégezve" in text and "Eset indítva" in text and "Döntés" in text
    # A before/after table names the field by its label and seed number; values as read (no JSON, yes/no).
    assert 'data-testid="changes"' in raw
    assert "Együttműködési megállapodás dátuma (46. mező) – 2026.03.05" in text
    assert "Szükséges más segítő bevonása? (43. mező) – Nem" in text
    assert "Kliens (Új/Régi) (3. mező) – Új" in text  # an option by its label, not "new"
    assert HU_TIME.search(text) and not EN_TIME.search(text)
    # The filters: the process by name, days as text in the Hungarian format with a hint.
    assert '<option value="family_care"' in raw and ">family_care<" not in raw
    assert 'type="date"' not in raw and 'placeholder="ÉÉÉÉ.HH.NN"' in raw and "pl. 2026.12.05" in text


def test_audit_page_in_english(world, app):
    mark = browser(app, "mark")
    mark.post("/language", {"locale": "en"})
    text = visible(mark.get("/audit/", query_string={"case": world["case"]}).get_data(as_text=True))
    no_codes(text)
    assert "Step completed" in text and "Case started" in text and "Lépés elvégezve" not in text
    assert "(field 46) – 2026-03-05" in text and "– No" in text
    assert EN_TIME.search(text) and not HU_TIME.search(text)
    security = visible(mark.get("/audit/", query_string={"kind": "user_created"}).get_data(as_text=True))
    assert "User created" in security and "Roles: Manager" in security


def test_day_filters_accept_the_hungarian_format_and_name_a_bad_day(world, app):
    mark = browser(app, "mark")
    found = mark.get("/audit/", query_string={"case": world["case"], "from": "2026.03.02.", "to": "2026-03-02",
                                              "process": "family_care", "kind": "task_completed"})
    text = events(found.get_data(as_text=True))
    assert found.status_code == 200 and "Lépés elvégezve" in text and "Eset indítva" not in text
    assert 'value="2026.03.02"' in found.get_data(as_text=True)  # shown back in the language's format
    none = events(mark.get("/audit/", query_string={"from": "2026.03.03"}).get_data(as_text=True))
    assert "Lépés elvégezve" not in none
    bad = mark.get("/audit/", query_string={"from": "2026.02.30"})
    error = re.search(r'data-testid="filter-error">([^<]+)<', bad.get_data(as_text=True))
    assert bad.status_code == 400 and error is not None
    assert html_lib.unescape(error.group(1)) == "Ettől: a(z) „2026.02.30” nem dátum; így írja: 2026.12.05."
    other = mark.get("/audit/", query_string={"process": "intake", "case": world["case"]})
    assert "Lépés elvégezve" not in events(other.get_data(as_text=True))


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_case_history_reads_like_the_timeline(world, app, lang):
    mark = browser(app, "mark")
    if lang == "en":
        mark.post("/language", {"locale": "en"})
    text = visible(mark.get(f"/audit/cases/{world['case']}").get_data(as_text=True))
    no_codes(text)
    if lang == "hu":
        assert "Lépés elvégezve" in text and "(46. mező)" in text and HU_TIME.search(text)
    else:
        assert "Step completed" in text and "(field 46)" in text and EN_TIME.search(text)


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_repeated_views_collapse_in_the_timeline(world, app, lang):
    mark = browser(app, "mark")
    if lang == "en":
        mark.post("/language", {"locale": "en"})
    for _ in range(4):
        mark.get(f"/cases/{world['case']}")
    raw = mark.get(f"/cases/{world['case']}").get_data(as_text=True)
    timeline = visible(raw[raw.index('data-testid="timeline"'):])
    no_codes(timeline)
    collapsed = "mark 4 alkalommal megtekintette" if lang == "hu" else "Viewed 4 times by mark"
    one = "Eset megtekintve" if lang == "hu" else "Case viewed"
    assert collapsed in timeline and one not in timeline
    assert "2026.03.02" in timeline if lang == "hu" else "2026-03-02" in timeline
    # The full list, one click away.
    link = re.search(r'href="([^"]+)"[^>]*data-testid="every-view"', raw)
    assert link is not None
    full = mark.get(html_lib.unescape(link.group(1))).get_data(as_text=True)
    full_timeline = visible(full[full.index('data-testid="timeline"'):])
    assert full_timeline.count(one) == 5 and collapsed not in full_timeline
    assert "Lépés elvégezve" in timeline if lang == "hu" else "Step completed" in timeline


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_security_events_are_readable(world, app, lang):
    browser(app).post("/login", {"username": "anna", "password": "wrong"})
    anna = browser(app, "anna")
    assert anna.get("/audit/").status_code == 403
    mark = browser(app, "mark")
    if lang == "en":
        mark.post("/language", {"locale": "en"})
    text = events(mark.get("/audit/", query_string={"user": "anna"}).get_data(as_text=True))
    no_codes(text)
    assert "bad_credentials" not in text and "access_denied" not in text and "user_logged_in" not in text
    if lang == "hu":
        assert "Sikertelen bejelentkezés" in text and "Indok: hibás felhasználónév vagy jelszó" in text
        assert "Bejelentkezés" in text and "Hozzáférés megtagadva" in text and "Cím: /audit/" in text
    else:
        assert "Failed login" in text and "Reason: wrong user name or password" in text
        assert "Logged in" in text and "Access refused" in text and "Address: /audit/" in text


def test_counts_and_page_numbers_are_written_as_the_language_writes_numbers(runtime, people, app):
    """12 345 events in Hungarian (grouped by threes with a no-break space from five digits on), 12,345 in
    English; the pager's numbers the same way."""
    import datetime as dt

    from engine.store.models import AuditEvent

    at = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)
    mark = browser(app, "mark")  # signing in is an event too
    with runtime.db.unit_of_work() as session:
        before = session.query(AuditEvent).count()
        session.execute(AuditEvent.__table__.insert(), [
            dict(occurred_at=at, actor="anna", kind="case_viewed", case_id=None, task_id=None, seq=i,
                 payload={}, prev_hash="", hash=f"bulk{i}") for i in range(12345 - before)])
    pages = -(-12345 // audit_views.PER_PAGE)
    page = mark.get("/audit/").get_data(as_text=True)
    hu = visible(page)
    assert "12\u00a0345 esemény" in page and "12345" not in hu  # a no-break space: the number never wraps
    assert f"1. oldal / {pages}" in hu
    mark.post("/language", {"locale": "en"})
    en = visible(mark.get("/audit/").get_data(as_text=True))
    # (switching the language is one more event)
    assert re.search(r"\b12,34\d events", en) and f"Page 1 of {pages:,}" in en


@pytest.mark.parametrize("value, hu, en", [(7, "7", "7"), (1234, "1234", "1,234"), (12345, "12\u00a0345", "12,345"),
                                           (-1234567, "-1\u00a0234\u00a0567", "-1,234,567"), (None, "", "")])
def test_a_number_in_each_language(app, value, hu, en):
    from flask import g

    for lang, expected in (("hu", hu), ("en", en)):
        with app.test_request_context("/"):
            g._segito_lang = lang
            assert formatting.number(value) == expected
