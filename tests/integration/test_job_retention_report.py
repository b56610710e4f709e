"""The job-retention figures of seed 000 (DOMAIN.md 5; docs/indicators.md), declared in
bpmn/job_retention/reports/job_retention.yaml, end to end: real job-retention cases run through the engine —
intake, start, entry, plan, every visit fired by the moving clock and recorded on its day, the day-180 check — for
two mentors over the four quarters of 2026, and every figure checked against the values computed by hand below,
from the engine, from `segito report job_retention`, from the JSON API and from the report page.

The process is driven only through public engine functions (``cases.start_case``, ``tasks.complete``,
``timers.fire_due``) and its tasks are found by their form, so a redesign of the BPMN that keeps the seed's
calendar (visits on S+7, +14, +21, +28 days for a one-month plan; the check on S+180 days) keeps this test.

The data set (S = first day of employment; visits: who was reached, lay helpers, kinds of institution):

| case | mentor | client: born, sex        | target groups                   | S          | employer   | day 180     |
|------|--------|--------------------------|---------------------------------|------------|------------|-------------|
| C1   | anna   | P1: 2003-05-01, female   | career_starter, low_education   | 2026-01-05 | Alfa Kft.  | 07-04 yes   |
| C2   | anna   | P2: 1990-08-15, male     | long_term_unemployed            | 2026-03-02 | Béta Zrt.  | 08-29 no    |
| C3   | bela   | P3: 1970-02-01, —        | —                               | 2026-04-01 | Alfa Kft.  | 09-28 yes   |
| C4   | bela   | P4: 1985-12-31, female   | disabled, reduced_work_capacity | 2026-10-05 | Gamma Bt.  | (2027)      |
| C5   | bela   | P1 again, not given      | multiply_disadvantaged          | 2026-11-02 | Delta Kft. | (2027)      |

C1 visits 01-12 client+employer; 01-19 client+2 lay helpers; 01-26 client+institutions (labour office, family
support); 02-02 client+employer+1 lay helper.  C2: 03-09 client+employer; 03-16 employer+institutions (labour
office); 03-23 client; 03-30 client+3 lay helpers.  C3: 04-08 client+employer; 04-15 client+institutions
(health); 04-22 client+employer; 04-29 client.  C4: 10-12 client+employer; 10-19 client; 10-26 client+2 lay
helpers; 11-02 client+institutions (municipality, health).  C5: 11-09 client+employer; 11-16 client; 11-23
client; 11-30 client+employer.
"""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import delete, select

from engine.cases import cases, tasks
from engine.cli import main
from engine.errors import Forbidden, ValidationFailed
from engine.reports import export, run
from engine.reports.models import ReportCase
from engine.reports.request import parse_request
from engine.store import clock
from engine.store.models import HumanTask
from engine.timers import timers
from tests import demo_data

from .test_api import conforms
from .timer_helpers import local
from .web_client import browser, make_app

YEAR = ("2026-01-01", "2026-12-31")
C, E, L, I = "client", "employer", "lay_helpers", "institutions"  # noqa: E741 - the letters of the form

