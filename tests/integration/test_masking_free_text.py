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


CORRECTION = "Bántalmazás gyanúja"  # typed into a log row's correction: the reason is free text too
HOLD = "Gyámhatósági eljárás"  # a legal hold's reason


def _hand_the_step_to(runtime, case_id: int, user) -> None:
    with runtime.db.unit_of_work() as session:
        session.execute(update(HumanTask).where(HumanTask.case_id == case_id, HumanTask.state == "ready")
                        .values(assignee_id=user.id))


@pytest.mark.parametrize("locale", ["hu", "en"])
def test_step_documents_are_refused_with_a_reason_to_roles_that_see_codes(runtime, people, app, family, locale):
    from engine.documents import documents
    from engine.people import users

    made = documents.produce(runtime, family, "case_log", people.anna)
    assert made["created"]
    refusal = {"hu": "Az eset dokumentumai megnevezik a klienst", "en": "This case's documents name the client"}
    for who in ("root", "dora", "bela"):  # the administrator, a designer, a caseworker holding one step
        if who == "bela":
            _hand_the_step_to(runtime, family, people.bela)
        with runtime.db.reading() as session:
            actor = users.actor(session, who)
        with pytest.raises(documents.NamesWithheld, match="name the client"):
            documents.produce(runtime, family, "case_log", actor)
        with pytest.raises(documents.NamesWithheld, match="name the client"):
            documents.download(runtime, family, made["document_id"], actor)
        listed = documents.overview(runtime, family, actor)
        assert listed["offered"] == listed["stored"] == [] and "name the client" in listed["withheld"], who
        page = _in(app, who, locale)
        shown = _text(page.get(f"/cases/{family}"))  # the list says why it is empty, in the page's language
        assert 'data-testid="documents-withheld"' in shown and refusal[locale] in shown.replace("&#39;", "'"), who
        assert f"/documents/{made['document_id']}" not in shown and "Kovács" not in shown, who
        for response in (page.get(f"/cases/{family}/documents/{made['document_id']}"),
                         page.post(f"/cases/{family}/documents/produce", {"document": "case_log",
                                                                          "language": locale})):
            assert response.status_code == 403, (who, response.status_code)
            body = response.get_data(as_text=True).replace("&#39;", "'")
            assert refusal[locale] in body and b"%PDF" not in response.data, who
        api = app.test_client()
        got = api.get(f"/api/cases/{family}/documents", auth=(who, f"pw-{who}")).get_json()
        assert got["offered"] == got["stored"] == [] and "name the client" in got["withheld"], who
        refused = api.get(f"/api/cases/{family}/documents/{made['document_id']}", auth=(who, f"pw-{who}"))
        assert refused.status_code == 403 and refused.get_json()["error"] == "names_withheld", who
        refused = api.post(f"/api/cases/{family}/documents/case_log/produce", json={"language": locale},
                           auth=(who, f"pw-{who}"))
        assert refused.status_code == 403 and refused.get_json()["error"] == "names_withheld", who
    for who in ("anna", "lea", "mark"):  # her caseworker, the lead, the manager: listed, downloaded
        page = _in(app, who, locale)
        assert f"/documents/{made['document_id']}" in _text(page.get(f"/cases/{family}"))
        assert page.get(f"/cases/{family}/documents/{made['document_id']}").data[:4] == b"%PDF", who
        got = app.test_client().get(f"/api/cases/{family}/documents", auth=(who, f"pw-{who}")).get_json()
        assert got["withheld"] is None and got["stored"][0]["document_id"] == made["document_id"], who
    with runtime.db.reading() as session:  # productions and downloads stay audit events; refusals are logged
        done = session.execute(select(AuditEvent.actor, AuditEvent.kind).where(
            AuditEvent.case_id == family, AuditEvent.kind.in_(("document_produced", "document_downloaded")))).all()
        denied = session.execute(select(AuditEvent.actor).where(AuditEvent.kind == "access_denied")).scalars()
        assert ("anna", "document_produced") in done
        assert {("anna", "document_downloaded"), ("lea", "document_downloaded"), ("mark", "document_downloaded")} \
            <= set(done)
        assert not {a for a, _k in done} & {"root", "dora", "bela"}
        assert {"root", "dora", "bela"} <= set(denied)


