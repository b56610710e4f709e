"""A passed limit is worded in the reader's language, never half in the other: the caseload warning on the page
after starting a case, the weekly time warning, the refused 13th member of a group, and their audit events on
the case's timeline and history pages (web/limit_warnings.py, web/form_errors.py, web/audit_text.py)."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from flask import session

from engine import packages
from engine.cases import cases
from engine.errors import ValidationFailed
from engine.store import clock
from engine.store.config import BPMN_DIR
from engine.timers import timers
from tests import case_management_data as cm
from tests import demo_data
from tests.integration.test_language_pages import _problems, _user_data, _visible_text
from tests.integration.web_client import Browser, make_app
from web import audit_text, form_errors, limit_warnings

from .helpers import do, task_of
from .test_self_help_groups import at, attendance, first_meeting, members_joining, register, setup_data

MONDAY = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.timezone.utc)


def _browser(runtime, lang: str, username: str = "anna") -> Browser:
    browser = Browser(make_app(runtime))
    browser.login(username)
    browser.post("/language", {"locale": lang, "next": "/inbox"})
    return browser


def _typed(*values) -> list[str]:
    """The free text a test typed into the steps (Hungarian notes): user data, shown as typed in either language."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, str) and value.strip() and not re.fullmatch(r"[a-z0-9_.:\-]+", value.strip()):
            found.append(value.strip())
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(list(values))
    return found


def _leaks(runtime, lang: str, html: str, typed: tuple = ()) -> list[str]:
    # What users typed (the intake's names and notes), the product's name and the client codes are allowed.
    allowed = sorted({*_user_data(runtime), *_typed(*typed)}, key=len, reverse=True)
    return _problems(lang, _visible_text(html), allowed, [])


def _one_client_per_mentor(runtime, tmp_path: Path) -> None:
    """Job retention redeployed allowing one client per mentor, so the second one passes the limit."""
    folder = tmp_path / "job_retention"
    shutil.copytree(BPMN_DIR / "job_retention", folder)
    manifest = folder / "service.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("limit: 30", "limit: 1"), encoding="utf-8")
    packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_the_caseload_warning_and_its_event_speak_the_readers_language(runtime, people, tmp_path, lang):
    _one_client_per_mentor(runtime, tmp_path)
    cases.start_case(runtime, "job_retention", people.anna, demo_data.run_intake(runtime, people.anna, 0))
    code = demo_data.run_intake(runtime, people.anna, 1)
    browser = _browser(runtime, lang)
    started = browser.post("/cases/start", {"process_key": "job_retention", "client_code": code})
    assert started.status_code == 302
    page = browser.get(started.headers["Location"]).get_data(as_text=True)
    [warning] = re.findall(r'<p class="flash flash-warning">([^<]*)</p>', page)
    assert warning == ("2 aktív utókövetett kliens – a szolgáltatásban egyszerre megengedett legnagyobb szám: 1."
                       if lang == "hu" else "2 active follow-up clients: the service allows at most 1 at a time.")
    assert not _leaks(runtime, lang, page)
    case_id = max(c["case_id"] for c in cases.list_cases(runtime, people.anna))
    for address in (f"/cases/{case_id}", f"/audit/cases/{case_id}"):
        browser = _browser(runtime, lang, "anna" if address.startswith("/cases") else "mark")
        shown = browser.get(address).get_data(as_text=True)
        assert ("Esetszámkorlát túllépve" if lang == "hu" else "Caseload limit exceeded") in shown, address
        assert not _leaks(runtime, lang, shown), address


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_the_weekly_time_warning_and_its_event_speak_the_readers_language(runtime, people, lang):
    clock.freeze(MONDAY)
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = cases.start_case(runtime, "case_management", people.anna, code)["case_id"]
    typed = (cm.entry("labour_office"), cm.assessment(), cm.meeting({}, "2026-03-16", minutes=150))
    for bpmn_id, data in zip(("cm_entry", "cm_assessment", "cm_meeting"), typed):
        do(runtime, case_id, bpmn_id, data, people.anna)
    assert task_of(runtime, case_id, "cm_meeting")
    app = make_app(runtime)
    with app.test_request_context():
        session["locale"] = lang
        warning = {"code": "time_limit_exceeded", "caseload": "case_management", "week_start": "2026-03-16",
                   "week_end": "2026-03-22", "minutes": 150, "limit": 120,
                   "label": {"hu": "egy ügyfélre fordított idő", "en": "time with one client"}}
        said = limit_warnings.say(warning)
    assert said == ("Egy ügyfélre fordított idő: 150 perc a 2026.03.16 – 2026.03.22 héten; a szolgáltatásban "
                    "hetente megengedett legtöbb idő: 120 perc." if lang == "hu" else
                    "Time with one client: 150 minutes in the week 2026-03-16 – 2026-03-22; the service allows "
                    "at most 120 minutes a week.")
    for browser, address in ((_browser(runtime, lang), f"/cases/{case_id}"),
                             (_browser(runtime, lang, "mark"), f"/audit/cases/{case_id}")):
        shown = browser.get(address).get_data(as_text=True)
        assert ("Heti időkorlát túllépve" if lang == "hu" else "Weekly time limit exceeded") in shown, address
        assert ("Naplózott percek" if lang == "hu" else "Minutes logged") in shown, address
        assert not _leaks(runtime, lang, shown, typed), address


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_the_thirteenth_member_is_refused_in_the_readers_language(runtime, people, lang):
    codes = register(runtime, people, 13)
    case_id = cases.start_case(runtime, "self_help_groups", people.anna)["case_id"]
    do(runtime, case_id, "shg_setup", setup_data(codes[:12]), people.anna)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, case_id, codes[:12])
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    meeting = {"meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance(codes[:12]),
               "group_next": "continue", "professional_present": False,
               "members_joining": members_joining([codes[12]], "2026-03-11")}
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "shg_meeting", meeting, people.anna)
    [detail] = refused.value.details
    assert (detail["code"], detail["limit"], detail["joining"], detail["value"]) == ("too_many_members", 12, 1, 13)
    app = make_app(runtime)
    with app.test_request_context():
        session["locale"] = lang
        placed = form_errors.place(refused.value.details, {"type": "object", "properties": {}}, meeting, lang)
    assert placed == {"members_joining": [
        "Egyszerre megengedett legtöbb tag: 12; 1 csatlakozóval 13 tag lenne." if lang == "hu" else
        "At most 12 members at a time: with 1 joining there would be 13."]}


def test_every_refused_membership_change_has_words_in_both_languages(runtime):
    app = make_app(runtime)
    codes = ["too_many_members", "listed_twice", "not_a_member_now", "not_a_member", "already_a_member",
             "unknown_code", "left_before_joining", "all_must_leave", "missing_from_sheet", "no_members"]
    detail = {"kind": "x-members", "value": "K-AAAA0000", "limit": 12, "joining": 2, "client_code": "K-AAAA0000",
              "joined_on": "2026-03-04", "codes": "K-BBBB0000"}
    for lang in ("hu", "en"):
        with app.test_request_context():
            session["locale"] = lang
            words = [form_errors._members_message({**detail, "code": c}, lang) for c in codes]
            assert form_errors._members_message({**detail, "code": "?"}, lang) not in words
            for said in words:
                assert not _leaks(runtime, lang, said), said
    assert set(codes) >= {"too_many_members"}
    assert audit_text.EVENT_NAMES["time_limit_exceeded"]