CLIENTS = {"P1": ("2003-05-01", 0), "P2": ("1990-08-15", 1), "P3": ("1970-02-01", 2), "P4": ("1985-12-31", 3)}
# case: (mentor, client, sex, target groups, S, employer, visits [(contacts, lay helpers, institutions)], check)
CASES = {
    "C1": ("anna", "P1", "female", ["career_starter", "low_education"], "2026-01-05", "Alfa Kft.",
           [([C, E], 0, []), ([C, L], 2, []), ([C, I], 0, ["labour_office", "family_support"]), ([C, E, L], 1, [])],
           True),
    "C2": ("anna", "P2", "male", ["long_term_unemployed"], "2026-03-02", "Béta Zrt.",
           [([C, E], 0, []), ([E, I], 0, ["labour_office"]), ([C], 0, []), ([C, L], 3, [])], False),
    "C3": ("bela", "P3", None, [], "2026-04-01", "Alfa Kft.",
           [([C, E], 0, []), ([C, I], 0, ["health"]), ([C, E], 0, []), ([C], 0, [])], True),
    "C4": ("bela", "P4", "female", ["disabled", "reduced_work_capacity"], "2026-10-05", "Gamma Bt.",
           [([C, E], 0, []), ([C], 0, []), ([C, L], 2, []), ([C, I], 0, ["municipality", "health"])], None),
    "C5": ("bela", "P1", None, ["multiply_disadvantaged"], "2026-11-02", "Delta Kft.",
           [([C, E], 0, []), ([C], 0, []), ([C], 0, []), ([C, E], 0, [])], None),
}
# The monitoring of seed 8.1 recorded at some visits (case, visit number from 0): the M figures.
MONITORING = {
    ("C1", 0): {"client_feedback": True, "self_assessment_made": True, "client_help": ["legal_advice"]},
    ("C1", 2): {"joint_programmes": 1, "problems_solved_with_institutions": 2, "feedback_given": 1,
                "self_assessment_analysed": True},
    ("C2", 1): {"feedback_received": 2, "problems_solved_with_institutions": 1},
    ("C3", 0): {"club_sessions": 2, "client_help": ["clubs", "legal_advice"], "client_feedback": True},
    ("C4", 3): {"joint_programmes": 2, "feedback_given": 3, "feedback_received": 1, "self_assessment_made": True,
                "self_assessment_analysed": True, "client_help": ["legal_advice"], "client_feedback": False},
    ("C5", 1): {"club_sessions": 1, "self_assessment_made": False},
}
LAST_DAY = dt.date(2026, 12, 31)  # the clock stops here: C4's and C5's checks are still to come


def _day(text: str, days: int) -> dt.date:
    return dt.date.fromisoformat(text) + dt.timedelta(days=days)


def _ready(runtime, case_id: int, form: str) -> list[HumanTask]:
    with runtime.db.reading() as session:
        return list(session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready", HumanTask.form_file == form)
            .order_by(HumanTask.id)).scalars())


def _complete(runtime, case_id: int, form: str, data: dict, actor) -> None:
    # A planned visit is due on its day; the extra visit "as needed" on the same form, open all along, is not.
    found = [t for t in _ready(runtime, case_id, form) if form != "visit.json" or t.due_at is not None]
    assert len(found) == 1, f"case {case_id}: expected one {form} waiting on {clock.now()}, found {len(found)}"
    tasks.complete(runtime, found[0].id, data, actor)


def _intake(runtime, actor, birth: str, i: int) -> str:
    started = cases.start_case(runtime, "intake", actor)
    [task] = _ready(runtime, started["case_id"], "intake.json")
    tasks.complete(runtime, task.id, {**demo_data.intake_data(i), "birth_date": birth}, actor)
    return cases.get_case(runtime, started["case_id"], actor, with_data=False)["client"]["client_code"]


def _visit(day: dt.date, contacts, lay: int, kinds) -> dict:
    data = {"visit_date": day.isoformat(), "contacts": contacts, "still_employed": True}
    if C in contacts:
        data["client_notes"] = "Beilleszkedik."
    if E in contacts:
        data.update(employer_persons=["supervisor"], employer_satisfaction="satisfied")
    if L in contacts:
        data["lay_helpers_involved"] = lay
    if I in contacts:
        data["institution_kinds"] = kinds
    return data


def _start(runtime, people, codes: dict, name: str) -> int:
    mentor, client, sex, groups, start, employer, _visits, _check = CASES[name]
    actor = getattr(people, mentor)
    case_id = cases.start_case(runtime, "job_retention", actor, codes[client])["case_id"]
    entry = {"entry_route": "personal_consultation", "consultation_reasons": ["help_needed"],
             "employer_name": employer, "employer_kind": "employer", "job_title": "raktáros",
             "employment_start": start, "target_groups": groups, **({"sex": sex} if sex else {})}
    _complete(runtime, case_id, "entry.json", entry, actor)
    _complete(runtime, case_id, "plan.json", {
        "employer_evaluation_agreed": True, "employer_evaluation_date": start,
        "employer_evaluation": "Pontos, megbízható.", "follow_up_months": 1, "intensity": "standard",
        "interventions": ["client_consultation", "employer_consultation"]}, actor)
    return case_id


