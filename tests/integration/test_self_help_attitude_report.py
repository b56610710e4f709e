"""The self-help groups' attitude change in their declared report (seed 002, 8.1: "a résztvevők attitűdjének
pozitív változása", 8.2 g: "az induláskori és záráskori összehasonlítással"; docs/reports.md, "Paired
questionnaires"): computed from the anonymous start and close answers alone, paired by the members' own passwords,
against figures computed by hand; no case behind them, nothing per leader, withheld below min_answers.

One group of four members (March 2026). Start answers (confidence, not_alone, can_talk, adapting,
intends_to_work; total): P0 2 3 3 2 4 (14), P1 3 3 2 3 4 (15), P2 4 4 4 4 5 (21), P3 1 1 1 1 1 (5). Close:
P0 5 4 3 3 4 (19: better), P1 3 3 2 3 4 (15: the same), P2 3 4 3 4 5 (19: worse), and a fourth member under a
password no start answer has (5 5 5 5 5: pairs nothing; P3 pairs nothing either).

By hand, three pairs — per item (mean at the start, at the close, mean change; better / same / worse):
confidence 3, 3.67, 0.67; 1/1/1 · not_alone 3.33, 3.67, 0.33; 1/2/0 · can_talk 3, 2.67, −0.33; 0/2/1 ·
adapting 3, 3.33, 0.33; 1/2/0 · intends_to_work 4.33, 4.33, 0; 0/3/0 · total 16.67, 17.67, 1; 1/1/1.
"""
from __future__ import annotations

import pytest

from engine import setup
from engine.cases import tasks
from engine.errors import ValidationFailed
from engine.packages import load
from engine.packages.check import check as check_package
from engine.reports import run
from engine.reports.request import parse_request
from engine.timers import timers

from .helpers import do, waiting
from .test_self_help_groups import at, attendance, first_meeting, register, start_group

ITEMS = ("confidence", "not_alone", "can_talk", "adapting", "intends_to_work")
STARTS = {"Pipacs": (2, 3, 3, 2, 4), "Rózsa": (3, 3, 2, 3, 4), "Tulipán": (4, 4, 4, 4, 5), "Ibolya": (1, 1, 1, 1, 1)}
CLOSES = {"pipacs": (5, 4, 3, 3, 4), "ROZSA": (3, 3, 2, 3, 4), "Tulipán": (3, 4, 3, 4, 5), "Új jelszó": (5, 5, 5, 5, 5)}
YEAR = ("2026-01-01", "2026-12-31")


def _answers(password: str, values: tuple) -> dict:
    return {"jelszo": password, **dict(zip(ITEMS, values, strict=True))}


@pytest.fixture
def answered(runtime, people):
    return answer_attitudes(runtime, people)


def answer_attitudes(runtime, people) -> int:
    """The group of the module's docstring, run to its close with every questionnaire answered."""
    codes = register(runtime, people, 4)
    case_id = start_group(runtime, people, codes)
    opening = [t for t in waiting(runtime, case_id) if t.step == "D"]
    for task, (password, values) in zip(opening, STARTS.items(), strict=True):
        tasks.complete(runtime, task.id, _answers(password, values), people.anna)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, case_id, codes)
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    do(runtime, case_id, "shg_meeting", {"meeting_date": "2026-03-11", "duration_minutes": 120,
                                         "attendance": attendance(codes), "group_next": "close",
                                         "professional_present": False}, people.anna)
    do(runtime, case_id, "shg_closing", {
        "closing_date": "2026-03-11", "results_summary": "Jól haladt.", "wish_to_continue": True,
        "satisfaction_sheets": 0,
        "members_leaving": [{"client_code": c, "left_on": "2026-03-11", "leaving_reason": "group_closed",
                             "employed_on_leaving": False} for c in codes]}, people.anna)
    closing = [t for t in waiting(runtime, case_id) if t.bpmn_id == "shg_attitude_close_closing"]
    for task, (password, values) in zip(closing, CLOSES.items(), strict=True):
        tasks.complete(runtime, task.id, _answers(password, values), people.anna)
    return case_id


def _report(runtime, actor, date_from=YEAR[0], date_to=YEAR[1], caseworker=None) -> dict:
    return run.report(runtime, actor, "self_help_groups", parse_request(date_from, date_to, caseworker))


ATTITUDE = ("A1", "A2", "A3", "A4",
            "A5", "A6")
COLUMNS = ("pairs", "mean_start", "mean_close", "mean_change", "improved", "unchanged", "worse")


