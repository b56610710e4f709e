"""The case-management report (bpmn/case_management/reports/case_management.yaml) against figures worked out by
hand from five clients: users by age, sex, education and prior status; planned and realised actions; and the
impact indicators counted only when they are not goals of the plan (seed 001, sections 6 and 8.1)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from engine.cases import cases, tasks
from engine.errors import Forbidden
from engine.reports import run
from engine.reports.request import parse_request
from engine.store import clock
from engine.store.models import AuditEvent
from tests import case_management_data as cm
from tests import demo_data

from .helpers import do, task_of

TODAY = dt.datetime(2026, 6, 30, 10, 0, tzinfo=dt.timezone.utc)


def _client(runtime, actor, i: int, birth_date: str) -> str:
    started = cases.start_case(runtime, "intake", actor)
    tasks.complete(runtime, demo_data._next(runtime, actor, started["case_id"]),
                   {**demo_data.intake_data(i), "birth_date": birth_date}, actor)
    return cases.get_case(runtime, started["case_id"], actor, with_data=False)["client"]["client_code"]


def _carried(runtime, case_id, bpmn_id, actor) -> dict:
    shown = tasks.get_task(runtime, task_of(runtime, case_id, bpmn_id), actor)["carried"]
    return {field: [e["row"] for e in rows] for field, rows in shown.items()}


def _case(runtime, actor, i, birth, route, day, consent=True, **assessment) -> int:
    case_id = cases.start_case(runtime, "case_management", actor, _client(runtime, actor, i, birth))["case_id"]
    do(runtime, case_id, "cm_entry", cm.entry(route, consent, day), actor)
    if consent:
        do(runtime, case_id, "cm_assessment", cm.assessment(**assessment), actor)
    return case_id


@pytest.fixture
def world(runtime, people):
    clock.freeze(TODAY)
    anna, bela = people.anna, people.bela
    # A: 23 on 30 June, female, primary, registered jobseeker; finding work is a goal of her plan, training not.
    a = _case(runtime, anna, 0, "2003-05-01", "labour_office", "2026-02-02", sex="female", education="primary",
              prior="registered_jobseeker", employment_goal=True, training_goal=False,
              goals=[cm.goal("1", "employment", "2026-02-02")],
              actions=[cm.action("1", "1", day="2026-02-10"), cm.action("2", "1", day="2026-03-01"),
                       cm.action("3", "1", day="2026-07-15")])
    do(runtime, a, "cm_meeting", cm.meeting({}, "2026-02-10", results=[
        cm.result("1", "realised", "2026-02-10"), cm.result("2", "not_used", "2026-02-10")],
        events=[{"date": "2026-02-10", "event": "training_entered"}]), anna)
    do(runtime, a, "cm_meeting", cm.meeting(_carried(runtime, a, "cm_meeting", anna), "2026-03-02", results=[
        cm.result("2", "realised", "2026-03-02"), cm.result("1", "realised", "2026-03-02")],
        events=[{"date": "2026-03-02", "event": "employed"}, {"date": "2026-03-02", "event": "training_completed"}],
        next_step="closure"), anna)
    do(runtime, a, "cm_closure", cm.closure({}, "2026-03-05"), anna)
    tasks.complete(runtime, task_of(runtime, a, "cm_satisfaction"), cm.satisfaction(), anna)
    # B: 35 on 30 June (born 1 July 1990), male, vocational, long-term unemployed; entering and completing training
    # are goals, work not.
    b = _case(runtime, anna, 1, "1990-07-01", "other_organisation", "2026-03-01", sex="male", education="vocational",
              prior="long_term_unemployed", employment_goal=False, training_goal=True, completion_goal=True,
              goals=[cm.goal("1", "training_entry", "2026-03-01")],
              actions=[cm.action("1", "1", "training", "2026-03-10"), cm.action("2", "1", day="2026-04-01")])
    do(runtime, b, "cm_meeting", cm.meeting({}, "2026-03-10", results=[cm.result("1", "not_adequate", "2026-03-10")],
                                            events=[{"date": "2026-03-10", "event": "training_entered"}]), anna)
    do(runtime, b, "cm_meeting", cm.meeting(_carried(runtime, b, "cm_meeting", anna), "2026-04-02", results=[
        cm.result("2", "realised", "2026-04-02")], events=[{"date": "2026-04-02", "event": "employed"},
                                                          {"date": "2026-04-02", "event": "training_completed"}]), anna)
    # C: entered and closed in 2025, before the period: in no figure.
    clock.freeze(dt.datetime(2025, 12, 20, 10, 0, tzinfo=dt.timezone.utc))
    c = _case(runtime, anna, 2, "1975-01-01", "own_register", "2025-11-01", sex="female", education="secondary",
              prior="inactive", actions=[cm.action("1", "1", day="2025-11-10")],
              goals=[cm.goal("1", "employment", "2025-11-01")], plan_date="2025-10-20", plan_end="2026-04-30")
    do(runtime, c, "cm_meeting", cm.meeting({}, "2025-11-10", results=[cm.result("1", "realised", "2025-11-10")],
                                            events=[{"date": "2025-11-10", "event": "employed"}],
                                            next_step="closure"), anna)
    do(runtime, c, "cm_closure", cm.closure({}, "2025-12-15"), anna)
    clock.freeze(TODAY)
    # D: no consent: no personal data, not a user.
    _case(runtime, anna, 3, "1980-01-01", "labour_office", "2026-02-01", consent=False)
    # E: Béla's client, 26, male, primary, registered jobseeker; one action planned, no meeting yet.
    _case(runtime, bela, 4, "2000-01-01", "labour_office", "2026-06-01", sex="male", education="primary",
          prior="registered_jobseeker", actions=[cm.action("1", "1", day="2026-06-10")],
          goals=[cm.goal("1", "employment", "2026-06-01")])
    return {"a": a, "b": b}


def _values(result) -> dict:
    return {i["id"]: i["value"] for i in result["indicators"]}


def _table(result, table: str, column: str = "persons") -> dict:
    return {row["key"]: row[column] for row in result["tables"][table]}


def test_the_indicators_match_the_hand_computed_figures(world, runtime, people):
    result = run.report(runtime, people.mark, "case_management", parse_request("2026-01-01", "2026-06-30"))
    values = _values(result)
    assert values["U1"] == 3        # A, B, E (C closed before the period, D never consented)
    assert values["U2"] == 3
    assert values["A1"] == 5        # A: 10 Feb, 1 Mar (15 Jul is after the period); B: 10 Mar, 1 Apr; E: 10 Jun
    assert values["A2"] == 3        # A1 (twice recorded, once counted), A2, B2
    assert values["A3"] == 60.0     # 3 / 5
    assert values["A4"] == 1        # A2 not used on 10 Feb
    assert values["A5"] == 1        # B1 not adequate
    assert values["H1"] == 1        # A entered training, not a goal; B's training was a goal
    assert values["H2"] == 1        # A completed training, not a goal; B's completion was a goal
    assert values["H3"] == 1        # B found work, not a goal; A's job was a goal
    assert values["H4"] == 2        # A and B found work in all
    assert _table(result, "by_age") == {"0": 1, "1": 1, "2": 1, "3": 0}  # 23 / 26 / 35 / none over 50
    assert _table(result, "by_sex") == {"female": 1, "male": 2}
    assert _table(result, "by_education") == {"primary": 2, "vocational": 1}
    assert _table(result, "by_prior_status") == {"registered_jobseeker": 2, "long_term_unemployed": 1}
    assert _table(result, "by_route") == {"labour_office": 2, "other_organisation": 1}
    per = {row["key"]: (row["persons"], row["planned"], row["realised"])
           for row in result["tables"]["per_case_manager"]}
    assert per[str(people.anna.id)] == (2, 4, 3) and per[str(people.bela.id)] == (1, 1, 0)


def test_a_case_manager_sees_her_own_clients_and_a_quarter_splits_the_figures(world, runtime, people):
    own = _values(run.report(runtime, people.anna, "case_management", parse_request("2026-01-01", "2026-06-30")))
    assert (own["U1"], own["A1"], own["A2"]) == (2, 4, 3)
    first = _values(run.report(runtime, people.mark, "case_management", parse_request("2026-01-01", "2026-03-31")))
    # Q1: A and B active; actions planned 10 Feb, 1 Mar, 10 Mar; realised A1 and A2 (2 Mar); B2 came in April.
    assert (first["U1"], first["A1"], first["A2"], first["A3"]) == (2, 3, 2, 66.67)
    assert (first["H3"], first["H4"]) == (0, 1)
    last_year = _values(run.report(runtime, people.mark, "case_management",
                                   parse_request("2025-01-01", "2025-12-31")))
    assert (last_year["U1"], last_year["A2"], last_year["H3"], last_year["H4"]) == (1, 1, 0, 1)


def test_the_clients_behind_a_figure_are_named_only_for_the_lead_and_the_manager(world, runtime, people):
    req = parse_request("2026-01-01", "2026-06-30")
    # The case manager reads her own clients' figures, by code: the list by name is refused.
    own = run.cases_behind(runtime, people.anna, "case_management", req, "U1")
    assert {i["case_id"] for i in own["items"]} == {world["a"], world["b"]}
    assert all(i["client_code"] and "name" not in i for i in own["items"])
    with pytest.raises(Forbidden, match="professional_lead, manager"):
        run.cases_behind(runtime, people.anna, "case_management", req, "U1", with_names=True)
    # The lead and the manager read everyone's clients (the case manager's asking first narrowed nothing for
    # them), by name when they ask for it.
    for reader in (people.lea, people.mark):
        named = run.cases_behind(runtime, reader, "case_management", req, "U1", with_names=True)
        assert len(named["items"]) == 3 and all(i["name"] for i in named["items"])
        plain = run.cases_behind(runtime, reader, "case_management", req, "U1")
        assert all("name" not in i for i in plain["items"])
    # Each list by name is an event of the privacy stream naming who saw whose names; a list by code is not.
    with runtime.db.reading() as session:
        listed = session.execute(select(AuditEvent.actor, AuditEvent.payload).where(
            AuditEvent.kind == run.CLIENT_NAMES_LISTED).order_by(AuditEvent.id)).all()
    assert [a for a, _p in listed] == ["lea", "mark"]
    assert listed[0][1]["report"] == "case_management" and len(listed[0][1]["clients"]) == 3