def test_typed_reasons_in_audit_events_are_masked_as_free_text(runtime, people, app, family):
    from engine.cases import entry_corrections
    from engine.people import users
    from engine.privacy import retention

    row = {**demo_data.meeting(6), "log": "Családlátogatás: javítva."}
    entry_corrections.correct(runtime, family, "meetings", 0, row, people.anna, reason=f"{CORRECTION} miatt")
    with runtime.db.reading() as session:
        dpo = users.actor(session, "dpo")
    retention.set_hold(runtime, dpo, family, f"{HOLD} (Kovács Anna)")
    api = app.test_client()
    for who in ("root", "dora"):
        history = api.get(f"/api/cases/{family}/history", auth=(who, f"pw-{who}")).get_json()
        history = history if isinstance(history, list) else history.get("events", history.get("history"))
        corrected = [e for e in history if e["kind"] == "entry_corrected"]
        held = [e for e in history if e["kind"] == "legal_hold_set"]
        assert corrected and corrected[0]["payload"]["reason"] == masking.MASK, who
        assert held and held[0]["payload"]["reason"] == masking.MASK, who
        assert corrected[0]["payload"]["field"] == "meetings" and corrected[0]["payload"]["row"] == 0, who
        assert CORRECTION not in json.dumps(history, ensure_ascii=False), who
    events = json.dumps(api.get("/api/audit/events", auth=("root", "pw-root")).get_json(), ensure_ascii=False)
    assert CORRECTION not in events and HOLD not in events
    for locale in ("hu", "en"):
        for who in ("root", "dora"):  # the case page's timeline
            assert CORRECTION not in _text(_in(app, who, locale).get(f"/cases/{family}")), (who, locale)
        root = _in(app, "root", locale)
        for address in ("/audit/", f"/audit/cases/{family}"):
            page = _text(root.get(address))
            assert CORRECTION not in page and HOLD not in page, (address, locale)
    for who in ("anna", "lea"):  # her caseworker and the lead read the reason as typed
        history = json.dumps(api.get(f"/api/cases/{family}/history", auth=(who, f"pw-{who}")).get_json(),
                             ensure_ascii=False)
        assert CORRECTION in history and HOLD in history, who
    assert CORRECTION in _text(browser(app, "mark").get(f"/audit/cases/{family}"))


def test_masking_of_each_kind_of_typed_text():
    fields = frozenset({"meetings/log"})
    for kind, payload in (("entry_corrected", {"reason": "x", "field": "meetings", "row": 0}),
                          ("consent_withdrawn", {"reason": "x", "consent_id": 1}),
                          ("legal_hold_set", {"reason": "x"}),
                          ("legal_hold_cleared", {"reason": "x", "hold": "y", "held_by": "dpo"}),
                          ("client_corrected", {"reason": "x", "client": "K-1"}),
                          ("document_uploaded", {"uploaded_name": "x.pdf", "version": 1})):
        masked = masking.mask_event({"kind": kind, "payload": payload}, fields)["payload"]
        assert "x" not in masked.values() and "y" not in masked.values() and "x.pdf" not in masked.values(), kind
        assert set(masked) == set(payload), kind
    kept = masking.mask_event({"kind": "task_completed", "payload": {"reason": "x"}}, fields)
    assert kept["payload"] == {"reason": "x"}  # a form field named so is masked only when declared personal


def test_a_reports_drill_down_masks_finances_outside_its_names_roles(runtime, people, app, family):
    from engine.reports import request as indicators
    from engine.reports import run

    req = indicators.parse_request("2026-01-01", "2026-12-31")
    with runtime.db.reading() as session:
        from engine.people import users

        root = users.actor(session, "root")
    for actor in (root, people.mark, people.anna):
        [item] = [i for i in run.cases_behind(runtime, actor, "family_care", req, "I1")["items"]
                  if i["case_id"] == family]
        if actor is root:  # the administrator reads the report by code: the family's income is personal
            assert item["total_income"] == item["per_capita_income"] == masking.MASK, item
            assert item["client_code"] and item["household_size"], item
        else:  # the manager (names in this report), and the case's own caseworker, as on her case page
            assert isinstance(item["total_income"], int) and item["total_income"] >= PENSION, item
    listed = app.test_client().get("/api/reports/family_care/cases?indicator=I1&from=2026-01-01&to=2026-12-31",
                                   auth=("root", "pw-root")).get_json()
    assert str(PENSION) not in json.dumps(listed) and masking.MASK in json.dumps(listed, ensure_ascii=False)
