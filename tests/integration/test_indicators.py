"""I1–I17 on the small data set of indicator_data.py, against figures computed by hand (in the comments).

Period 2025-01-01 … 2025-06-30. The set of I1 is A B C E F G H I J (D starts after the period, K closed before).
The data set is built once per backend (through the real engine) and shared by the tests of this module.
"""
from __future__ import annotations

import shutil
import uuid

import pytest
from sqlalchemy import create_engine, select, text

from engine import setup
from engine.errors import Forbidden, ValidationFailed
from engine.reports import request as indicators
from engine.reports import run
from engine.reports.models import ReportCase
from engine.runtime.runtime import Runtime
from engine.store.db import Database
from tests.conftest import BACKENDS, People

from . import indicator_data

PERIOD = ("2025-01-01", "2025-06-30")
BANDS = "0-50000, 50000-100000, 100000-"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory, sqlite_template):
    """(runtime, people, case ids) with the data set, once per backend for the whole module."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("indicators") / f"ind-{uuid.uuid4().hex[:6]}.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_migrated")
        engine = create_engine(url)
        with engine.begin() as conn:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                       "AND tablename <> 'alembic_version'")).scalars().all()
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()
    rt = Runtime(Database(url))
    setup.initialise(rt)
    people = People(rt)
    ids = indicator_data.build(rt, people)
    yield rt, people, ids
    rt.db.close()


def report(world, who="mark", **kw):
    rt, people, _ = world
    req = indicators.parse_request(*PERIOD, bands=kw.pop("bands", BANDS), **kw)
    return run.report(rt, getattr(people, who), "family_care", req)


def cases_behind(rt, actor, req, indicator, key=None, **kw):
    """The drill-down of the declared report: an indicator, or a table's column ('problem_types.persons')."""
    return run.cases_behind(rt, actor, "family_care", req, indicator, key, **kw)


def values(result) -> dict:
    return {i["id"]: i["value"] for i in result["indicators"]}


def by_key(result, breakdown) -> dict:
    return {row["key"]: row for row in result["tables"][breakdown]}


def test_every_scalar_indicator_of_the_whole_service(world):
    result = report(world)
    v = values(result)
    assert v["I1"] == 9          # A B C E F G H I J
    assert v["I2"] == 8          # X (A and E) counted once, Y Z V U T S R
    assert v["I3"] == 7          # all but Y (returning at its only intake); X is new through A
    assert v["I8"] == 87.5       # 7 / 8
    # I4: incomes / persons of the processes with a per-capita income (field 7 is at least 1, the client)
    # (300000+100000+80000+150000+200000+60000+500000+0+90000) / (3+2+1+1+4+2+5+1+3) = 1480000 / 22
    assert v["I4"] == 67272.73
    i4 = next(i for i in result["indicators"] if i["id"] == "I4")
    # (100000+50000+80000+150000+50000+30000+100000+0+30000) / 9 = 65555.555…
    assert i4["mean_of_per_capita"] == 65555.56
    assert (i4["income_sum"], i4["persons_sum"]) == (1480000, 22)
    # I9: 9 processes / 7 intakes in the period (Budapest days: V's intake at 23:30 UTC on 31 Dec is inside,
    # the one at 22:30 UTC on 30 June is outside)
    assert v["I9"] == pytest.approx(128.57)
    assert next(i for i in result["indicators"] if i["id"] == "I9")["intakes"] == 7
    assert v["I10"] == 7         # A 2, B 1, C 1 (not 1 July), G 1, J 2; D's is after the period
    assert v["I11"] == 4         # A 1, F 2 (30 June included), J 1; not C's of 1 July nor K's of 2024
    # I12: closures in the period B F G H I J: 181+161+65+59+12+31 = 509 days / 6
    assert v["I12"] == pytest.approx(84.83)
    assert v["I15"] == 3         # Y (B), T (H), R (J)
    assert v["I16"] == 50.0      # 3 / 6


