"""The step documents over the JSON API (docs/documents.md, web/openapi.yaml): list, produce, upload a signed copy
and download, with the pages' access rules and audit events, token scopes as the rest of the API, and bad input
refused with a 4xx naming what is wrong."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from engine.people import api_tokens
from engine.store import audit, clock
from engine.store.models import AuditEvent

from .helpers import do, new_family_case, task_of
from .test_api import Api, app, client, conforms  # noqa: F401  (the fixtures, shared)
from .test_documents import ACCENTED_PLAN, JPEG, PDF, PNG, squeezed, text_of

DOCS = "/api/cases/{case_id}/documents"
PRODUCE = "/api/cases/{case_id}/documents/{document}/produce"
SIGNED = "/api/cases/{case_id}/documents/{document}/signed"
ONE = "/api/cases/{case_id}/documents/{document_id}"


def _case(runtime, people) -> tuple[int, int]:
    """A family-care case through 3.1, with 3.2 (the cooperation agreement's step) waiting."""
    case_id = new_family_case(runtime, people)
    from tests import demo_data
    do(runtime, case_id, "step_3_1", {**demo_data.assessment_data(), "action_plan": ACCENTED_PLAN}, people.anna)
    return case_id, task_of(runtime, case_id, "step_3_2")


def _events(runtime, case_id: int, kind: str) -> list[dict]:
    with runtime.db.reading() as session:
        return [audit.readable(session, e.payload) for e in session.execute(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == kind).order_by(AuditEvent.id)).scalars()]


def test_produce_list_upload_and_download_with_their_audit_events(runtime, people, client):  # noqa: F811
    api = Api(client).as_("anna")
    case_id, task_id = _case(runtime, people)
    listed = conforms(api.get(f"/api/cases/{case_id}/documents", query_string={"task": task_id}), DOCS, "get")
    assert [d["id"] for d in listed["offered"]] == ["cooperation_agreement", "case_log", "contact_register"]
    assert listed["stored"] == []
    made = conforms(api.post(f"/api/cases/{case_id}/documents/cooperation_agreement/produce",
                             json={"language": "hu", "task_id": task_id}), PRODUCE, "post")
    assert made["created"] and made["version"] == 1 and made["kind"] == "produced" and made["task_id"] == task_id
    again = api.post(f"/api/cases/{case_id}/documents/cooperation_agreement/produce",
                     json={"language": "hu", "task_id": task_id})
    assert again.status_code == 200 and conforms(again, PRODUCE, "post")["created"] is False
    english = api.post(f"/api/cases/{case_id}/documents/cooperation_agreement/produce", json={"language": "en"})
    assert english.status_code == 201 and conforms(english, PRODUCE, "post")["version"] == 2
    pdf = api.get(f"/api/cases/{case_id}/documents/{made['document_id']}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="cooperation_agreement-{case_id}-v1.pdf"'
    text = text_of(pdf.data)
    assert "EGYÜTTMŰKÖDÉSI MEGÁLLAPODÁS" in text and squeezed(ACCENTED_PLAN) in squeezed(text)
    signed = api.post(f"/api/cases/{case_id}/documents/cooperation_agreement/signed",
                      data={"file": (io.BytesIO(PNG), "alairt.pdf"), "task_id": str(task_id)},
                      content_type="multipart/form-data")
    assert signed.status_code == 201
    stored = conforms(signed, SIGNED, "post")
    assert stored["media_type"] == "image/png" and stored["kind"] == "signed" and stored["version"] == 1
    copy = api.get(f"/api/cases/{case_id}/documents/{stored['document_id']}")
    assert copy.data == PNG and copy.mimetype == "image/png"
    listed = conforms(api.get(f"/api/cases/{case_id}/documents"), DOCS, "get")
    assert [(d["kind"], d["version"], d["language"]) for d in listed["stored"]] == [
        ("signed", 1, None), ("produced", 2, "en"), ("produced", 1, "hu")]
    # Who: the login, and the display name the pages show (the test users' are their logins capitalised).
    assert {(d["by"], d["by_name"]) for d in listed["stored"]} == {("anna", "Anna")}
    assert [e["version"] for e in _events(runtime, case_id, "document_produced")] == [1, 2]
    assert [e["uploaded_name"] for e in _events(runtime, case_id, "document_uploaded")] == ["alairt.pdf"]
    assert [(e["kind"], e["via"]) for e in _events(runtime, case_id, "document_downloaded")] == [
        ("produced", "api"), ("signed", "api")]


def _audit_count(runtime) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(func.count(AuditEvent.id)).where(
            AuditEvent.kind.not_in(["access_denied", "login_failed"]))).scalar()


