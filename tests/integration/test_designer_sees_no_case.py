"""The designer role sees definitions, drafts and test runs, never a real client's case (docs/studio.md): every
page and API route that shows a case, a task, a client, a case's documents or audit trail, or a report's cases
refuses the demo designer, and the lists a designer may open (cases, inbox, reports, a migration's dry run) show
none of a client's cases."""
from __future__ import annotations

import pytest

from engine.store.models import Case, Client

from .helpers import new_family_case, task_of
from .web_client import browser, make_app

PERIOD = "from=2026-01-01&to=2026-12-31"


@pytest.fixture
def world(runtime, people):
    case_id = new_family_case(runtime, people)
    with runtime.db.reading() as session:
        code = session.get(Client, session.get(Case, case_id).client_id).client_code
    return case_id, task_of(runtime, case_id, "step_3_1"), code


def test_the_designer_is_refused_every_page_of_a_clients_case(runtime, world):
    case_id, task_id, code = world
    dora = browser(make_app(runtime), "dora")
    refused = [f"/cases/{case_id}", f"/cases/{case_id}/diagram.bpmn", f"/tasks/{task_id}", "/agenda", "/caseload",
               "/reports/family_care", "/reports/family_care/cases", "/reports/family_care/export.csv",
               "/reports/family_care/export.xlsx", f"/audit/cases/{case_id}", "/consents/expiring",
               "/questionnaires/", "/privacy/", f"/privacy/clients/{code}", f"/privacy/clients/{code}/export.json"]
    assert {path: dora.get(path).status_code for path in refused} == dict.fromkeys(refused, 403)
    # A document of the case (none is produced yet: refused before it is looked for, or not found).
    assert dora.get(f"/cases/{case_id}/documents/1").status_code in (403, 404)
    # The pages a designer may open list no client's case: no link to it, no client code.
    for path in ("/cases", "/inbox", "/reports/", "/processes/family_care",
                 "/processes/family_care/migrate?dry=1&from=1&to=1"):
        page = dora.get(path)
        assert page.status_code == 200, path
        text = page.get_data(as_text=True)
        assert f"/cases/{case_id}" not in text and code not in text, path


def test_the_designer_is_refused_every_case_over_the_api(runtime, world):
    case_id, task_id, code = world
    client = make_app(runtime).test_client()

    def get(path):
        return client.get(path, auth=("dora", "pw-dora"))

    refused = [f"/api/cases/{case_id}", f"/api/cases/{case_id}/history", f"/api/cases/{case_id}/documents",
               f"/api/tasks/{task_id}", "/api/agenda", f"/api/reports/family_care?{PERIOD}",
               f"/api/reports/family_care/cases?{PERIOD}&indicator=I1", f"/api/audit/cases/{case_id}",
               "/api/audit/events", "/api/scheduler"]
    assert {path: get(path).status_code for path in refused} == dict.fromkeys(refused, 403)
    assert get("/api/cases").get_json() == []
    assert get("/api/inbox").get_json()["items"] == []
    assert get("/api/definitions").status_code == 200