def test_breakdown_indicators_and_units(world):
    result = report(world)
    units = {i["id"]: i["unit"]["en"] for i in result["indicators"]}
    assert units == {"I1": "pcs", "I2": "persons", "I3": "persons", "I4": "HUF", "I5": "pcs, %", "I6": "persons",
                     "I7": "%", "I8": "%", "I17": "%", "I9": "%", "I10": "pcs", "I11": "pcs",
                     "I12": "days/process", "I13": "pcs", "I14": "%", "I15": "persons", "I16": "%"}
    bands = result["tables"]["income_bands"]
    # [0, 50000): I 0, G 30000, J 30000; [50000, 100000): B, F; 100000 and more: A, E, H; C has none
    assert [(b["families"], b["share"]) for b in bands] == [(3, 33.33), (3, 33.33), (3, 33.33)]
    problems = by_key(result, "problem_types")
    assert set(problems) == {"financial", "child_rearing", "mental", "employment", "family_relationship"}
    # financial: processes A B E G J; persons X Y U R; with an agreement X(A) Y U R; without: X(E)
    assert {k: problems["financial"][k] for k in ("processes", "persons", "persons_with_agreement",
                                                  "persons_without_agreement")} == \
        {"processes": 5, "persons": 4, "persons_with_agreement": 4, "persons_without_agreement": 1}
    assert problems["financial"]["share_persons"] == 44.44              # I7: 4 / 9
    assert problems["financial"]["share_without_agreement"] == 11.11    # 1 / 9
    assert problems["financial"]["share_processes"] == 55.56            # I17: 5 / 9
    assert (problems["mental"]["persons_with_agreement"], problems["mental"]["persons_without_agreement"]) == (1, 1)
    assert problems["child_rearing"]["share_processes"] == 22.22
    reasons = by_key(result, "closure_reasons")
    assert {k: r["closures"] for k, r in reasons.items()} == {  # I13: one of each reason in the period
        "successful": 1, "lack_of_cooperation": 1, "referred_service": 1, "referred_institution": 1,
        "contact_broken": 1, "other": 1}
    assert {r["share"] for r in reasons.values()} == {16.67}       # I14: 1 / 6
    assert set(result["labels"]["closure_reasons"]) >= set(reasons)


def test_per_caseworker_and_per_month(world):
    rt, people, _ = world
    result = report(world)
    rows = {r["caseworker_id"]: r for r in result["tables"]["caseworkers"]}
    anna, bela = rows[people.anna.id], rows[people.bela.id]
    assert (anna["processes"], anna["clients"], anna["meetings"], anna["actions"], anna["closures"]) == (5, 5, 6, 2, 4)
    assert anna["average_days"] == 84.0     # I12 for anna: B 181, G 65, H 59, J 31 = 336 / 4
    assert (bela["processes"], bela["clients"], bela["meetings"], bela["actions"], bela["closures"]) == (4, 4, 1, 2, 2)
    assert bela["average_days"] == 86.5     # F 161, I 12 = 173 / 2
    months = {m["key"]: m for m in result["tables"]["months"]}
    assert list(months) == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    assert {k: m["meetings"] for k, m in months.items()} == {"2025-01": 1, "2025-02": 2, "2025-03": 2,
                                                            "2025-04": 0, "2025-05": 2, "2025-06": 0}
    assert {k: m["closures"] for k, m in months.items()} == {"2025-01": 1, "2025-02": 0, "2025-03": 1,
                                                            "2025-04": 1, "2025-05": 1, "2025-06": 2}
    # taken into care inside the period: F (Jan), C H (Feb), G (Mar), E (Apr), J (May)
    assert [m["taken_into_care"] for m in months.values()] == [1, 2, 1, 1, 1, 0]


def test_filter_by_caseworker(world):
    rt, people, _ = world
    v = values(report(world, caseworker_id=str(people.anna.id)))
    # anna: A B G H J; persons X Y U T R, new X U T R; intakes of anna in the period: U T R and the lone one
    assert (v["I1"], v["I2"], v["I3"], v["I8"]) == (5, 5, 4, 80.0)
    assert v["I9"] == 125.0
    assert (v["I10"], v["I11"], v["I12"]) == (6, 2, 84.0)
    assert (v["I15"], v["I16"]) == (3, 75.0)   # Y T R of 4 closures


def test_filter_by_process_and_empty_period_gives_dashes_not_errors(world):
    assert values(report(world, process_key="job_retention"))["I1"] == 0
    rt, people, _ = world
    req = indicators.parse_request("2020-01-01", "2020-12-31", bands=BANDS)
    v = values(run.report(rt, people.mark, "family_care", req))
    assert v["I1"] == 0 and v["I10"] == 0
    for key in ("I4", "I8", "I9", "I12", "I16"):
        assert v[key] is None, key   # zero denominators: shown "—"
    assert [b["share"] for b in run.report(rt, people.mark, "family_care", req)["tables"]["income_bands"]] == [None] * 3


def test_one_day_period_counts_its_bounds(world):
    rt, people, _ = world
    v = values(run.report(rt, people.mark, "family_care", indicators.parse_request("2025-06-30", "2025-06-30")))
    # open that day: A C E F(closed that day); J closed on 1 June, G in May
    assert v["I1"] == 4
    assert v["I11"] == 1  # F's action of 30 June
    assert v["I12"] == 161.0