@pytest.fixture
def followed(runtime, people):
    return follow_through_2026(runtime, people)


def follow_through_2026(runtime, people) -> dict[str, int]:
    """The five cases, run day by day through 2026: each case starts three days before S; on each day that has
    a visit or check due, the timers are fired in the morning and what fell due is recorded that day. The clock
    is left on 2027-01-04."""
    clock.freeze(local("2026-01-01", 8))
    codes = {p: _intake(runtime, people.anna, birth, i) for p, (birth, i) in CLIENTS.items()}
    events = []  # (day, order, case, what)
    for name, (_m, _c, _s, _g, start, _e, visits, check) in CASES.items():
        events.append((_day(start, -3), 0, name, "start"))
        events += [(_day(start, 7 * (n + 1)), 1, name, n) for n in range(len(visits))]
        if _day(start, 180) <= LAST_DAY:
            events.append((_day(start, 180), 1, name, "check"))
    ids = {}
    for day, _order, name, what in sorted(events, key=lambda e: e[:3]):
        clock.freeze(local(day.isoformat(), 9))
        timers.fire_due(runtime, "test-worker")
        mentor, _c, _s, _g, _start_day, _e, visits, check = CASES[name]
        actor = getattr(people, mentor)
        if what == "start":
            ids[name] = _start(runtime, people, codes, name)
        elif what == "check":
            data = {"check_date": day.isoformat(), "employed_on_day_180": check, "satisfaction_sheet": True}
            data.update({"employer_certificate": True, "certificate_date": day.isoformat()} if check
                        else {"not_employed_reason": "A próbaidő alatt felmondott."})
            _complete(runtime, ids[name], "day_180_check.json", data, actor)
        else:
            data = {**_visit(day, *visits[what]), **MONITORING.get((name, what), {})}
            _complete(runtime, ids[name], "visit.json", data, actor)
    clock.freeze(local("2027-01-04", 9))
    return ids


KEY = "job_retention"
# The figures by their old names (those of the quarter–mentor table's columns) and the report's codes.
CODES = {"clients_followed_up": "O1", "sessions": "O2", "employers_involved": "O3", "employer_consultations": "O4",
         "lay_helpers_involved": "O5", "lay_helper_consultations": "O6", "institutions_involved": "O7",
         "day_180_checks": "R1", "employed_on_day_180": "R2", "employed_share": "R3"}
FIGURES = ("clients_followed_up", "sessions", "employers_involved", "employer_consultations", "lay_helpers_involved",
           "lay_helper_consultations", "institutions_involved", "day_180_checks", "employed_on_day_180",
           "employed_share")


def _report(runtime, actor, date_from=YEAR[0], date_to=YEAR[1], caseworker=None):
    return run.report(runtime, actor, KEY, parse_request(date_from, date_to, caseworker))


def _label(row: dict) -> str:
    label = row.get("label", row.get("key"))
    return label["en"] if isinstance(label, dict) else label


def _breakdowns(tables: dict, suffix: str = "", quarter: str | None = None) -> dict:
    """The clients by age, sex and target group of the report's tables (those per quarter: of one quarter), as
    {label: clients} with the empty rows left out."""
    def of(table: str) -> dict:
        return {_label(r): r["clients"] for r in tables[table + suffix]
                if r["clients"] and (quarter is None or r["quarter"] == quarter)}
    return {"by_age": of("ages"), "by_sex": of("sexes"), "by_target_group": of("target_groups")}


def _totals(result: dict) -> dict:
    values = {i["id"]: i["value"] for i in result["indicators"]}
    return {**{k: values[CODES[k]] for k in FIGURES}, **_breakdowns(result["tables"])}