def test_the_attitude_change_of_the_year_per_item_and_in_total(runtime, people, answered):
    result = _report(runtime, people.mark)
    values = {i["id"]: i["value"] for i in result["indicators"]}
    assert {k: values[k] for k in ATTITUDE} == {
        "A1": 3, "A2": 1, "A3": 1, "A4": 1,
        "A5": 33.33, "A6": 1.0}
    rows = {r["key"]: tuple(r[c] for c in COLUMNS) for r in result["tables"]["attitude_change"]}
    assert rows == {
        "confidence": (3, 3.0, 3.67, 0.67, 1, 1, 1),
        "not_alone": (3, 3.33, 3.67, 0.33, 1, 2, 0),
        "can_talk": (3, 3.0, 2.67, -0.33, 0, 2, 1),
        "adapting": (3, 3.0, 3.33, 0.33, 1, 2, 0),
        "intends_to_work": (3, 4.33, 4.33, 0.0, 0, 3, 0),
        "total": (3, 16.67, 17.67, 1.0, 1, 1, 1),
    }
    assert [r["key"] for r in result["tables"]["attitude_change"]][-1] == "total"
    labels = result["labels"]["attitude_change"]
    assert labels["confidence"]["en"].startswith("How confident are you") and labels["total"]["hu"].startswith(
        "összesen")


def test_no_answer_of_the_period_and_too_few_pairs_are_withheld(runtime, people, answered):
    # The close answers are kept by quarter (Q1): none in Q2 — no pairs, and no figure resting on them.
    q2 = {i["id"]: i["value"] for i in _report(runtime, people.mark, "2026-04-01", "2026-06-30")["indicators"]}
    assert {k: q2[k] for k in ATTITUDE} == {"A1": 0, "A2": None,
                                            "A3": None, "A4": None,
                                            "A5": None, "A6": None}


def test_the_answers_are_nobodys_cases_nor_a_leaders(runtime, people, answered):
    request = parse_request(*YEAR, None)
    for target in ("A2", "A1", "A5", "attitude_change.improved"):
        with pytest.raises(ValidationFailed) as refused:
            run.cases_behind(runtime, people.mark, "self_help_groups", request, target)
        assert "anonymous" in str(refused.value)
    # Asked for one leader, there are none: an answer names no caseworker.
    own = _report(runtime, people.mark, caseworker=people.anna.id)
    assert {i["id"]: i["value"] for i in own["indicators"]}["A1"] is None
    assert all(r["pairs"] is None for r in own["tables"]["attitude_change"])


def test_the_report_page_shows_the_figures_without_links_to_cases(runtime, people, answered):
    from .web_client import browser, make_app

    app = make_app(runtime)
    mark = browser(app, "mark")
    page = mark.get("/reports/self_help_groups?from=2026-01-01&to=2026-12-31").get_data(as_text=True)
    assert "Pozitív attitűdváltozás" in page and "Attitűdváltozás tételenként" in page
    assert "indicator=A2" not in page and "indicator=attitude_change." not in page
    assert "Mennyire bízik abban" in page  # an item's row is named by its question
    mark.post("/language", {"locale": "en", "next": "/reports/self_help_groups"})
    english = mark.get("/reports/self_help_groups?from=2026-01-01&to=2026-12-31").get_data(as_text=True)
    assert "Attitude change per item" in english and "Attitude changed for the better" in english
    assert "total (the sum of the items)" in english and "How confident are you" in english
    assert "Attitűdváltozás" not in english


def test_a_report_naming_a_pair_group_or_item_that_does_not_exist_is_refused(tmp_path):
    import shutil
    from pathlib import Path

    folder = tmp_path / "self_help_groups"
    shutil.copytree(Path(__file__).parents[2] / "bpmn" / "self_help_groups", folder)
    path = folder / "reports" / "self_help_groups.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("paired: {questionnaire: attitude, figure: improved}",
                        "paired: {questionnaire: mood, figure: improved}")
    text = text.replace("paired: {questionnaire: attitude, figure: worse}",
                        "paired: {questionnaire: attitude, figure: worse, item: jelszo}")
    text = text.replace("paired: {questionnaire: attitude, figure: unchanged}",
                        "paired: {questionnaire: attitude, figure: unchanged}\n    period: active")
    path.write_text(text, encoding="utf-8")
    setup.wire()  # the reports part checks reports/*.yaml only once registered, as every deploy path does
    problems = [p.message for p in check_package(load.from_folder(folder)).problems]
    assert any("no anonymous questionnaire pair group 'mood'" in p for p in problems), problems
    assert any("'jelszo' is not a number asked at both moments" in p for p in problems), problems
    assert any("'period' reads cases" in p for p in problems), problems
