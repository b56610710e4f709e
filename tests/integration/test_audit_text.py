"""Audit events as people read them (web/audit_text.py, templates/audit/_event.html): a deadline's lateness as a
length of time in the user's language, and a question's answer without a stray colon."""
from __future__ import annotations

from flask import session

from web import audit_text
from web.app import create_app

LATE = 187 * 86400 + 4 * 3600 + 10 * 60 + 44.957  # a follow-up contact fired long after its day


def _event_html(app, ev: dict) -> str:
    template = '{% from "audit/_event.html" import event_body %}{{ event_body(ev) }}'
    return app.jinja_env.from_string(template).render(ev=ev)


def test_a_deadline_reached_late_says_by_how_long_in_days_hours_and_minutes():
    app = create_app(runtime=object(), config={"TESTING": True, "SECRET_KEY": "t"})
    fired = {"kind": "timer_fired", "at": "2026-12-06T04:10:00+00:00", "actor": "lea",
             "payload": {"label": "3. utánkövetés / follow-up contact 3", "late_seconds": LATE}}
    for locale, late, seconds in (("en", "Late by: 187 days 4 hours 10 minutes", "1 second"),
                                  ("hu", "Késés: 187 nap 4 óra 10 perc", "1 másodperc")):
        with app.test_request_context():
            session["locale"] = locale
            shown = audit_text.present(None, fired, {})
            assert {"label": shown["details"][1]["label"], "value": shown["details"][1]["value"]} == {
                "label": late.split(": ")[0], "value": late.split(": ")[1]}
            assert late in _event_html(app, shown)
            assert audit_text.duration(0.6) == seconds
            assert audit_text.duration(3600) == ("1 hour" if locale == "en" else "1 óra")


def test_a_decision_shows_a_question_and_its_answer_without_a_colon_after_the_question_mark():
    app = create_app(runtime=object(), config={"TESTING": True, "SECRET_KEY": "t"})
    with app.test_request_context():
        session["locale"] = "en"
        html = _event_html(app, {"details": [
            {"label": "What do you record?", "number": "", "value": "an extra follow-up contact"},
            {"label": "Reason", "number": "", "value": "typo"},
            {"label": "Closed?", "number": "53", "value": "Yes"}], "changes": []})
    assert "What do you record? an extra follow-up contact" in html and "?:" not in html.replace("?) ", "")
    assert "Reason: typo" in html
    assert "Closed? (field 53): Yes" in html