def _quarter_rows(runtime, actor, result: dict) -> dict:
    """The quarter–mentor rows, each with the mentor's breakdowns of that quarter (the report for that mentor)."""
    mentors = {r["caseworker_id"] for r in result["tables"]["quarters"]}
    own = {m: _report(runtime, actor, caseworker=m)["tables"] for m in mentors}
    return {(r["quarter"], r["caseworker_id"]): dict(
        quarter=r["quarter"], mentor_id=r["caseworker_id"], mentor=r["name"], **{k: r[k] for k in FIGURES},
        **_breakdowns(own[r["caseworker_id"]], "_by_quarter", r["quarter"])) for r in result["tables"]["quarters"]}


ZERO = {"sessions": 0, "employers_involved": 0, "employer_consultations": 0, "lay_helpers_involved": 0,
        "lay_helper_consultations": 0, "institutions_involved": 0, "day_180_checks": 0, "employed_on_day_180": 0,
        "employed_share": None}


def test_every_job_retention_figure_of_the_year_by_quarter_and_mentor(runtime, people, followed):
    result = _report(runtime, people.mark)
    for name, case_id in followed.items():
        state = cases.get_case(runtime, case_id, people.mark, with_data=False)["status"]
        assert state == ("completed" if CASES[name][7] is not None else "running"), name
    # Year: every case is in follow-up at some time; P1 (C1 and C5) is one person. Ages on 2026-12-31: P1 23,
    # P2 36, P3 56, P4 41 (her birthday is the last day). P1's sex is the one given at C1; P3 gave none.
    assert _totals(result) == {
        "clients_followed_up": 4,
        "by_age": {"under 25": 1, "35–44": 2, "55+": 1},
        "by_sex": {"female": 2, "male": 1, "not recorded": 1},
        "by_target_group": {"career_starter": 1, "low_education": 1, "multiply_disadvantaged": 1,
                            "long_term_unemployed": 1, "disabled": 1, "reduced_work_capacity": 1},
        "sessions": 20,
        "employers_involved": 4,  # Alfa (C1, C3), Béta, Gamma, Delta
        "employer_consultations": 9,  # 2 + 2 + 2 + 1 + 2
        "lay_helpers_involved": 7,  # per case the most at one visit: C1 2, C2 3, C4 2
        "lay_helper_consultations": 4,  # C1 twice, C2 once, C4 once
        "institutions_involved": 6,  # C1 2 kinds, C2 1, C3 1, C4 2
        "day_180_checks": 3, "employed_on_day_180": 2, "employed_share": 66.67,
    }
    # Every age band is a row, the empty ones too; "unknown" holds the clients without a birth date.
    assert [(_label(r), r["clients"]) for r in result["tables"]["ages"]] == [
        ("under 25", 1), ("25–34", 0), ("35–44", 2), ("45–54", 0), ("55+", 1), ("unknown", 0)]
    anna, bela = people.anna.id, people.bela.id
    rows = _quarter_rows(runtime, people.mark, result)
    # Rows with neither clients nor sessions are left out: bela in Q1 (C3 starts in April), anna in Q4 (both her
    # cases ended with their checks in Q3).
    assert list(rows) == [("2026-Q1", anna), ("2026-Q2", anna), ("2026-Q2", bela), ("2026-Q3", anna),
                          ("2026-Q3", bela), ("2026-Q4", bela)]
    assert rows[("2026-Q1", anna)] == dict(
        ZERO, quarter="2026-Q1", mentor_id=anna, mentor="Anna", clients_followed_up=2,
        by_age={"under 25": 1, "35–44": 1}, by_sex={"female": 1, "male": 1},  # on 03-31: P1 22, P2 35
        by_target_group={"career_starter": 1, "low_education": 1, "long_term_unemployed": 1},
        sessions=8, employers_involved=2, employer_consultations=4, lay_helpers_involved=5,
        lay_helper_consultations=3, institutions_involved=3)
    assert rows[("2026-Q2", anna)] | {"by_age": None, "by_sex": None, "by_target_group": None} == dict(
        ZERO, quarter="2026-Q2", mentor_id=anna, mentor="Anna", clients_followed_up=2, by_age=None, by_sex=None,
        by_target_group=None)  # still in follow-up, no visit due in the quarter
    assert rows[("2026-Q2", bela)] == dict(
        ZERO, quarter="2026-Q2", mentor_id=bela, mentor="Bela", clients_followed_up=1, by_age={"55+": 1},
        by_sex={"not recorded": 1}, by_target_group={}, sessions=4, employers_involved=1, employer_consultations=2,
        institutions_involved=1)
    q3 = rows[("2026-Q3", anna)]
    assert (q3["clients_followed_up"], q3["sessions"], q3["day_180_checks"], q3["employed_on_day_180"],
            q3["employed_share"]) == (2, 0, 2, 1, 50.0)
    q3 = rows[("2026-Q3", bela)]
    assert (q3["clients_followed_up"], q3["day_180_checks"], q3["employed_on_day_180"], q3["employed_share"]) == (
        1, 1, 1, 100.0)
    # Q4: C4 and C5 (P1 again, with no sex given at this entry: her sex is the one recorded at C1).
    assert rows[("2026-Q4", bela)] == dict(
        ZERO, quarter="2026-Q4", mentor_id=bela, mentor="Bela", clients_followed_up=2,
        by_age={"under 25": 1, "35–44": 1}, by_sex={"female": 2},
        by_target_group={"disabled": 1, "reduced_work_capacity": 1, "multiply_disadvantaged": 1},
        sessions=8, employers_involved=2, employer_consultations=3, lay_helpers_involved=2,
        lay_helper_consultations=1, institutions_involved=2)


