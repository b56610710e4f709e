"""An anonymous questionnaire handed to the client as a one-time link (docs/forms.md, "Handing a questionnaire to
the client"): the step completes with a link shown once; the database keeps only the token's hash, with no case,
client, task or user; the link opens the questionnaire without login, takes one answer (stored as any anonymous
answer), and refuses a second use, an expired or an unknown token with a clear 410 / 404 — on SQLite and
PostgreSQL. Any package's anonymous questionnaire can be handed out (here the test package's)."""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select

from engine.cases import anonymous_handout, cases, tasks
from engine.errors import Gone, NotFound, ValidationFailed
from engine.reports import anonymous
from engine.store import audit, clock
from engine.store.models import AnonymousAnswer, AnonymousInvitation, AuditEvent
from tests import demo_data

from .helpers import do, task_of
from .test_anonymous_questionnaires import _deploy

ANSWER = {"overall": 4, "would_recommend": True, "remarks": "Köszönöm."}


def _at_satisfaction(runtime, people, i: int = 0) -> int:
    code = demo_data.run_intake(runtime, people.anna, i)
    case_id = cases.start_case(runtime, "anonymous_survey", people.anna, code)["case_id"]
    do(runtime, case_id, "attitude_start", {"jelszo": f"kod{i}", "confidence": 2}, people.anna)
    do(runtime, case_id, "session", {"session_date": "2026-05-14"}, people.anna)
    do(runtime, case_id, "attitude_close", {"jelszo": f"kod{i}", "confidence": 3}, people.anna)
    return case_id


@pytest.fixture
def handed(runtime, people):
    clock.freeze(dt.datetime(2026, 5, 14, 10, 0, tzinfo=dt.timezone.utc))
    _deploy(runtime)
    case_id = _at_satisfaction(runtime, people)
    task_id = task_of(runtime, case_id, "satisfaction")
    result = tasks.complete(runtime, task_id, {"overall": "ignored"}, people.anna, hand_out=True)
    return case_id, task_id, result


def test_handing_out_completes_the_step_and_keeps_only_the_tokens_hash(runtime, people, handed):
    case_id, task_id, result = handed
    link = result["hand_out"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link["token"]) and link["expires_on"] == "2026-05-28"  # 14 days
    assert cases.get_case(runtime, case_id, people.anna, with_data=False)["status"] == "completed"
    with runtime.db.reading() as session:
        [row] = session.execute(select(AnonymousInvitation)).scalars()
        assert row.token_hash == hashlib.sha256(link["token"].encode()).hexdigest() and row.used is False
        columns = set(AnonymousInvitation.__table__.columns.keys())
        assert not columns & {"case_id", "client_id", "task_id", "user_id", "created_at", "token"}
        # Nothing of the link in the history: only that the questionnaire was handed out.
        events = session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)).scalars().all()
        assert link["token"] not in str([audit.readable(session, e.payload) for e in events])
        [done] = [e for e in events if e.task_id == task_id and e.kind == "task_completed"]
        payload = audit.readable(session, done.payload)
        assert payload["anonymous_answer"] == {"questionnaire": "satisfaction", "handed_out": True}
        assert session.execute(select(AnonymousAnswer).where(AnonymousAnswer.questionnaire == "satisfaction")
                               ).first() is None  # not answered yet


def test_the_link_takes_one_answer_stored_apart_then_refuses(runtime, people, handed):
    _case_id, _task_id, result = handed
    token = result["hand_out"]["token"]
    shown = anonymous_handout.open_link(runtime, token)
    assert shown["questionnaire"] == "satisfaction" and "overall" in shown["form"]["properties"]
    with pytest.raises(ValidationFailed) as refused:  # validated as the form is
        anonymous_handout.answer(runtime, token, {"overall": 9})
    assert [d["field"] for d in refused.value.details] == ["overall"]
    anonymous_handout.answer(runtime, token, ANSWER)
    with runtime.db.reading() as session:
        [stored] = session.execute(select(AnonymousAnswer).where(AnonymousAnswer.questionnaire == "satisfaction")
                                   ).scalars()
        assert stored.answers == ANSWER and (stored.period_start, stored.period_end) == (
            dt.date(2026, 5, 1), dt.date(2026, 5, 31))
        assert anonymous_handout.counts(session, "anonymous_survey", "satisfaction") == {
            "handed_out": 1, "answered": 1}
    figures = anonymous.figures(runtime, people.lea, "anonymous_survey", "satisfaction", dt.date(2026, 5, 1),
                                dt.date(2026, 5, 31))
    assert figures["answers"] == 1 and figures["links"] == {"handed_out": 1, "answered": 1}
    for again in (lambda: anonymous_handout.open_link(runtime, token),
                  lambda: anonymous_handout.answer(runtime, token, ANSWER)):
        with pytest.raises(Gone, match="already been used"):
            again()
    with runtime.db.reading() as session:
        assert len(session.execute(select(AnonymousAnswer.id).where(
            AnonymousAnswer.questionnaire == "satisfaction")).all()) == 1


