"""Anonymous questionnaires (docs/forms.md, "Anonymous questionnaires"): a form marked x-anonymous stores its
answers with nothing that leads back to the case, the client, the task, the user or the exact time; the audit
says only that an answer was given; the answers are read in aggregate only, start and close paired by the
respondent's own code."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import packages
from engine.cases import cases, tasks
from engine.errors import Forbidden, PackageInvalid, ValidationFailed
from engine.packages.deploy import check_all
from engine.reports import anonymous
from engine.store import audit, clock
from engine.store.models import AnonymousAnswer, AuditEvent, HumanTask
from tests import demo_data

from .helpers import do, task_of, waiting_steps

PACKAGE = Path(__file__).resolve().parent / "fixtures" / "anonymous_survey"


def _deploy(runtime):
    packages.deploy(runtime, [packages.from_folder(PACKAGE)], "dora", clock.now())


def _respondent(runtime, people, i: int, start: dict, close: dict, satisfaction: dict) -> int:
    code = demo_data.run_intake(runtime, people.anna, i)
    case_id = cases.start_case(runtime, "anonymous_survey", people.anna, code)["case_id"]
    do(runtime, case_id, "attitude_start", start, people.anna)
    do(runtime, case_id, "session", {"session_date": clock.now().date().isoformat()}, people.anna)
    do(runtime, case_id, "attitude_close", close, people.anna)
    do(runtime, case_id, "satisfaction", satisfaction, people.anna)
    return case_id


def test_an_answer_is_stored_apart_from_the_case_and_the_audit_says_only_that_it_was_given(runtime, people):
    clock.freeze(dt.datetime(2026, 5, 14, 10, 0, tzinfo=dt.timezone.utc))
    _deploy(runtime)
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = cases.start_case(runtime, "anonymous_survey", people.anna, code)["case_id"]
    task_id = task_of(runtime, case_id, "attitude_start")
    opened = tasks.get_task(runtime, task_id, people.anna)
    assert opened["anonymous"] is True and opened["values"] == {}
    with pytest.raises(ValidationFailed, match="never saved as a draft"):
        tasks.save_draft(runtime, task_id, {"confidence": 2}, people.anna)
    with pytest.raises(ValidationFailed):  # still validated: the answer must fit the questionnaire
        tasks.complete(runtime, task_id, {"jelszo": "Kék ég", "confidence": 9}, people.anna)

    done = tasks.complete(runtime, task_id, {"jelszo": "Kék ég", "confidence": 2}, people.anna)
    assert done["anonymous"] is True and waiting_steps(runtime, case_id) == ["session"]

    case = cases.get_case(runtime, case_id, people.anna)
    assert "confidence" not in case["data"] and "jelszo" not in case["data"]
    with runtime.db.reading() as session:
        [row] = session.execute(select(AnonymousAnswer)).scalars().all()
        assert (row.package_key, row.questionnaire) == ("anonymous_survey", "attitude_start")
        assert (row.period_start, row.period_end) == (dt.date(2026, 4, 1), dt.date(2026, 6, 30))  # the quarter
        assert row.answers == {"confidence": 2}, "the pairing code is not kept as given"
        assert row.pair_group == "attitude" and row.pair_moment == "start" and len(row.pair_hash) == 64
        assert "kek" not in row.pair_hash and len(row.id) == 32
        columns = set(AnonymousAnswer.__table__.c.keys())
        assert not columns & {"case_id", "client_id", "task_id", "user_id", "actor", "created_at", "occurred_at"}
        task = session.get(HumanTask, task_id)
        assert task.state == "completed" and task.draft is None
        event = session.execute(select(AuditEvent).where(AuditEvent.task_id == task_id,
                                                         AuditEvent.kind == "task_completed")).scalar_one()
        assert audit.readable(session, event.payload)["anonymous_answer"] == {"questionnaire": "attitude_start"}
        everything = json.dumps([audit.readable(session, e.payload)
                                 for e in session.execute(select(AuditEvent)).scalars()], ensure_ascii=False)
        assert "Kék ég" not in everything and row.pair_hash not in everything and row.id not in everything
        assert '"confidence"' not in everything


def test_answers_are_read_in_aggregate_only_and_start_pairs_with_close_by_the_code(runtime, people):
    clock.freeze(dt.datetime(2026, 5, 14, 10, 0, tzinfo=dt.timezone.utc))
    _deploy(runtime)
    # Four respondents. Codes differ only in case and accents for respondent 0 ("Kék ég" then "kek EG"): one pair.
    # Respondent 3 chose the same code as respondent 2 at the close: that code pairs nothing.
    plan = [("Kék ég", 2, "kek EG", 4, {"overall": 5, "would_recommend": True, "helped_with": ["job_search"],
                                         "remarks": "Köszönöm"}),
            ("alma123", 1, "alma123", 2, {"overall": 4, "would_recommend": True,
                                          "helped_with": ["job_search", "training"]}),
            ("tulipan", 3, "tulipan", 3, {"overall": 2, "would_recommend": False}),
            ("nyar99", 4, "tulipan", 5, {"overall": 4})]
    for i, (c1, v1, c2, v2, sat) in enumerate(plan):
        _respondent(runtime, people, i, {"jelszo": c1, "confidence": v1}, {"jelszo": c2, "confidence": v2}, sat)

    listed = anonymous.catalogue(runtime, people.mark)
    assert {q["questionnaire"] for q in listed} == {"attitude_start", "attitude_close", "satisfaction"}
    with pytest.raises(Forbidden):
        anonymous.figures(runtime, people.anna, "anonymous_survey", "satisfaction", dt.date(2026, 5, 1),
                          dt.date(2026, 5, 31))

    sat = anonymous.figures(runtime, people.mark, "anonymous_survey", "satisfaction", dt.date(2026, 5, 1),
                            dt.date(2026, 5, 31))
    assert sat["answers"] == 4 and not sat["withheld"]
    by_field = {q["field"]: q for q in sat["questions"]}
    assert by_field["overall"]["mean"] == 3.75  # (5 + 4 + 2 + 4) / 4
    assert by_field["overall"]["counts"] == {"2": 1, "4": 2, "5": 1}
    assert by_field["would_recommend"]["counts"] == {"true": 2, "false": 1}
    # Three answered the multi-select? No: two did, under the threshold of 3: withheld.
    assert by_field["helped_with"]["answered"] == 2 and by_field["helped_with"]["withheld"] is True
    assert by_field["helped_with"]["counts"] == {}
    assert by_field["remarks"]["kind"] == "text" and "Köszönöm" not in json.dumps(sat, ensure_ascii=False)

    # Another month holds none of them (the satisfaction period is the month).
    june = anonymous.figures(runtime, people.mark, "anonymous_survey", "satisfaction", dt.date(2026, 6, 1),
                             dt.date(2026, 6, 30))
    assert june["answers"] == 0 and june["withheld"] and june["questions"] == []

    close = anonymous.figures(runtime, people.mark, "anonymous_survey", "attitude_close", dt.date(2026, 4, 1),
                              dt.date(2026, 6, 30))
    # Pairs: respondent 0 (2 -> 4), respondent 1 (1 -> 2); "tulipan" was given twice at the close: no pair.
    # Two pairs are fewer than min_answers (3): withheld.
    assert close["pairs"]["pairs"] == 2 and close["pairs"]["withheld"] is True and close["pairs"]["changes"] == []

    # A fifth respondent makes three pairs: the change is shown, (2 + 1 + 2) / 3.
    _respondent(runtime, people, 4, {"jelszo": "Hold", "confidence": 1}, {"jelszo": "hold", "confidence": 3},
                {"overall": 3})
    close = anonymous.figures(runtime, people.mark, "anonymous_survey", "attitude_close", dt.date(2026, 4, 1),
                              dt.date(2026, 6, 30))
    assert close["pairs"]["pairs"] == 3 and not close["pairs"]["withheld"]
    [change] = close["pairs"]["changes"]
    assert (change["field"], change["pairs"]) == ("confidence", 3)
    assert (change["mean_start"], change["mean_close"], change["mean_change"]) == (1.33, 3.0, 1.67)


def test_a_questionnaire_that_would_tie_answers_to_the_case_is_refused_at_deploy(tmp_path):
    folder = tmp_path / "anonymous_survey"
    shutil.copytree(PACKAGE, folder)
    form = json.loads((folder / "forms" / "satisfaction.json").read_text())
    form["x-anonymous"]["min_answers"] = 1
    form["x-anonymous"]["period"] = "day"
    form["properties"]["overall"]["x-prefill-from"] = "client_code"
    (folder / "forms" / "satisfaction.json").write_text(json.dumps(form))
    close = json.loads((folder / "forms" / "attitude_close.json").read_text())
    close["x-anonymous"]["pair"]["moment"] = "end"
    (folder / "forms" / "attitude_close.json").write_text(json.dumps(close))
    with pytest.raises(PackageInvalid) as refused:
        check_all([packages.from_folder(folder)])
    text = json.dumps(refused.value.details, default=str, ensure_ascii=False)
    assert "min_answers" in text and "period must be one of" in text and "x-prefill-from cannot be used" in text
    assert "pair must be" in text


def test_the_pages_show_the_questionnaire_and_its_figures_in_both_languages(runtime, people):
    import base64

    from .web_client import browser, make_app

    clock.freeze(dt.datetime(2026, 5, 14, 10, 0, tzinfo=dt.timezone.utc))
    _deploy(runtime)
    for i, overall in enumerate((5, 4, 2)):
        _respondent(runtime, people, i, {"jelszo": f"kod{i}", "confidence": 2}, {"jelszo": f"kod{i}", "confidence": 3},
                    {"overall": overall, "would_recommend": True, "remarks": "titok"})
    code = demo_data.run_intake(runtime, people.anna, 9)
    case_id = cases.start_case(runtime, "anonymous_survey", people.anna, code)["case_id"]
    app = make_app(runtime)
    anna = browser(app, "anna")
    page = anna.get(f"/tasks/{task_of(runtime, case_id, 'attitude_start')}").get_data(as_text=True)
    assert 'data-testid="anonymous-note"' in page and 'data-testid="save-draft"' not in page
    assert "Névtelen kérdőív: a válaszokat" in page
    assert anna.get("/questionnaires/anonymous_survey/satisfaction").status_code == 403

    mark = browser(app, "mark")
    listing = mark.get("/questionnaires/").get_data(as_text=True)
    assert "Elégedettségi kérdőív" in listing and "Attitűd kérdőív – zárás" in listing
    shown = mark.get("/questionnaires/anonymous_survey/satisfaction?from=2026-05-01&to=2026-05-31")
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "Válaszok az időszakban: 3" in text and "Átlag: 3.67" in text
    assert "titok" not in text
    pairs = mark.get("/questionnaires/anonymous_survey/attitude_close?from=2026-04-01&to=2026-06-30")
    assert "Párok: 3" in pairs.get_data(as_text=True)

    token = base64.b64encode(b"mark:pw-mark").decode()
    api = app.test_client().get("/api/questionnaires/anonymous_survey/satisfaction?from=2026-05-01&to=2026-05-31",
                                headers={"Authorization": f"Basic {token}"})
    assert api.status_code == 200 and api.get_json()["answers"] == 3
    missing = app.test_client().get("/api/questionnaires/anonymous_survey/satisfaction",
                                    headers={"Authorization": f"Basic {token}"})
    assert missing.status_code == 400
