"""The Personal data pages: a person's request (download, rectification, erasure), legal holds and the retention
report, for the roles that may, in both languages; everyone else is refused."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from engine.cases.clients import identity as register_identity
from engine.people import users
from engine.store import audit, clock
from engine.store.models import AuditEvent, Client
from tests import demo_data
from tests.integration.web_client import browser, make_app


@pytest.fixture
def app(runtime, people):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "dpo", "Dóra Adat", [users.DATA_PROTECTION_OFFICER], "pw-dpo", "test",
                          clock.now())
        users.create_user(session, "root", "Admin", [users.ADMINISTRATOR], "pw-root", "test", clock.now())
    return make_app(runtime)


def test_a_persons_request_in_the_browser(runtime, people, app):
    code = demo_data.run_intake(runtime, people.anna)
    dpo = browser(app, "dpo")
    assert "/privacy/" in dpo.get("/inbox").get_data(as_text=True)  # the menu entry
    opened = dpo.get(f"/privacy/?client={code.lower()}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/privacy/clients/{code}")
    page = dpo.get(f"/privacy/clients/{code}").get_data(as_text=True)
    assert "Kovács" in page and "Személyes adatok" in page and "Helyesbítés" in page
    assert "őrzési idő" in page  # why the intake case is kept: its retention period runs
    exported = dpo.get(f"/privacy/clients/{code}/export.json")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    assert json.loads(exported.get_data(as_text=True))["client"]["family_name"] == "Kovács"
    english = dpo.get(f"/privacy/clients/{code}/export.html?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Mother&#x27;s name" in english

    refused = dpo.post(f"/privacy/clients/{code}/correct", {"family_name": "Kovách", "reason": ""})
    assert refused.status_code == 422 and "Kérjük, adja meg a helyesbítés okát" in refused.get_data(as_text=True)
    bad_day = dpo.post(f"/privacy/clients/{code}/correct", {"birth_date": "1970-02-31", "reason": "ID card"})
    assert bad_day.status_code == 422 and "nem fogadható el" in bad_day.get_data(as_text=True)
    done = dpo.post(f"/privacy/clients/{code}/correct", {"family_name": "Kovách", "reason": "ID card"})
    assert done.status_code == 302
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert register_identity(session, client)["family_name"] == "Kovách"
        kinds = session.execute(select(AuditEvent.kind).where(AuditEvent.case_id.is_(None))).scalars().all()
    assert {audit.CLIENT_VIEWED, audit.CLIENT_DATA_EXPORTED, audit.CLIENT_CORRECTED} <= set(kinds)

    clock.advance(dt.timedelta(days=5 * 366 + 1))
    dpo = browser(app, "dpo")  # five years on, the login has long expired
    assert "Kovách" in dpo.get(f"/privacy/clients/{code}").get_data(as_text=True)
    assert dpo.post(f"/privacy/clients/{code}/erase").status_code == 302
    after = dpo.get(f"/privacy/clients/{code}").get_data(as_text=True)
    assert "Kovách" not in after and 'data-testid="identity-erased"' in after


def test_legal_holds_and_the_retention_report_in_both_languages(runtime, people, app):
    code = demo_data.run_intake(runtime, people.anna)
    with runtime.db.reading() as session:
        case_id = session.execute(select(AuditEvent.case_id).where(AuditEvent.kind == "client_registered")).scalar()
    clock.advance(dt.timedelta(days=5 * 366 + 1))
    mark = browser(app, "mark")
    page = mark.get("/privacy/").get_data(as_text=True)
    assert 'data-testid="due-cases"' in page and code in page
    assert mark.post(f"/privacy/cases/{case_id}/hold", {"reason": "", "next": "/privacy/"}).status_code == 302
    assert "indoklás kell" in mark.get("/privacy/").get_data(as_text=True)
    mark.post(f"/privacy/cases/{case_id}/hold", {"reason": "Court case 1", "next": "/privacy/"})
    page = mark.get("/privacy/").get_data(as_text=True)
    assert 'data-testid="nothing-due"' in page and 'data-testid="held-cases"' in page and "Court case 1" in page
    mark.post("/language", {"locale": "en", "next": "/privacy/"})
    english = mark.get("/privacy/").get_data(as_text=True)
    assert "Kept by a legal hold" in english and "Nothing is due for erasure." in english
    mark.post(f"/privacy/cases/{case_id}/release", {"reason": "over", "next": "/privacy/"})

    admin = browser(app, "root")  # the administrator runs retention, but opens no person's file
    page = admin.get("/privacy/").get_data(as_text=True)
    assert 'data-testid="due-cases"' in page and 'data-testid="client-code"' not in page
    assert admin.get(f"/privacy/clients/{code}").status_code == 403
    assert admin.post(f"/privacy/cases/{case_id}/hold", {"reason": "x"}).status_code == 403
    assert admin.post("/privacy/retention/apply").status_code == 302
    assert 'data-testid="nothing-due"' in admin.get("/privacy/").get_data(as_text=True)
    erased_case = browser(app, "mark").get(f"/cases/{case_id}")  # an erased case still opens, without its data
    assert erased_case.status_code == 200 and "Kovács" not in erased_case.get_data(as_text=True)

    anna = browser(app, "anna")
    assert "/privacy/" not in anna.get("/inbox").get_data(as_text=True)
    for path in ("/privacy/", f"/privacy/clients/{code}", f"/privacy/clients/{code}/export.json"):
        assert anna.get(path).status_code == 403, path
    assert anna.post("/privacy/retention/apply").status_code == 403
