"""The follow-up pages: a mentor's agenda and iCalendar feed, the manager's caseload, the scheduler with retry."""
from __future__ import annotations

import datetime as dt
import re

from engine.cases import agenda
from engine.people import users
from engine.store import clock
from engine.store.timer_models import CalendarFeed
from engine.timers import caseload, timers
from tests import demo_data

from .test_timers import TIMER_PROBE, _start
from .timer_helpers import VISIT, administrator, complete, count_events, local, start_follow_up, timer_rows
from .web_client import browser, make_app


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_the_mentor_sees_the_coming_weeks_and_subscribes_to_a_feed_without_a_session(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-07", 9))
    timers.fire_due(runtime, "w")  # visit 1 is in the inbox today
    app = make_app(runtime)
    anna = browser(app, "anna")
    page = anna.get("/agenda?weeks=4").get_data(as_text=True)
    assert page.count('data-testid="agenda-item"') == 4  # 7, 14, 21 and 28 February
    assert "K-" in page and "2026.02.14" in page and "2026.03.14" not in page
    assert "2026.03.14" in anna.get("/agenda?weeks=8").get_data(as_text=True)
    # Bela follows nobody: his agenda is empty; a manager has no agenda at all.
    assert 'data-testid="agenda-empty"' in browser(app, "bela").get("/agenda").get_data(as_text=True)
    assert browser(app, "mark").get("/agenda").status_code == 403

    response = anna.post("/agenda/feed", follow_redirects=True)
    url = re.search(r"(http://[^ <]+/calendar/[A-Za-z0-9_-]+\.ics)", response.get_data(as_text=True)).group(1)
    path = url.split("localhost", 1)[1]
    with runtime.db.reading() as session:
        stored = session.get(CalendarFeed, people.anna.id)
    assert stored.token_hash not in url  # only the hash is kept

    outsider = app.test_client()  # a calendar app: no cookie, no login
    feed = outsider.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    raw = feed.get_data(as_text=True)
    assert raw.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and raw.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))
    lines = _unfold(raw)
    assert lines.count("BEGIN:VEVENT") == 10  # nine visits and the day-180 check, from today on
    assert "DTSTART;VALUE=DATE:20260207" in lines and "DTSTART;VALUE=DATE:20260730" in lines
    assert f"UID:{case_id}-visit-2026-02-07@segito" in lines
    assert not any("Kovács" in line or "Szabó" in line for line in lines)  # codes, never names

    anna.post("/agenda/feed")  # a new link: the old one stops working
    assert outsider.get(path).status_code == 404
    assert outsider.get("/calendar/not-a-token.ics").status_code == 404


def test_the_feed_is_valid_rfc5545_text():
    text = agenda.to_ical([{"date": "2026-03-29", "kind": "visit", "label": "3. látogatás, próba; vége\\ új sor\nx",
                            "case_id": 7, "process_key": "job_retention", "client_code": "K-ABCDEFGH",
                            "uid": "7-visit-2026-03-29", "state": "scheduled", "task_id": None}],
                          dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone.utc), "Kiss Anna " * 10)
    lines = _unfold(text)
    assert "DTSTAMP:20260329T013000Z" in lines and "DTEND;VALUE=DATE:20260330" in lines
    [description] = [line for line in lines if line.startswith("DESCRIPTION:")]
    assert description == "DESCRIPTION:3. látogatás\\, próba\\; vége\\\\ új sor\\nx\\nEset / case #7 (job_retention)"
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    text.encode("utf-8")  # folding never splits a character


def test_the_manager_sees_who_is_over_the_caseload_limit(runtime, people):
    from .test_job_retention import _bulk_follow_up_clients

    _bulk_follow_up_clients(runtime, people.bela.id, 31)
    app = make_app(runtime)
    page = browser(app, "mark").get("/caseload").get_data(as_text=True)
    assert 'data-testid="over-limit"' in page and "31 / 30" in page and "Bela" in page
    mark = browser(app, "mark")
    mark.post("/language", {"locale": "en", "next": "/caseload"})
    english = mark.get("/caseload").get_data(as_text=True)
    assert "Clients at a time per person in the role Caseworker; the service allows at most 30." in english
    assert browser(app, "anna").get("/caseload").status_code == 403


