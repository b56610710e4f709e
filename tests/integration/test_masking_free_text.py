"""Masking by role covers the free text and the finances a process declares personal, not only names: the
intake's problem, every free-text field of the forms (``x-widget: textarea``, in a block's rows too) and the
fields a manifest lists under ``legal_basis.financial`` (engine/cases/masking.py; docs/architecture.md, "Masking
by role"). The administrator and a process designer read them as ``•••`` on the case page (both languages), its
API, the history and the audit log; the case's own caseworker and the professional lead read them as written, and
the data-protection officer in the person's file she hands out."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from engine.cases import cases, masking
from engine.store.models import AuditEvent, HumanTask
from tests import demo_data
from tests.integration.web_client import browser, make_app

from .helpers import add_dpo_and_administrator, do, new_family_case, review

PROBLEM = "Lakbérhátralék"  # the intake's problem and 3.1's presented problem both begin with it
MEETING = "Családlátogatás"  # 3.3's meeting log, a free-text field in each row of a block
PLAN = "Adósságkezelési"  # 3.1's action plan
PENSION = 95000  # the client's pension, a financial field


@pytest.fixture
def app(runtime, people):
    add_dpo_and_administrator(runtime)
    return make_app(runtime)


@pytest.fixture
def family(runtime, people):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "continue"},
       people.anna)
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "actions": [demo_data.action(10)],
                                      "casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)  # 3.6: the payments checked, a financial block
    # A process designer with a step of the case handed to her: she may open the case, and needs no names.
    with runtime.db.unit_of_work() as session:
        session.execute(update(HumanTask).where(HumanTask.case_id == case_id, HumanTask.state == "ready")
                        .values(assignee_id=people.dora.id))
    return case_id


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _in(app, who: str, locale: str):
    client = browser(app, who)
    client.post("/language", {"locale": locale, "next": "/inbox"})
    return client


@pytest.mark.parametrize("locale", ["hu", "en"])
def test_the_case_page_masks_free_text_and_finances_for_roles_that_need_no_names(runtime, people, app, family,
                                                                                locale):
    for who in ("root", "dora"):  # the administrator, a process designer
        page = _text(_in(app, who, locale).get(f"/cases/{family}"))
        for secret in (PROBLEM, MEETING, PLAN, "95 000", "95000", "95\u00a0000", "95,000"):
            assert secret not in page, (who, secret)
        assert "•••" in page and 'data-testid="client-masked"' in page, who
    for who in ("anna", "lea"):  # her caseworker, the professional lead
        page = _text(_in(app, who, locale).get(f"/cases/{family}"))
        assert PROBLEM in page and MEETING in page and PLAN in page, who


@pytest.mark.parametrize("locale", ["hu", "en"])
def test_the_data_protection_officer_reads_them_in_the_persons_file(runtime, people, app, family, locale):
    code = cases.get_case(runtime, family, people.anna, with_data=False)["client"]["client_code"]
    dpo = _in(app, "dpo", locale)
    assert "Kovács" in _text(dpo.get(f"/privacy/clients/{code}"))
    handed = _text(dpo.get(f"/privacy/clients/{code}/export.html?lang={locale}"))
    assert PROBLEM in handed and MEETING in handed and PLAN in handed
    whole = _text(dpo.get(f"/privacy/clients/{code}/export.json"))
    assert PROBLEM in whole and str(PENSION) in whole and "•••" not in whole


def test_the_api_and_the_history_mask_them_and_keep_the_rest(runtime, people, app, family):
    api = app.test_client()
    for who in ("root", "dora"):
        shown = api.get(f"/api/cases/{family}", auth=(who, f"pw-{who}")).get_json()
        data = shown["data"]
        assert shown["names_masked"] is True
        assert data["intake_problem"] == data["presented_problem"] == data["action_plan"] == masking.MASK
        assert data["client_pension_incomes"] == data["total_income"] == data["per_capita_income"] == masking.MASK
        [row] = data["meetings"]
        assert row["log"] == masking.MASK and row["date"] == "2026-02-06" and row["place"] == "client_home"
        assert data["problem_types"] == ["financial", "child_rearing"]  # a category, not free text
        assert data["review_checks"] == masking.MASK and data["actions"][0]["log"] == masking.MASK
        history = json.dumps(api.get(f"/api/cases/{family}/history", auth=(who, f"pw-{who}")).get_json(),
                             ensure_ascii=False)
        for secret in (PROBLEM, MEETING, PLAN, str(PENSION)):
            assert secret not in history, (who, secret)
        assert "2026-02-06" in history  # the meeting's date stays
    with runtime.db.reading() as session:  # reading the history through the API is a logged look, too
        looks = session.execute(select(AuditEvent.actor, AuditEvent.payload).where(
            AuditEvent.case_id == family, AuditEvent.kind == "case_viewed")).all()
    assert {("root", "history"), ("dora", "history")} <= {(a, (p or {}).get("what")) for a, p in looks}
    for who in ("anna", "lea"):
        shown = api.get(f"/api/cases/{family}", auth=(who, f"pw-{who}")).get_json()
        assert shown["data"]["presented_problem"].startswith(PROBLEM), who
        assert shown["data"]["client_pension_incomes"][0]["amount"] == PENSION, who
        assert shown["data"]["meetings"][0]["log"].startswith(MEETING), who
        history = json.dumps(api.get(f"/api/cases/{family}/history", auth=(who, f"pw-{who}")).get_json(),
                             ensure_ascii=False)
        assert PROBLEM in history and MEETING in history, who


@pytest.mark.parametrize("locale", ["hu", "en"])
def test_the_audit_log_masks_them_for_the_administrator(runtime, people, app, family, locale):
    root = browser(app, "root")
    root.post("/language", {"locale": locale, "next": "/inbox"})
    for address in ("/audit/", f"/audit/cases/{family}"):
        page = _text(root.get(address))
        for secret in (PROBLEM, MEETING, PLAN):
            assert secret not in page, (address, secret)
    events = json.dumps(app.test_client().get("/api/audit/events", auth=("root", "pw-root")).get_json(),
                        ensure_ascii=False)
    for secret in (PROBLEM, MEETING, PLAN, str(PENSION)):
        assert secret not in events, secret
    mark = browser(app, "mark")  # the manager reads names, and so these
    assert PROBLEM in _text(mark.get(f"/audit/cases/{family}"))


def test_the_personal_fields_come_from_the_package_declarations(runtime, people, family):
    from engine.store.models import Case

    with runtime.db.reading() as session:
        view = runtime.definition(session, session.get(Case, family).definition_id)
        fields = masking.identifying_fields(view)
    # legal_basis.identifying, .financial, start.data from the register's sealed problem and phone, free text
    assert {"phone", "household_members", "client_pension_incomes", "total_income", "intake_problem",
            "intake_phone", "presented_problem", "action_plan", "meetings/log", "actions/log"} <= fields
    assert not {"problem_types", "meetings", "client_code", "client_status", "review_frequency"} & fields
    assert masking.mask_payload({"after": {"meetings": [{"date": "d", "log": "x"}]}, "task": "t"}, fields) == \
        {"after": {"meetings": [{"date": "d", "log": masking.MASK}]}, "task": "t"}


def test_the_package_check_refuses_a_financial_field_no_form_has():
    from pathlib import Path

    from engine.packages.check import check
    from engine.packages.load import from_files

    folder = Path(__file__).resolve().parents[2] / "bpmn" / "family_care"
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert not [p for p in check(from_files(files, "family_care")).problems if p.file == "service.yaml"]
    files["service.yaml"] = files["service.yaml"].replace(b"- total_income", b"- total_incomes")
    [problem] = [p.to_dict() for p in check(from_files(files, "family_care")).problems if p.file == "service.yaml"]
    assert problem["code"] == "form_field_unknown" and problem["params"]["field"] == "total_incomes", problem
    assert "legal_basis.financial" in problem["message"]
