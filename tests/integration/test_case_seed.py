"""engine.cases.clients: registering the client of an intake, and what a new case of that client is seeded with.

``case_seed`` reads, in one statement, the client and its latest intake (by taken_at, then id);
``register`` (with the intake package's ``registers_client``) recognises a person who comes back, whatever the
case and accents of the names.
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from engine import packages
from engine.cases import cases, clients, tasks
from engine.errors import NotFound, ValidationFailed
from engine.store import audit, clock, keys
from engine.store.config import BPMN_DIR
from engine.store.models import Client, Intake
from tests import demo_data

from .helpers import waiting

EARLY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
LATE = dt.datetime(2026, 3, 9, 9, 0, tzinfo=dt.timezone.utc)


def _intake_case(runtime, people) -> int:
    """A case row an intake can belong to (intakes.case_id is a foreign key)."""
    return cases.start_case(runtime, "intake", people.anna)["case_id"]


# What the bundled packages declare: the intake's registration, and what a family-care case starts with.
_INTAKE = packages.check(packages.from_folder(BPMN_DIR / "intake")).package.manifest
REGISTRATION = _INTAKE["processes"]["intake"]["registers_client"]
SEED = packages.check(packages.from_folder(BPMN_DIR / "family_care")).package.manifest[
    "processes"]["family_care"]["start"]["data"]


def _register(runtime, case_id: int, data: dict, at: dt.datetime = EARLY):
    case = SimpleNamespace(id=case_id, client_id=None, audit_head="", audit_seq=0)
    case_audit = audit.CaseAudit(case, "anna", at)
    with runtime.db.command() as session:
        result = clients.register(session.connection(), case, data, REGISTRATION, "anna", at, case_audit)
    return result, case, [e.kind for e in case_audit.events]


def _seed(runtime, code: str) -> tuple[int, dict]:
    with runtime.db.command() as session:
        client_id, _code, seed = clients.case_seed(session.connection(), code, SEED)
        return client_id, seed


def _client_id(runtime, code: str) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(Client.id).where(Client.client_code == code)).scalar_one()


def _intakes(runtime, client_id: int) -> list[tuple]:
    with runtime.db.reading() as session:
        return [(r.case_id, r.client_status, keys.open_text(session, r.problem, keys.INTAKE))  # sealed: opened
                for r in session.execute(select(Intake.case_id, Intake.client_status, Intake.problem)
                                         .where(Intake.client_id == client_id).order_by(Intake.id))]


def _with_problem(problem: str, i: int = 0) -> dict:
    return {**demo_data.intake_data(i), "intake_problem": problem}


def test_a_new_case_is_seeded_from_the_latest_intake_by_time_not_by_id(runtime, people):
    # Through the intake process and a family-care start, as a caseworker does. The later intake is written first
    # (the smaller id), so only the taken_at order picks it.
    taken = []
    for at, problem in ((LATE, "a later problem"), (EARLY, "an earlier problem")):
        clock.freeze(at)
        case_id = _intake_case(runtime, people)
        tasks.complete(runtime, waiting(runtime, case_id)[0].id, _with_problem(problem), people.anna)
        taken.append(cases.get_case(runtime, case_id, people.anna, with_data=False)["client"]["client_code"])
    code = taken[0]
    assert taken == [code, code]
    client_id = _client_id(runtime, code)
    assert [row[1:] for row in _intakes(runtime, client_id)] == [("new", "a later problem"),
                                                                 ("returning", "an earlier problem")]
    assert _seed(runtime, code) == (client_id, {"client_code": code, "client_status": "new",
                                                "intake_problem": "a later problem",
                                                "intake_phone": "+36 30 123 4567"})
    family = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    data = cases.get_case(runtime, family, people.anna)["data"]
    assert (data["client_code"], data["client_status"], data["intake_problem"]) == (code, "new", "a later problem")


def test_the_later_intake_wins_and_on_equal_times_the_larger_id(runtime, people):
    first, _, _ = _register(runtime, _intake_case(runtime, people), _with_problem("first"), EARLY)
    code = first["client_code"]
    _register(runtime, _intake_case(runtime, people), _with_problem("second"), LATE)
    assert _seed(runtime, code)[1] == {"client_code": code, "client_status": "returning", "intake_problem": "second",
                                       "intake_phone": "+36 30 123 4567"}
    # Taken at the same moment as the second: the larger id is the latest.
    _register(runtime, _intake_case(runtime, people), _with_problem("third"), LATE)
    assert _seed(runtime, code)[1]["intake_problem"] == "third"


def test_a_client_without_an_intake_is_new_with_no_problem(runtime):
    with runtime.db.unit_of_work() as session:
        client = Client(client_code="K-NOINTAK0", dedup_key="x" * 64, family_name="Nagy", given_name="Ilona",
                        birth_date="1960-01-02", birth_year=1960, birth_place=None, mother_name="Kiss Anna", phone=None,
                        registered_at=EARLY, registered_by="anna")
        session.add(client)
        session.flush()
        client_id = client.id
    assert _seed(runtime, "K-NOINTAK0") == (client_id, {"client_code": "K-NOINTAK0", "client_status": "new",
                                                        "intake_problem": ""})


def test_an_unknown_code_is_not_found_and_named(runtime):
    with pytest.raises(NotFound, match="K-NOSUCH00"):
        _seed(runtime, "K-NOSUCH00")


def test_the_same_person_registered_twice_is_one_client_returning(runtime, people):
    first_case, second_case = _intake_case(runtime, people), _intake_case(runtime, people)
    data = {"family_name": "Kovács", "given_name": "Éva", "birth_date": "1975-04-12", "mother_name": "Tóth Mária",
            "intake_problem": "első"}
    first, case, kinds = _register(runtime, first_case, data)
    assert first["client_status"] == "new" and kinds == [audit.CLIENT_REGISTERED]
    again = {**data, "family_name": " KOVACS ", "given_name": "eva", "mother_name": "toth  MARIA",
             "intake_problem": "második"}
    second, second_record, kinds = _register(runtime, second_case, again)
    assert second == {"client_code": first["client_code"], "client_status": "returning"}
    assert kinds == [audit.CLIENT_RETURNED]
    client_id = _client_id(runtime, first["client_code"])
    assert case.client_id == second_record.client_id == client_id
    assert _intakes(runtime, client_id) == [(first_case, "new", "első"), (second_case, "returning", "második")]
    # Another person (another birth date) is another client.
    other, _, _ = _register(runtime, _intake_case(runtime, people), {**data, "birth_date": "1975-04-13"})
    assert other["client_status"] == "new" and other["client_code"] != first["client_code"]
    with runtime.db.reading() as session:
        assert session.execute(select(func.count(Client.id))).scalar() == 2


def test_an_intake_without_the_required_names_is_refused_and_saves_nothing(runtime, people):
    data = {"family_name": "Kovács", "given_name": "", "birth_date": "1975-04-12"}
    with pytest.raises(ValidationFailed) as refused:
        _register(runtime, _intake_case(runtime, people), data)
    assert "given_name" in refused.value.message and "mother_name" in refused.value.message
    assert [d["field"] for d in refused.value.details] == ["given_name", "mother_name"]
    with runtime.db.reading() as session:
        assert session.execute(select(func.count(Intake.id))).scalar() == 0
        assert session.execute(select(func.count(Client.id))).scalar() == 0


def test_a_person_the_registry_recognises_is_returning_in_the_case_data_too(runtime, people):
    # The caseworker types "new" at the second intake; the registry knows the person, and the case says so.
    codes, statuses = [], []
    for _ in range(2):
        case_id = _intake_case(runtime, people)
        tasks.complete(runtime, waiting(runtime, case_id)[0].id, dict(demo_data.intake_data(0), client_status="new"),
                       people.anna)
        case = cases.get_case(runtime, case_id, people.anna)
        codes.append(case["client"]["client_code"])
        statuses.append((case["data"]["client_status"], case["data"]["client"]["client_status"]))
    assert codes[0] == codes[1]
    assert statuses == [("new", "new"), ("returning", "returning")]


def test_the_phone_given_at_the_latest_intake_prefills_field_3_of_the_assessment(runtime, people):
    from .helpers import task_of

    for phone, at in (("+36 30 111 1111", EARLY), ("+36 20 222 2222", LATE)):
        clock.freeze(at)
        case_id = _intake_case(runtime, people)
        tasks.complete(runtime, waiting(runtime, case_id)[0].id, dict(demo_data.intake_data(0), phone=phone),
                       people.anna)
    code = cases.get_case(runtime, case_id, people.anna, with_data=False)["client"]["client_code"]
    family = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    opened = tasks.get_task(runtime, task_of(runtime, family, "step_3_1"), people.anna)
    assert opened["values"]["phone"] == "+36 20 222 2222"  # a returning client's new number, not the first one
    assert opened["values"]["presented_problem"] == demo_data.intake_data(0)["intake_problem"]


def test_no_phone_at_intake_prefills_nothing(runtime, people):
    from .helpers import task_of

    case_id = _intake_case(runtime, people)
    data = demo_data.intake_data(3)
    data.pop("phone")
    tasks.complete(runtime, waiting(runtime, case_id)[0].id, data, people.anna)
    code = cases.get_case(runtime, case_id, people.anna, with_data=False)["client"]["client_code"]
    assert "intake_phone" not in _seed(runtime, code)[1]
    family = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    opened = tasks.get_task(runtime, task_of(runtime, family, "step_3_1"), people.anna)
    assert "phone" not in opened["values"]