MONITORING_FIGURES = ("M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9")


def _monitoring(result: dict) -> dict:
    return {i["id"]: i["value"] for i in result["indicators"] if i["id"] in MONITORING_FIGURES}


def test_the_monitoring_figures_of_seed_8_1(runtime, people, followed):
    # Year: client feedback at C1's and C3's first visits (C4's said no); feedback given 1 + 3, received 2 + 1;
    # self-assessments made at C1 and C4 (C5 said no), analysed at C1 and C4; clubs 2 + 1; legal advice at C1,
    # C3 and C4; joint programmes 1 + 2; problems solved 2 + 1.
    assert _monitoring(_report(runtime, people.mark)) == {
        "M1": 2, "M2": 4, "M3": 3, "M4": 2, "M5": 2, "M6": 3, "M7": 3, "M8": 3, "M9": 3}
    # Q1 is anna's C1 and C2 only; Q4 bela's C4 and C5.
    assert _monitoring(_report(runtime, people.mark, "2026-01-01", "2026-03-31")) == {
        "M1": 1, "M2": 1, "M3": 2, "M4": 1, "M5": 1, "M6": 0, "M7": 1, "M8": 1, "M9": 3}
    assert _monitoring(_report(runtime, people.mark, "2026-10-01", "2026-12-31")) == {
        "M1": 0, "M2": 3, "M3": 1, "M4": 1, "M5": 1, "M6": 1, "M7": 1, "M8": 2, "M9": 0}
    # A mentor sees her own: bela's C3, C4, C5.
    assert _monitoring(_report(runtime, people.bela)) == {
        "M1": 1, "M2": 3, "M3": 1, "M4": 1, "M5": 1, "M6": 3, "M7": 2, "M8": 2, "M9": 0}
    behind = run.cases_behind(runtime, people.mark, KEY, parse_request(*YEAR), "M7", None)
    assert {i["case_id"] for i in behind["items"]} == {followed["C1"], followed["C3"], followed["C4"]}


def _plans(result: dict, *ids: str) -> dict:
    found = {i["id"]: i for i in result["indicators"]}
    return {i: (found[i]["value"], found[i]["plan"], found[i]["plan_reached"]) for i in ids}