def test_drill_down_lists_the_cases_behind_each_figure(world):
    rt, people, ids = world
    req = lambda: indicators.parse_request(*PERIOD, bands=BANDS)  # noqa: E731
    behind = lambda ind, key=None, **kw: {  # noqa: E731
        i["case_id"] for i in cases_behind(rt, people.mark, req(), ind, key, **kw)["items"]}
    name = {v: k for k, v in ids.items()}
    letters = lambda found: "".join(sorted(name[c] for c in found))  # noqa: E731
    assert letters(behind("I1")) == "ABCEFGHIJ"
    assert letters(behind("I3")) == "ACFGHIJ"
    assert letters(behind("I5", "0")) == "GIJ"
    assert letters(behind("problem_types.persons_without_agreement", "financial")) == "E"
    assert letters(behind("I17", "financial")) == "ABEGJ"
    assert letters(behind("I10")) == "ABCGJ"
    assert letters(behind("I13")) == "BFGHIJ"
    assert letters(behind("I14", "other")) == "J"
    assert letters(behind("I15")) == "BHJ"
    entries = cases_behind(rt, people.mark, req(), "I10")["items"]
    assert sum(e["entries"] for e in entries) == 7
    with pytest.raises(ValidationFailed):
        cases_behind(rt, people.mark, req(), "I99")
    with pytest.raises(ValidationFailed):
        cases_behind(rt, people.mark, req(), "I5", "7")


def test_a_caseworker_sees_only_their_own_figures_and_no_names(world):
    rt, people, ids = world
    mine = report(world, who="anna")
    assert mine["caseworker_id"] == people.anna.id and values(mine)["I1"] == 5
    assert mine["names_allowed"] is False
    assert [r["caseworker_id"] for r in mine["tables"]["caseworkers"]] == [people.anna.id]
    with pytest.raises(Forbidden):
        report(world, who="anna", caseworker_id=str(people.bela.id))
    req = indicators.parse_request(*PERIOD, bands=BANDS)
    with pytest.raises(Forbidden):
        cases_behind(rt, people.anna, req, "I5", "0", with_names=True)
    own = cases_behind(rt, people.anna, indicators.parse_request(*PERIOD), "I1")
    assert {i["case_id"] for i in own["items"]} == {ids[k] for k in "ABGHJ"}
    assert all("name" not in i for i in own["items"])
    with pytest.raises(Forbidden):
        report(world, who="dora")  # a process designer has no report


def test_a_manager_sees_everyone_and_the_name_list(world):
    rt, people, ids = world
    result = report(world, who="mark")
    assert result["names_allowed"] is True and values(result)["I1"] == 9
    assert values(report(world, who="mark", caseworker_id=str(people.bela.id)))["I1"] == 4
    listed = cases_behind(rt, people.mark, indicators.parse_request(*PERIOD, bands=BANDS), "I5",
                                          "2", with_names=True)
    assert {i["case_id"] for i in listed["items"]} == {ids["A"], ids["E"], ids["H"]}
    assert all(i["name"] for i in listed["items"])


def test_bad_requests_name_their_field():
    with pytest.raises(ValidationFailed, match="'from'"):
        indicators.parse_request("2025-13-01", "2025-12-31")
    with pytest.raises(ValidationFailed, match="after it ends"):
        indicators.parse_request("2025-12-31", "2025-01-01")
    with pytest.raises(ValidationFailed, match="band 2"):
        indicators.parse_bands("0-100, 200-100")
    with pytest.raises(ValidationFailed, match="band 1"):
        indicators.parse_bands("abc")
    assert indicators.parse_bands("-1000, 1000-") == [indicators.Band(None, 1000.0), indicators.Band(1000.0, None)]


def test_facts_are_rows_not_workflows(world):
    """The report reads rows only: emptying the workflow cache and the stored state changes nothing."""
    rt, people, ids = world
    with rt.db.reading() as session:
        fact = session.execute(select(ReportCase.facts).where(ReportCase.case_id == ids["B"])).scalar_one()
        assert (fact["taken_into_care"], fact["closure_date"], fact["closure_reason"], fact["follow_up"],
                fact["care_days"], fact["client_status"]) == ("2024-10-01", "2025-03-31", "successful", True, 181,
                                                              "returning")
        c = session.execute(select(ReportCase.facts).where(ReportCase.case_id == ids["C"])).scalar_one()
        assert (c["household_size"], c["total_income"], c["per_capita_income"]) == (1, 80000, 80000.0)
