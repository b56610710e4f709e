"""The job-retention figures of seed 000 (DOMAIN.md 5; docs/indicators.md) end to end: real job-retention cases
run through the engine — intake, start, entry, plan, every visit fired by the moving clock and recorded on its
day, the day-180 check — for two mentors over the four quarters of 2026, and every figure checked against the
values computed by hand below, from the engine, from `segito report --job-retention` and from the JSON API.

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

from engine import followup_indicators, report_export
from engine.cases import cases, tasks
from engine.cli import main
from engine.errors import Forbidden, ValidationFailed
from engine.report_models import RetentionCase
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
LAST_DAY = dt.date(2026, 12, 31)  # the clock stops here: C4's and C5's checks are still to come


def _day(text: str, days: int) -> dt.date:
    return dt.date.fromisoformat(text) + dt.timedelta(days=days)


def _ready(runtime, case_id: int, form: str) -> list[HumanTask]:
    with runtime.db.reading() as session:
        return list(session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready", HumanTask.form_file == form)
            .order_by(HumanTask.id)).scalars())


def _complete(runtime, case_id: int, form: str, data: dict, actor) -> None:
    found = _ready(runtime, case_id, form)
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
    """The five cases, run day by day through 2026: each case starts three days before S; on each day that has
    a visit or check due, the timers are fired in the morning and what fell due is recorded that day."""
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
            _complete(runtime, ids[name], "visit.json", _visit(day, *visits[what]), actor)
    clock.freeze(local("2027-01-04", 9))
    return ids


def _report(runtime, actor, date_from=YEAR[0], date_to=YEAR[1], caseworker=None):
    return followup_indicators.report(runtime, actor, parse_request(date_from, date_to, caseworker))


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
    assert result["totals"] == {
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
    anna, bela = people.anna.id, people.bela.id
    rows = {(r["quarter"], r["mentor_id"]): r for r in result["by_quarter_and_mentor"]}
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


def test_a_shorter_period_and_a_caseworker_see_only_their_part(runtime, people, followed):
    # 2026-07-05 … 2026-08-28: C1 ended the day before (its check), C2 and C3 are waiting for theirs.
    summer = _report(runtime, people.lea, "2026-07-05", "2026-08-28")["totals"]
    assert (summer["clients_followed_up"], summer["sessions"], summer["day_180_checks"],
            summer["employed_share"]) == (2, 0, 0, None)
    # Anna asks for everyone: she gets her own cases, C1 and C2, and nobody else's.
    own = _report(runtime, people.anna)
    assert own["caseworker_id"] == people.anna.id
    assert own["totals"] == {
        "clients_followed_up": 2, "by_age": {"under 25": 1, "35–44": 1}, "by_sex": {"female": 1, "male": 1},
        "by_target_group": {"career_starter": 1, "low_education": 1, "long_term_unemployed": 1},
        "sessions": 8, "employers_involved": 2, "employer_consultations": 4, "lay_helpers_involved": 5,
        "lay_helper_consultations": 3, "institutions_involved": 3, "day_180_checks": 2, "employed_on_day_180": 1,
        "employed_share": 50.0}
    assert {r["mentor_id"] for r in own["by_quarter_and_mentor"]} == {people.anna.id}
    with pytest.raises(Forbidden):
        _report(runtime, people.anna, caseworker=people.bela.id)


def test_the_same_figures_from_the_command_line_and_the_json_api(runtime, people, followed, database_url,
                                                                 tmp_path):
    expected = _report(runtime, people.mark)
    run = CliRunner().invoke(main, ["report", "--from", YEAR[0], "--to", YEAR[1], "--job-retention", "--format",
                                    "json", "--as", "mark"], env={"DATABASE_URL": database_url},
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout) == expected
    text = CliRunner().invoke(main, ["report", "--from", YEAR[0], "--to", YEAR[1], "--job-retention", "--as",
                                     "mark"], env={"DATABASE_URL": database_url}, catch_exceptions=False).stdout
    assert "  clients followed up        4\n" in text and "  employed share             66.67\n" in text
    assert "  by sex                     female: 2, male: 1, not recorded: 1\n" in text
    assert "  2026-Q4 Bela: 2 clients, 8 sessions, 2 employers, 2 lay helpers, 2 institutions, " \
           "0/0 employed on day 180\n" in text

    args = ["report", "--from", YEAR[0], "--to", YEAR[1], "--job-retention", "--format", "csv", "--xlsx",
            str(tmp_path / "retention.xlsx"), "--as", "mark"]
    table = CliRunner().invoke(main, args, env={"DATABASE_URL": database_url}, catch_exceptions=False).stdout
    assert "clients followed up (persons),4\n" in table and "employed on day 180 (% of checks),66.67" in table
    assert "2026-Q2,Anna,2,0,0,0,0,0,0,0,0,—\n" in table  # in follow-up, nothing due: no share ("—")
    book = load_workbook(tmp_path / "retention.xlsx")
    assert book.sheetnames == ["Job retention", "By age", "By sex", "By target group", "By quarter and mentor"]
    assert list(book["By sex"].iter_rows(values_only=True)) == [
        ("group", "clients"), ("female", 2), ("male", 1), ("not recorded", 1)]
    assert len(list(book["By quarter and mentor"].iter_rows(values_only=True))) == 1 + 6

    api = make_app(runtime).test_client()
    path = "/api/reports/job-retention"
    body = conforms(api.get(path, query_string=dict(zip(("from", "to"), YEAR)), auth=("mark", "pw-mark")),
                    path, "get")
    assert body == json.loads(json.dumps(expected))
    own = conforms(api.get(path, query_string=dict(zip(("from", "to"), YEAR)), auth=("anna", "pw-anna")),
                   path, "get")
    assert own["totals"]["clients_followed_up"] == 2
    refused = api.get(path, query_string={"from": YEAR[0], "to": YEAR[1], "caseworker": people.bela.id},
                      auth=("anna", "pw-anna"))
    assert refused.status_code == 403

    page = browser(make_app(runtime))
    page.login("mark")
    html = page.get("/reports/job-retention", query_string=dict(zip(("from", "to"), YEAR))).get_data(as_text=True)
    assert "<th scope=\"row\">2026-Q4</th><td>Bela</td><td class=\"num\">2</td><td class=\"num\">8</td>" in html
    assert "Konzultációk laikus segítőkkel" in html
    assert (f'<td class="num" data-testid="lay-helper-consultations">'
            f'{expected["totals"]["lay_helper_consultations"]}</td>') in html

    query = dict(zip(("from", "to"), YEAR))
    download = page.get("/reports/job-retention.csv", query_string=query)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert 'filename="segito-job-retention-' in download.headers["Content-Disposition"]
    # The export follows the reader's language: Hungarian headings over Hungarian content.
    exported = download.get_data(as_text=True).lstrip("\ufeff")
    assert exported == report_export.retention_to_csv(expected, "hu")
    assert "utókövetett kliensek (fő)" in exported and "clients followed up" not in exported
    workbook = page.client.get("/reports/job-retention.xlsx", query_string=query)
    assert load_workbook(io.BytesIO(workbook.data)).sheetnames == [
        "Munkahelymegtartás", "Életkor szerint", "Nem szerint", "Célcsoport szerint", "Negyedévenként és mentoronként"]
    for who in ("anna", "bela"):
        other = browser(make_app(runtime))
        other.login(who)
        own_csv = other.get("/reports/job-retention.csv", query_string=query).get_data(as_text=True)
        assert own_csv.count("2026-Q") == sum(1 for r in expected["by_quarter_and_mentor"]
                                              if r["mentor"] == {"anna": "Anna", "bela": "Bela"}[who])


def test_rebuild_facts_recomputes_the_job_retention_rows_from_the_stored_cases(runtime, people, followed,
                                                                             database_url):
    """The case rows are recomputed from each case's state (e.g. after an upgrade that adds a field); the visit
    rows, written once when each visit is recorded, are kept."""
    expected = _report(runtime, people.mark)
    with runtime.db.unit_of_work() as session:
        session.execute(delete(RetentionCase))
    assert _report(runtime, people.mark)["totals"]["clients_followed_up"] == 0
    run = CliRunner().invoke(main, ["rebuild-facts"], env={"DATABASE_URL": database_url}, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["retention_cases"] == 5
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