def test_every_figure_beside_its_plan(runtime, people, followed):
    """The yaml's plans: O1 40 (a mentor 20), R3 70 %, the rest per quarter (O2 160, a mentor 80; M1 12, …)."""
    year = _report(runtime, people.mark)
    assert len([i for i in year["indicators"] if "plan" in i]) == len(year["indicators"])
    # The year is four quarters: O2's plan 4 × 160; 20 / 640 = 3.125 → 3.13 %; R3 66.67 of 70 = 95.24 %.
    assert _plans(year, "O1", "O2", "R2", "R3", "M1", "M9") == {
        "O1": (4, 40, 10.0), "O2": (20, 640, 3.13), "R2": (2, 32, 6.25), "R3": (66.67, 70, 95.24),
        "M1": (2, 48, 4.17), "M9": (3, 32, 9.38)}
    # Bela asks for his own: the mentor's plan (O1 20, O2 4 × 80).
    assert _plans(_report(runtime, people.bela), "O1", "O2") == {"O1": (3, 20, 15.0), "O2": (12, 320, 3.75)}
    # 2026-07-05 … 08-28 is 55 of Q3's 92 days: O2's plan 160 × 55 / 92 = 95.65; nothing done, 0 % reached;
    # R3 has no value (no checks): no share.
    summer = _report(runtime, people.mark, "2026-07-05", "2026-08-28")
    assert _plans(summer, "O2", "R3") == {"O2": (0, 95.65, 0.0), "R3": (None, 70, None)}
    text = export.to_text(year, "en")
    assert "Follow-up sessions  [plan 640 sessions, 3.13 %]" in text
    assert export.to_csv(year, "hu").splitlines()[2].split(",")[-2:] == ["terv", "tervteljesítés"]


def test_the_cases_behind_the_figures(runtime, people, followed):
    """Drill-down lists exactly the cases a figure counts (for persons: as many clients as the figure)."""
    req = parse_request(*YEAR)

    def behind(indicator, key=None):
        return run.cases_behind(runtime, people.mark, KEY, req, indicator, key)

    clients = behind("O1")
    assert clients["total"] == 5 and len({i["client_code"] for i in clients["items"]}) == 4
    assert {i["case_id"] for i in behind("O5")["items"]} == set(followed.values())
    assert {i["case_id"] for i in behind("R2")["items"]} == {followed["C1"], followed["C3"]}
    assert [i["case_id"] for i in behind("R3")["items"]] == sorted([followed["C1"], followed["C3"]])
    assert {i["case_id"]: i["entries"] for i in behind("O7")["items"]} == {
        followed["C1"]: 2, followed["C2"]: 1, followed["C3"]: 1, followed["C4"]: 2}
    # P1's sex is the one she gave at C1, so C5 (no sex given) is under "female" too.
    assert {i["case_id"] for i in behind("sexes.clients", "female")["items"]} == {
        followed["C1"], followed["C4"], followed["C5"]}
    assert [i["case_id"] for i in behind("sexes.clients", "not recorded")["items"]] == [followed["C3"]]
    under_25 = behind("ages.clients", "0")
    assert {i["case_id"] for i in under_25["items"]} == {followed["C1"], followed["C5"]}
    q4 = behind("quarters.sessions", f"2026-Q4/{people.bela.id}")
    assert {i["case_id"]: i["entries"] for i in q4["items"]} == {followed["C4"]: 4, followed["C5"]: 4}


def test_a_shorter_period_and_a_caseworker_see_only_their_part(runtime, people, followed):
    # 2026-07-05 … 2026-08-28: C1 ended the day before (its check), C2 and C3 are waiting for theirs.
    summer = _totals(_report(runtime, people.lea, "2026-07-05", "2026-08-28"))
    assert (summer["clients_followed_up"], summer["sessions"], summer["day_180_checks"],
            summer["employed_share"]) == (2, 0, 0, None)
    # Anna asks for everyone: she gets her own cases, C1 and C2, and nobody else's.
    own = _report(runtime, people.anna)
    assert own["caseworker_id"] == people.anna.id
    assert _totals(own) == {
        "clients_followed_up": 2, "by_age": {"under 25": 1, "35–44": 1}, "by_sex": {"female": 1, "male": 1},
        "by_target_group": {"career_starter": 1, "low_education": 1, "long_term_unemployed": 1},
        "sessions": 8, "employers_involved": 2, "employer_consultations": 4, "lay_helpers_involved": 5,
        "lay_helper_consultations": 3, "institutions_involved": 3, "day_180_checks": 2, "employed_on_day_180": 1,
        "employed_share": 50.0}
    assert {r["caseworker_id"] for r in own["tables"]["quarters"]} == {people.anna.id}
    with pytest.raises(Forbidden):
        _report(runtime, people.anna, caseworker=people.bela.id)