def test_bad_input_is_refused_naming_what_is_wrong_and_changes_nothing(runtime, people, client):  # noqa: F811
    api = Api(client).as_("anna")
    case_id, task_id = _case(runtime, people)
    before = _audit_count(runtime)
    base = f"/api/cases/{case_id}/documents"

    def refused(response, status: int, path: str, method: str, *words: str) -> dict:
        assert response.status_code == status, response.get_data(as_text=True)
        body = conforms(response, path, method)
        for word in words:
            assert word in body["message"], (word, body["message"])
        return body

    refused(api.post(f"{base}/nonsense/produce", json={}), 404, PRODUCE, "post", "nonsense", "cooperation_agreement")
    body = refused(api.post(f"{base}/cooperation_agreement/produce", json={"language": "de"}), 422, PRODUCE, "post",
                   "'de'")
    assert body["details"][0]["field"] == "language"
    refused(api.post(f"{base}/cooperation_agreement/produce", json={"language": 7}), 400, PRODUCE, "post",
            "'language'")
    refused(api.post(f"{base}/cooperation_agreement/produce", json={"task_id": "twelve"}), 400, PRODUCE, "post",
            "'task_id'")
    refused(api.post(f"{base}/cooperation_agreement/produce", json={"langauge": "hu"}), 400, PRODUCE, "post",
            "langauge")
    refused(api.post(f"{base}/cooperation_agreement/produce", json={"task_id": 999999}), 404, PRODUCE, "post",
            "999999")
    # A step's page offers its own documents only.
    refused(api.post(f"{base}/action_plan/produce", json={"task_id": task_id}), 422, PRODUCE, "post",
            "not one of step 3.2")
    refused(api.get(base, query_string={"task": "x"}), 400, DOCS, "get", "'task'")
    refused(api.get(base, query_string={"tsak": "1"}), 400, DOCS, "get", "tsak")

    def upload(content: bytes | None, name: str = "scan.pdf", **extra):
        data = {"file": (io.BytesIO(content), name)} if content is not None else {}
        return api.post(f"{base}/cooperation_agreement/signed", data={**data, **extra},
                        content_type="multipart/form-data")

    body = refused(upload(None), 422, SIGNED, "post", "'file'")
    assert body["error"] == "file_refused" and body["details"] == [{"field": "file", "message": "missing"}]
    assert refused(upload(b""), 422, SIGNED, "post", "empty")["details"][0]["field"] == "file"
    refused(upload(b"MZ\x90\x00 not a scan", "scan.pdf"), 422, SIGNED, "post", "PDF, PNG or JPEG")
    refused(upload(PDF[:-7]), 422, SIGNED, "post", "cut short")
    big = refused(upload(JPEG + b"\x00" * (5 * 1024 * 1024)), 413, SIGNED, "post", "5 MiB")
    assert big["error"] == "file_too_large"
    refused(upload(PNG, task_id="-3"), 400, SIGNED, "post", "'task_id'")
    # A step keeps the signed copies of its own documents only (the action plan is not 3.2's).
    foreign = refused(api.post(f"{base}/action_plan/signed", data={"file": (io.BytesIO(PNG), "a.png"),
                                                                    "task_id": str(task_id)},
                               content_type="multipart/form-data"), 422, SIGNED, "post", "'action_plan'",
                      "step 3.2")
    assert foreign["error"] == "validation_failed" and foreign["details"] == [
        {"field": "document", "message": "not offered at step 3.2", "kind": "not_offered"}]
    refused(upload(PNG, comment="hi"), 400, SIGNED, "post", "comment")
    refused(api.post(f"{base}/nonsense/signed", data={"file": (io.BytesIO(PNG), "a.png")},
                     content_type="multipart/form-data"), 404, SIGNED, "post", "nonsense")
    refused(api.get(f"{base}/987654"), 404, ONE, "get", "987654")
    assert _audit_count(runtime) == before, "a refused request wrote an audit event"


def test_access_rules_and_token_scopes_are_those_of_the_rest_of_the_api(runtime, people, client):  # noqa: F811
    case_id, task_id = _case(runtime, people)
    anna = Api(client).as_("anna")
    made = conforms(anna.post(f"/api/cases/{case_id}/documents/case_log/produce", json={}), PRODUCE, "post")
    # Another caseworker: 403 whether the case or document exists or not, and nothing is written.
    bela = Api(client).as_("bela")
    before = _audit_count(runtime)
    for response, path, method in (
            (bela.get(f"/api/cases/{case_id}/documents"), DOCS, "get"),
            (bela.post(f"/api/cases/{case_id}/documents/case_log/produce", json={}), PRODUCE, "post"),
            (bela.get(f"/api/cases/{case_id}/documents/{made['document_id']}"), ONE, "get"),
            (bela.post(f"/api/cases/{case_id}/documents/case_log/signed",
                       data={"file": (io.BytesIO(PNG), "a.png")}, content_type="multipart/form-data"), SIGNED,
             "post")):
        assert response.status_code == 403, (path, method, response.status_code)
        conforms(response, path, method)
    assert _audit_count(runtime) == before
    # The professional lead sees every case.
    assert Api(client).as_("lea").get(f"/api/cases/{case_id}/documents/{made['document_id']}").status_code == 200
    # A read-scoped token lists and downloads; producing and uploading need 'work'.
    with runtime.db.unit_of_work() as session:
        _described, secret = api_tokens.issue(session, people.anna, "reader", ["read"], clock.now())
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/cases/{case_id}/documents", headers=bearer).status_code == 200
    assert client.get(f"/api/cases/{case_id}/documents/{made['document_id']}", headers=bearer).status_code == 200
    for response in (client.post(f"/api/cases/{case_id}/documents/case_log/produce", json={}, headers=bearer),
                     client.post(f"/api/cases/{case_id}/documents/case_log/signed", headers=bearer,
                                 data={"file": (io.BytesIO(PNG), "a.png")}, content_type="multipart/form-data")):
        assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"
    assert task_id
