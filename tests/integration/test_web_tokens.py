"""The page "API tokens" (web/token_views.py) on SQLite and PostgreSQL: a user issues a token (its secret shown on
the answer, once), sees and revokes her own; an administrator issues for anyone and sees everyone's; refusals
name the field; the page speaks both languages."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.people import api_tokens, users
from engine.store import audit, clock
from engine.store.models import AuditEvent

from .web_client import browser, make_app


@pytest.fixture
def app(runtime, people):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "admin", "Admin", [users.ADMINISTRATOR], "pw-admin", "test", clock.now())
    return make_app(runtime)


def _secret(page: str) -> str:
    found = re.search(r'value="(sgt_[^"]+)" data-testid="token-secret"', page)
    assert found, page[:2000]
    return found.group(1)


def test_a_user_issues_sees_and_revokes_her_own_token(runtime, app):
    anna = browser(app, "anna")
    page = anna.get("/tokens").get_data(as_text=True)
    assert "API-tokenek" in page and 'data-testid="no-tokens"' in page
    answer = anna.post("/tokens", {"name": "export", "scopes": ["read", "work"], "expires": "30"})
    assert answer.status_code == 201
    secret = _secret(answer.get_data(as_text=True))
    found = api_tokens.check(runtime.db, secret)
    assert found.actor.username == "anna" and found.scopes == {"read", "work"}
    page = anna.get("/tokens").get_data(as_text=True)
    assert secret not in page, "the secret is shown once"
    assert "export" in page and "érvényes" in page and "munka az eseteken és lépéseken" in page
    token_id = found.token_id
    answer = anna.post(f"/tokens/{token_id}/revoke")
    assert answer.status_code == 302
    page = anna.get("/tokens").get_data(as_text=True)
    assert "visszavonva" in page and f'data-testid="revoke-{token_id}"' not in page
    assert api_tokens.check(runtime.db, secret).status == api_tokens.REVOKED
    # Another user can neither see nor revoke it.
    bela = browser(app, "bela")
    assert "export" not in bela.get("/tokens").get_data(as_text=True)
    assert bela.post(f"/tokens/{token_id}/revoke").status_code == 404
    with runtime.db.reading() as session:
        kinds = set(session.execute(select(AuditEvent.kind).where(AuditEvent.actor == "anna")).scalars())
    assert {audit.API_TOKEN_ISSUED, audit.API_TOKEN_REVOKED, audit.API_TOKENS_LISTED} <= kinds


def test_refusals_name_the_field_in_the_users_language(runtime, app):
    anna = browser(app, "anna")
    anna.get("/tokens")
    answer = anna.post("/tokens", {"name": "", "scopes": [], "expires": "7"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Adjon nevet" in page and "Válasszon legalább egy hatókört." in page and "felkínált lejáratok" in page
    answer = anna.post("/tokens", {"name": "deploy", "scopes": ["admin"], "expires": ""})
    assert answer.status_code == 422 and "folyamattervező vagy adminisztrátor" in answer.get_data(as_text=True)
    anna.post("/language", {"locale": "en", "next": "/tokens"})
    answer = anna.post("/tokens", {"name": "", "scopes": ["read"], "expires": ""})
    assert answer.status_code == 422 and "A name is required" in answer.get_data(as_text=True)
    page = anna.get("/tokens").get_data(as_text=True)
    assert "My tokens" in page and "Issue token" in page
    assert anna.post("/tokens", {"name": "x", "scopes": ["read"]}, csrf=False).status_code == 400


def test_an_administrator_issues_for_anyone_and_sees_every_token(runtime, app):
    browser(app, "anna").post("/tokens", {"name": "annas", "scopes": ["read"], "expires": "90"})
    admin = browser(app, "admin")
    page = admin.get("/tokens").get_data(as_text=True)
    assert "Minden felhasználó tokenjei" in page and "annas" in page
    answer = admin.post("/tokens", {"name": "for bela", "scopes": ["read"], "expires": "", "username": "bela"})
    assert answer.status_code == 201
    found = api_tokens.check(runtime.db, _secret(answer.get_data(as_text=True)))
    assert found.actor.username == "bela" and found.actor.role_codes == {users.CASEWORKER}
    answer = admin.post("/tokens", {"name": "x", "scopes": ["read"], "expires": "", "username": "nobody"})
    assert answer.status_code == 404 and "Nincs ilyen aktív felhasználó." in answer.get_data(as_text=True)
    page = admin.get("/tokens").get_data(as_text=True)
    assert "for bela" in page and "(admin)" in page  # issued by the administrator, for bela