def test_the_administrator_sees_incidents_and_retries_one(runtime, people, monkeypatch):
    from engine.runtime import services

    calls = {"down": True}

    def provide(*_a):
        def probe(task_data, **_):
            if calls["down"]:
                raise ConnectionError("register down")
            return {}
        return {"flaky": probe}

    monkeypatch.setattr(services, "PROVIDERS", [*services.PROVIDERS, provide])
    monkeypatch.setattr(timers, "MAX_ATTEMPTS", 1)
    case_id = _start(runtime, people, "timer_probe", TIMER_PROBE)
    administrator(runtime, "root")
    with runtime.db.unit_of_work() as session:
        users.by_username(session, "root").password_hash = users.hash_password("pw-root")
    clock.advance(dt.timedelta(minutes=11))
    timers.fire_due(runtime, "w")
    [row] = timer_rows(runtime, case_id)
    assert row.state == "incident"
    app = make_app(runtime)
    root = browser(app, "root")
    page = root.get("/admin/scheduler").get_data(as_text=True)
    assert 'data-testid="count-incident">1<' in page and "register down" in page
    assert browser(app, "mark").get("/admin/scheduler").status_code == 403
    assert browser(app, "anna").post(f"/admin/scheduler/timers/{row.id}/retry").status_code == 403
    calls["down"] = False
    root.get("/admin/scheduler")
    assert root.post(f"/admin/scheduler/timers/{row.id}/retry").status_code == 302
    clock.advance(dt.timedelta(seconds=1))
    assert timers.fire_due(runtime, "w") == 1
    assert 'data-testid="count-incident">0<' in root.get("/admin/scheduler").get_data(as_text=True)


def test_a_recorded_visit_leaves_the_agenda(runtime, people):
    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna, months=1)
    clock.freeze(local("2026-02-07", 9))
    timers.fire_due(runtime, "w")
    before = agenda.agenda(runtime, people.anna, days=8)
    assert [(i["date"], i["state"]) for d in before["by_day"] for i in d["items"]] == [
        ("2026-02-07", "due"), ("2026-02-14", "scheduled")]
    clock.freeze(local("2026-02-08", 9))
    overdue = agenda.agenda(runtime, people.anna, days=7)
    assert overdue["by_day"][0]["items"][0]["state"] == "overdue"  # not recorded by the end of its day
    complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": "2026-02-07"}, people.anna)
    after = agenda.agenda(runtime, people.anna, days=8)
    assert [i["date"] for d in after["by_day"] for i in d["items"]] == ["2026-02-14"]


def test_a_mentor_starting_a_31st_follow_up_in_the_web_app_is_warned(runtime, people):
    from .test_job_retention import _bulk_follow_up_clients

    _bulk_follow_up_clients(runtime, people.anna.id, 29)
    anna = browser(make_app(runtime), "anna")
    warning = "31 aktív utókövetett kliens – a szolgáltatásban egyszerre megengedett legnagyobb szám: 30."
    for i, warned in ((0, False), (1, True)):  # the 30th client is within the limit, the 31st is not
        code = demo_data.run_intake(runtime, people.anna, i)
        response = anna.post("/cases/start", {"process_key": "job_retention", "client_code": code},
                             follow_redirects=True)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "3 Bevonás" in page  # the first step's form
        assert (warning in page) is warned and ('class="flash flash-warning"' in page) is warned
    # The warning is shown once, when the case starts, and kept in the case's history.
    assert warning not in anna.get("/inbox").get_data(as_text=True)
    assert count_events(runtime, caseload.CASELOAD_EXCEEDED) == 1
