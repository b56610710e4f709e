"""Consent on the case page and in the JSON API, in both languages; masking by role on every surface that shows
a client: the case page and its API, the history, the audit log pages and their API, the inbox, the consent
list (engine/cases/consent.py, engine/cases/masking.py)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from engine.cases import cases, consent
from engine.people import users
from engine.store import audit, clock
from engine.store.models import AuditEvent
from tests import case_management_data as cm
from tests import demo_data
from tests.integration.test_api import conforms
from tests.integration.test_api_tokens import bearer, issue
from tests.integration.web_client import browser, make_app

from .helpers import add_dpo_and_administrator, do, new_case_management_case, task_of

MONDAY = dt.datetime(2026, 3, 16, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _monday():
    clock.freeze(MONDAY)


@pytest.fixture
def app(runtime, people):
    add_dpo_and_administrator(runtime)
    return make_app(runtime)


new_case = new_case_management_case


def test_record_and_withdraw_consent_on_the_case_page_in_both_languages(runtime, people, app):
    _code, case_id = new_case(runtime, people)
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    anna = browser(app, "anna")
    page = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-state="in_force"' in page and "Adatkezelési hozzájárulás" in page and "Érvényes" in page
    assert "Jogalap: GDPR 6. cikk (1) a)" in page and "Hozzájárulok" in page
    [row] = consent.for_case(runtime, people.anna, case_id)["consents"]

    refused = anna.post(f"/consents/{row['consent_id']}/withdrawal", {"case_id": case_id, "withdrawn_on": "2026.03.20",
                                                                      "reason": "levél"})
    assert refused.status_code == 302
    assert "A visszavonás napja valós nap legyen" in anna.get(f"/cases/{case_id}").get_data(as_text=True)
    done = anna.post(f"/consents/{row['consent_id']}/withdrawal", {"case_id": case_id, "withdrawn_on": "2026.03.16",
                                                                   "reason": "a kliens levele"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cases/{case_id}#consent")
    page = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-state="withdrawn"' in page and "A visszavonás rögzítve" in page and "Visszavonva" in page

    # The next step, in the browser: refused with 422, why, and the way to the consent form.
    task_id = task_of(runtime, case_id, "cm_assessment")
    anna.get(f"/tasks/{task_id}")
    refused = anna.post(f"/tasks/{task_id}/complete", {})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "visszavonta adatkezelési hozzájárulását" in text
    assert f'href="/cases/{case_id}#consent"' in text

    anna.post("/language", {"locale": "en", "next": "/inbox"})
    refused = anna.post(f"/tasks/{task_id}/draft", {})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "withdrew their data-processing consent" in text
    assert "hozzájárulás" not in text
    not_signed = anna.post(f"/cases/{case_id}/consents", {"given_on": "2026.03.16"})
    assert not_signed.status_code == 302
    assert "tick the box" in anna.get(f"/cases/{case_id}").get_data(as_text=True)
    given = anna.post(f"/cases/{case_id}/consents", {"given_on": "2026.03.16", "signed": "yes"})
    assert given.status_code == 302
    page = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-state="in_force"' in page and "The signed statement is on record" in page
    assert "Expires on" in page and "Adatkezelési" not in page


def test_the_expiring_list_in_both_languages_and_who_sees_it(runtime, people, app):
    _code, case_id = new_case(runtime, people)
    do(runtime, case_id, "cm_entry", cm.entry(day="2026-03-02"), people.anna)
    clock.freeze(dt.datetime(2029, 2, 20, 9, 0, tzinfo=dt.timezone.utc))
    lea = browser(app, "lea")
    page = lea.get("/consents/expiring").get_data(as_text=True)
    assert "Hamarosan lejáró hozzájárulások" in page and f"#{case_id}" in page and "9 nap múlva" in page
    assert "Kovács" not in page  # clients by code
    assert lea.get("/consents/expiring?days=abc").status_code == 400
    lea.post("/language", {"locale": "en", "next": "/inbox"})
    page = lea.get("/consents/expiring?days=5").get_data(as_text=True)
    assert "Consents expiring soon" in page and "No consent expires within 5 day(s)" in page
    assert browser(app, "root").get("/consents/expiring").status_code == 403
    assert browser(app, "dora").get("/consents/expiring").status_code == 403


def test_the_json_api_with_the_token_scopes(runtime, people, app):
    client = app.test_client()
    _code, case_id = new_case(runtime, people)
    _, read = issue(runtime, people.anna, scopes=["read"])
    _, work = issue(runtime, people.anna, scopes=["read", "work"])
    shown = conforms(client.get(f"/api/cases/{case_id}/consents", headers=bearer(read)),
                     "/api/cases/{case_id}/consents", "get")
    assert shown["state"] == "missing"
    with runtime.db.reading() as session:  # reading the consent is a look at the client's file: logged
        assert session.execute(select(AuditEvent.payload).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == "case_viewed")).scalars().all()[-1] == \
            {"via": "api", "what": "consent"}
    refused = client.post(f"/api/cases/{case_id}/consents", json={"given_on": "2026-03-10", "signed": True},
                          headers=bearer(read))
    assert refused.status_code == 403 and refused.get_json()["details"][0]["scope"] == "work"
    # A step before consent: the entry step takes it; the next one is refused while none is in force.
    task_id = task_of(runtime, case_id, "cm_entry")
    done = client.post(f"/api/tasks/{task_id}/complete", json={"data": cm.entry(consent=False)},
                       headers=bearer(work))
    assert done.status_code == 200
    bad = client.post(f"/api/cases/{case_id}/consents", json={"given_on": "2026-13-01", "signed": True},
                      headers=bearer(work))
    assert conforms(bad, "/api/cases/{case_id}/consents", "post")["details"][0]["field"] == "given_on"
    assert bad.status_code == 422
    given = client.post(f"/api/cases/{case_id}/consents", json={"given_on": "2026-03-10", "signed": True},
                        headers=bearer(work))
    body = conforms(given, "/api/cases/{case_id}/consents", "post")
    assert given.status_code == 201 and body["expires_on"] == "2029-03-09"
    again = client.post(f"/api/cases/{case_id}/consents", json={"given_on": "2026-03-10", "signed": True},
                        headers=bearer(work))
    assert again.status_code == 409
    withdrawn = client.post(f"/api/consents/{body['consent_id']}/withdrawal",
                            json={"withdrawn_on": "2026-03-16", "reason": "letter"}, headers=bearer(work))
    assert conforms(withdrawn, "/api/consents/{consent_id}/withdrawal", "post")["cases_stopped"] == []
    listed = conforms(client.get("/api/consents/expiring?days=30", headers=bearer(read)),
                      "/api/consents/expiring", "get")
    assert listed["items"] == []  # the case closed: without consent at entry the service ends
    assert client.get("/api/consents/expiring?days=99999", headers=bearer(read)).status_code == 422


def test_a_step_refused_through_the_api_names_why(runtime, people, app):
    client = app.test_client()
    _code, case_id = new_case(runtime, people)
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    [row] = consent.for_case(runtime, people.anna, case_id)["consents"]
    consent.withdraw(runtime, people.anna, row["consent_id"], "2026-03-16", "letter")
    _, work = issue(runtime, people.anna, scopes=["read", "work"])
    refused = client.post(f"/api/tasks/{task_of(runtime, case_id, 'cm_assessment')}/complete",
                          json={"data": cm.assessment()}, headers=bearer(work))
    body = conforms(refused, "/api/tasks/{task_id}/complete", "post")
    assert refused.status_code == 422 and body["error"] == "consent_required"
    assert body["details"][0]["code"] == "consent_withdrawn" and "withdrawn on 2026-03-16" in body["message"]


# --------------------------------------------------------------------------------------------- masking by role
def test_the_case_page_and_its_api_show_names_only_to_roles_that_need_them(runtime, people, app):
    code = demo_data.run_intake(runtime, people.anna)
    intake_id = cases.list_cases(runtime, people.anna)[0]["case_id"]
    family = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    for who in ("anna", "lea", "mark"):  # her own caseworker, the lead, the manager
        page = browser(app, who).get(f"/cases/{intake_id}").get_data(as_text=True)
        assert "Kovács" in page and 'data-testid="client-masked"' not in page, who
    root = browser(app, "root")  # the administrator oversees every case, but needs no names
    for case_id in (intake_id, family):
        page = root.get(f"/cases/{case_id}").get_data(as_text=True)
        assert code in page and "Kovács" not in page and "Tóth Mária" not in page and "+36 30" not in page
        assert "Csak kóddal látható" in page
    api = app.test_client()
    shown = api.get(f"/api/cases/{family}", auth=("root", "pw-root")).get_json()
    assert shown["client"]["family_name"] == "•••" and shown["client"]["client_code"] == code
    assert shown["data"]["intake_phone"] == "•••"
    history = json.dumps(api.get(f"/api/cases/{intake_id}/history", auth=("root", "pw-root")).get_json(),
                         ensure_ascii=False)
    assert "Kovács" not in history and "•••" in history
    assert "Kovács" in json.dumps(api.get(f"/api/cases/{intake_id}/history", auth=("anna", "pw-anna")).get_json(),
                                  ensure_ascii=False)
    own = api.get(f"/api/cases/{family}", auth=("anna", "pw-anna")).get_json()
    assert own["client"]["family_name"] == "Kovács" and own["data"]["intake_phone"] == "+36 30 123 4567"
    with runtime.db.reading() as session:  # every look stays an audit event
        viewers = set(session.execute(select(AuditEvent.actor).where(
            AuditEvent.case_id == intake_id, AuditEvent.kind == "case_viewed")).scalars())
    assert {"anna", "lea", "mark", "root"} <= viewers


def test_the_audit_log_pages_and_api_mask_for_the_administrator(runtime, people, app):
    code = demo_data.run_intake(runtime, people.anna)
    intake_id = cases.list_cases(runtime, people.anna)[0]["case_id"]
    root, mark = browser(app, "root"), browser(app, "mark")
    log = root.get("/audit/").get_data(as_text=True)
    assert "Kovács" not in log and "Tóth Mária" not in log and "•••" in log
    assert "Kovács" in mark.get("/audit/").get_data(as_text=True)
    history = root.get(f"/audit/cases/{intake_id}").get_data(as_text=True)
    assert "Kovács" not in history and code in root.get(f"/cases/{intake_id}").get_data(as_text=True)
    assert "Kovács" in mark.get(f"/audit/cases/{intake_id}").get_data(as_text=True)
    api = app.test_client()
    as_root = json.dumps(api.get("/api/audit/events", auth=("root", "pw-root")).get_json(), ensure_ascii=False)
    assert "Kovács" not in as_root and "•••" in as_root
    assert "Kovács" in json.dumps(api.get("/api/audit/events", auth=("mark", "pw-mark")).get_json(),
                                  ensure_ascii=False)
    with runtime.db.reading() as session:
        looked = session.execute(select(AuditEvent.actor).where(
            AuditEvent.case_id == intake_id, AuditEvent.kind == "case_viewed")).scalars().all()
    assert "root" in looked and "mark" in looked  # opening a case's history is logged


def test_the_inbox_shows_codes_never_names(runtime, people, app):
    code = demo_data.run_intake(runtime, people.anna)
    cases.start_case(runtime, "family_care", people.anna, code)
    for who in ("anna", "lea"):
        page = browser(app, who).get("/inbox").get_data(as_text=True)
        assert "Kovács" not in page and "Tóth" not in page, who
    assert code in browser(app, "anna").get("/inbox").get_data(as_text=True)
    inbox = app.test_client().get("/api/inbox", auth=("anna", "pw-anna")).get_data(as_text=True)
    assert code in inbox and "Kovács" not in inbox


def test_consent_events_are_named_in_the_audit_log(runtime, people, app):
    _code, case_id = new_case(runtime, people)
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    mark = browser(app, "mark")
    assert "Hozzájárulás rögzítve" in mark.get(f"/audit/cases/{case_id}").get_data(as_text=True)
    with runtime.db.reading() as session:
        kinds = set(session.execute(select(AuditEvent.kind).where(AuditEvent.case_id == case_id)).scalars())
    assert consent.CONSENT_GIVEN in kinds and audit.CASE_STARTED in kinds


def test_step_documents_are_for_the_roles_that_see_names(runtime, people, app):
    from engine.documents import documents
    from engine.errors import Forbidden

    _code, case_id = new_case(runtime, people)
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    made = documents.produce(runtime, case_id, documents.offered(runtime, case_id, people.anna)[0]["id"],
                             people.anna)
    with runtime.db.reading() as session:
        root = users.actor(session, "root")
    assert documents.offered(runtime, case_id, root) == [] and documents.list_documents(runtime, case_id, root) == []
    with pytest.raises(Forbidden, match="name the client"):
        documents.download(runtime, case_id, made["document_id"], root)
    with pytest.raises(Forbidden, match="name the client"):
        documents.produce(runtime, case_id, made["document"], root)
    assert documents.download(runtime, case_id, made["document_id"], people.mark)[1][:4] == b"%PDF"
    page = browser(app, "root").get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="documents-withheld"' in page and "Kovács" not in page  # the list says why it is empty
    assert f"/documents/{made['document_id']}" not in page


def test_a_look_at_the_consent_reads_in_the_readers_language(runtime, people, app):
    _code, case_id = new_case(runtime, people)
    app.test_client().get(f"/api/cases/{case_id}/consents", auth=("anna", "pw-anna"))
    page = browser(app, "mark").get(f"/audit/cases/{case_id}").get_data(as_text=True)
    assert "az adatkezelési hozzájárulás" in page and "consent</" not in page