def test_the_same_figures_from_the_command_line_and_the_json_api(runtime, people, followed, database_url,
                                                                 tmp_path):
    expected = _report(runtime, people.mark)

    def cli(*args):
        done = CliRunner().invoke(main, ["report", *args, "--from", YEAR[0], "--to", YEAR[1], "--as", "mark"],
                                  env={"DATABASE_URL": database_url}, catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return done.stdout

    assert json.loads(cli(KEY, "--format", "json")) == json.loads(json.dumps(expected))
    assert cli(KEY, "--caseworker", "anna").splitlines()[0] == \
        "Job retention – follow-up 2026-01-01 – 2026-12-31 · Mentor: Anna · all processes"
    # The key may be written with hyphens, as the old address of these figures was.
    assert json.loads(cli("job-retention", "--format", "json")) == json.loads(json.dumps(expected))
    text = cli(KEY)
    assert text == export.to_text(expected, "en")
    lines = [line.split("  ") for line in text.splitlines()]
    assert [w.strip() for w in lines[2] if w] == ["O1", "4 persons", "Clients followed up",
                                                  "[plan 40 persons, 10.00 %]"]
    assert [w.strip() for w in lines[11] if w] == ["R3", "66.67 %", "Share employed on day 180 among the checks",
                                                   "[plan 70 %, 95.24 %]"]

    table = cli(KEY, "--format", "csv", "--xlsx", str(tmp_path / "retention.xlsx")).replace("\r\n", "\n")
    assert table == export.to_csv(expected, "en").replace("\r\n", "\n")
    assert "O1,Clients followed up,4,persons,,40,10.0\n" in table
    assert "R3,Share employed on day 180 among the checks,66.67,%,,70,95.24\n" in table
    assert "2026-Q2,Anna,2,0,0,0,0,0,0,0,0,—\n" in table  # in follow-up, nothing due: no share ("—")
    book = load_workbook(tmp_path / "retention.xlsx")
    assert book.sheetnames == ["Indicators", "By age", "By sex", "By target group", "By quarter and mentor",
                               "Jobs lost by reason", "By age per quarter", "By sex per quarter",
                               "By target group per quarter"]
    assert list(book["By sex"].iter_rows(values_only=True)) == [
        ("sex", "clients (persons)"), ("female", 2), ("male", 1), ("not recorded", 1)]
    assert len(list(book["By quarter and mentor"].iter_rows(values_only=True))) == 1 + 6

    api = make_app(runtime).test_client()
    path, spec = f"/api/reports/{KEY}", "/api/reports/{report}"
    body = conforms(api.get(path, query_string=dict(zip(("from", "to"), YEAR)), auth=("mark", "pw-mark")),
                    spec, "get")
    assert body == json.loads(json.dumps(run.report(runtime, people.mark, KEY, parse_request(*YEAR)) | {
        "computed_at": body["computed_at"]}))
    own = conforms(api.get(path, query_string=dict(zip(("from", "to"), YEAR)), auth=("anna", "pw-anna")),
                   spec, "get")
    assert _totals(own)["clients_followed_up"] == 2
    refused = api.get(path, query_string={"from": YEAR[0], "to": YEAR[1], "caseworker": people.bela.id},
                      auth=("anna", "pw-anna"))
    assert refused.status_code == 403


def test_the_report_page_its_downloads_and_the_old_addresses(runtime, people, followed):
    expected = _report(runtime, people.mark)
    query = dict(zip(("from", "to"), YEAR))
    page = browser(make_app(runtime))
    page.login("mark")
    html = page.get(f"/reports/{KEY}", query_string=query).get_data(as_text=True)
    assert "Konzultációk laikus segítőkkel" in html and "Negyedévenként és mentoronként" in html
    assert f">{expected['indicators'][5]['value']}</a>" in html.split('data-testid="value-O6"')[1]
    # The quarter–mentor table: the quarter, the mentor, then each figure.
    assert '<td>2026-Q4</td><th scope="row">Bela</th>\n<td class="num"><a href=' in html
    # The mentor filter names the role as the service does (the manifest's roles.caseworker.name).
    assert '<label for="r-cw">Mentor</label>' in html and "Családgondozó" not in html

    # The old addresses lead to the declared report.
    moved = page.client.get("/reports/job-retention", query_string=query)
    assert moved.status_code == 301 and moved.headers["Location"].startswith(f"/reports/{KEY}?")
    assert page.client.get("/reports/job-retention.csv", query_string=query).headers["Location"].startswith(
        f"/reports/{KEY}/export.csv?")

    download = page.get(f"/reports/{KEY}/export.csv", query_string=query)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert f'filename="segito-{KEY}-' in download.headers["Content-Disposition"]
    # The export follows the reader's language: Hungarian headings over Hungarian content.
    exported = download.get_data(as_text=True).lstrip("\ufeff")
    assert exported == export.to_csv(dict(expected, computed_at=expected["computed_at"]), "hu")
    assert "Utókövetésbe vont kliensek száma" in exported and "Clients followed up" not in exported
    assert "nincs megadva" in exported and "25 év alatt" in exported
    # The heading names the filter as the service names the role.
    assert exported.splitlines()[0].split(",")[1:] == ["Mentor: mind", "minden folyamat"]
    workbook = page.client.get(f"/reports/{KEY}/export.xlsx", query_string=query)
    assert load_workbook(io.BytesIO(workbook.data)).sheetnames == [
        "Mutatószámok", "Életkor szerint", "Nem szerint", "Célcsoport szerint", "Negyedévenként és mentoronként",
        "Munkahely elvesztése okonként", "Életkor szerint negyedévenként", "Nem szerint negyedévenként",
        "Célcsoportok negyedévenként"]
    for who in ("anna", "bela"):
        other = browser(make_app(runtime))
        other.login(who)
        own_csv = other.get(f"/reports/{KEY}/export.csv", query_string=query).get_data(as_text=True)
        quarters = own_csv.split("Negyedévenként és mentoronként")[1].split("\r\n\r\n")[0]
        assert quarters.count("2026-Q") == sum(1 for r in expected["tables"]["quarters"]
                                               if r["name"] == {"anna": "Anna", "bela": "Bela"}[who])


def test_rebuild_facts_recomputes_the_job_retention_rows_from_the_stored_cases(runtime, people, followed,
                                                                             database_url):
    """The case rows are recomputed from each case's state (e.g. after an upgrade that adds a field); the visit
    entries, written once when each visit is recorded, are kept."""
    expected = _report(runtime, people.mark)
    with runtime.db.unit_of_work() as session:
        session.execute(delete(ReportCase).where(ReportCase.report_key == KEY))
    assert _totals(_report(runtime, people.mark))["clients_followed_up"] == 0
    done = CliRunner().invoke(main, ["rebuild-facts"], env={"DATABASE_URL": database_url}, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["cases"] == 5
    assert _report(runtime, people.mark) == expected


def test_the_entry_form_refuses_an_unknown_sex_naming_the_field(runtime, people):
    code = _intake(runtime, people.anna, "1990-01-01", 0)
    case_id = cases.start_case(runtime, "job_retention", people.anna, code)["case_id"]
    [entry] = _ready(runtime, case_id, "entry.json")
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(runtime, entry.id, {"entry_route": "development_plan", "development_plan_date": "2026-01-20",
                                           "employer_name": "Kft.", "employment_start": "2026-02-02",
                                           "sex": "unknown"}, people.anna)
    assert "sex" in str(refused.value) + json.dumps(getattr(refused.value, "errors", []), ensure_ascii=False)