def test_an_expired_or_unknown_link_is_refused(runtime, people, handed):
    token = handed[2]["hand_out"]["token"]
    clock.freeze(dt.datetime(2026, 5, 28, 21, 0, tzinfo=dt.timezone.utc))  # 23:00 in Budapest: the last day
    assert anonymous_handout.open_link(runtime, token)["expires_on"] == "2026-05-28"
    clock.freeze(dt.datetime(2026, 5, 28, 22, 30, tzinfo=dt.timezone.utc))  # the 29th in Budapest
    with pytest.raises(Gone, match="expired on 2026-05-28"):
        anonymous_handout.answer(runtime, token, ANSWER)
    for unknown in ("A" * 43, "short", "../../etc/passwd", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(NotFound):
            anonymous_handout.open_link(runtime, unknown)


def test_only_an_anonymous_questionnaire_can_be_handed_out(runtime, people):
    clock.freeze(dt.datetime(2026, 5, 14, 10, 0, tzinfo=dt.timezone.utc))
    _deploy(runtime)
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = cases.start_case(runtime, "anonymous_survey", people.anna, code)["case_id"]
    do(runtime, case_id, "attitude_start", {"jelszo": "kod0", "confidence": 2}, people.anna)
    with pytest.raises(ValidationFailed, match="cannot be handed out"):
        tasks.complete(runtime, task_of(runtime, case_id, "session"), {}, people.anna, hand_out=True)


def test_the_public_page_in_both_languages_with_clear_refusals_and_a_rate_limit(runtime, people, handed):
    from web import survey_views

    from .web_client import browser, make_app

    token = handed[2]["hand_out"]["token"]
    app = make_app(runtime)
    client = browser(app)  # nobody logged in
    page = client.get(f"/survey/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Összességében mennyire elégedett?" in text and "névtelen" in text
    assert "K-" not in text  # nothing of the case: no client code
    client.post("/language", {"locale": "en", "next": f"/survey/{token}"})
    english = client.get(f"/survey/{token}").get_data(as_text=True)
    assert "Overall, how satisfied are you?" in english and "Send the answers" in english
    assert "Összességében" not in english
    assert client.get("/survey/" + "B" * 43).status_code == 404
    assert client.get("/survey/nonsense").status_code == 404
    # A wrong value is refused naming the field, then the answer is taken.
    bad = client.post(f"/survey/{token}", {"overall": "9"})
    assert bad.status_code == 422 and "overall" in bad.get_data(as_text=True)
    sent = client.post(f"/survey/{token}", {"overall": "5", "would_recommend": "true"})
    assert sent.status_code == 200 and "Thank you" in sent.get_data(as_text=True)
    used = client.get(f"/survey/{token}")
    assert used.status_code == 410 and "already been used" in used.get_data(as_text=True)
    assert client.post(f"/survey/{token}", {"overall": "5"}).status_code == 410
    # Guessing is slow: at most LIMIT requests per address in the window.
    with app.app_context():
        survey_views.hits().clear()
    statuses = [client.get("/survey/" + "C" * 43).status_code for _ in range(survey_views.LIMIT + 1)]
    assert statuses[:-1] == [404] * survey_views.LIMIT and statuses[-1] == 429
    # The worker's side: the step's page offers the hand-out, which shows the link once.
    anna = browser(app, "anna")
    case_id = _at_satisfaction(runtime, people, 1)
    task_id = task_of(runtime, case_id, "satisfaction")
    assert 'data-testid="hand-out"' in anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    shown = anna.post(f"/tasks/{task_id}/hand-out", {}).get_data(as_text=True)
    link = re.search(r'data-testid="survey-link">([^<]+)<', shown).group(1)
    assert re.fullmatch(r"http://localhost/survey/[A-Za-z0-9_-]{43}", link)
    assert "Egyszer használható hivatkozás a kliensnek" in shown
    # The lead sees how many links were handed out and answered, nothing more.
    lea = browser(app, "lea")
    counted = lea.get("/questionnaires/anonymous_survey/satisfaction?from=2026-05-01&to=2026-05-31")
    assert "Egyszer használható hivatkozással átadva a klienseknek: 2, ebből kitöltve: 1" in counted.get_data(
        as_text=True)
