"""API tokens (engine/people/api_tokens.py) in the engine and on the JSON API, on SQLite and PostgreSQL: issued,
listed and revoked by their user or an administrator (each an audit event), kept only as a hash, scoped, never
more than the user's roles; a revoked, expired or unknown token is a 401 naming why, a scope too small a 403
naming the scope; HTTP Basic keeps working."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from engine.errors import Forbidden, NotFound, SegitoError
from engine.people import api_tokens, users
from engine.store import audit, clock
from engine.store.models import ApiToken, AuditEvent
from tests import demo_data

from .test_api import conforms, creds
from .web_client import make_app

ADMIN_PW = "pw-admin-long"


@pytest.fixture
def admin(runtime, people):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "admin", "Admin", [users.ADMINISTRATOR], ADMIN_PW, "test", clock.now())
    with runtime.db.reading() as session:
        return users.actor(session, "admin")


def issue(runtime, actor, name="script", scopes=("read", "work"), username=None, expires_at=None):
    with runtime.db.unit_of_work() as session:
        return api_tokens.issue(session, actor, name, list(scopes), clock.now(), expires_at=expires_at,
                                username=username)


def events(runtime, kind):
    with runtime.db.reading() as session:
        return [(e.actor, e.payload) for e in session.execute(
            select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)).scalars()]


# --------------------------------------------------------------------------------------------- the engine
def test_a_token_is_kept_only_as_its_hash_and_issuing_is_an_audit_event(runtime, people):
    described, secret = issue(runtime, people.anna, name="  reporting  ")
    assert secret.startswith("sgt_") and len(secret) >= 4 + 43  # 256 random bits, URL-safe
    assert described["name"] == "reporting" and described["scopes"] == ["read", "work"]
    assert described["status"] == "active" and described["username"] == "anna" and described["created_by"] == "anna"
    with runtime.db.reading() as session:
        row = session.execute(select(ApiToken)).scalar_one()
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in value or secret[4:] in value for value in stored)
    [(actor, payload)] = events(runtime, audit.API_TOKEN_ISSUED)
    assert actor == "anna" and payload["username"] == "anna" and payload["token"] == described["id"]
    assert payload["scopes"] == ["read", "work"] and secret not in str(payload)


def test_lookup_gives_the_user_with_her_current_roles_and_the_scopes(runtime, people):
    _, secret = issue(runtime, people.anna, scopes=["read"])
    found = api_tokens.check(runtime.db, secret)
    assert found.status == api_tokens.ACTIVE and found.actor == people.anna and found.scopes == {"read"}
    with runtime.db.unit_of_work() as session:  # a role taken away is gone for the token at once
        users.update_user(session, people.anna.id, "test", clock.now(), roles=[users.MANAGER])
    assert api_tokens.check(runtime.db, secret).actor.role_codes == {users.MANAGER}
    for bad in ("", "sgt_", "sgt_" + "x" * 43, secret[:-1], "Basic abc", "sgt_" + "y" * 500):
        assert api_tokens.check(runtime.db, bad).status == api_tokens.UNKNOWN


def test_last_use_is_written_at_most_once_a_minute(runtime, people):
    _, secret = issue(runtime, people.anna)
    start = clock.now()
    api_tokens.check(runtime.db, secret)
    clock.freeze(start + dt.timedelta(seconds=30))
    api_tokens.check(runtime.db, secret)
    with runtime.db.reading() as session:
        assert session.execute(select(ApiToken.last_used_at)).scalar_one() == start
    clock.freeze(start + dt.timedelta(seconds=61))
    api_tokens.check(runtime.db, secret)
    with runtime.db.reading() as session:
        assert session.execute(select(ApiToken.last_used_at)).scalar_one() == start + dt.timedelta(seconds=61)


def test_expiry_and_revocation_end_a_token_at_once(runtime, people):
    described, secret = issue(runtime, people.anna, expires_at=clock.now() + dt.timedelta(days=1))
    assert api_tokens.check(runtime.db, secret).status == api_tokens.ACTIVE
    clock.freeze(clock.now() + dt.timedelta(days=1))
    assert api_tokens.check(runtime.db, secret).status == api_tokens.EXPIRED
    _, other = issue(runtime, people.anna, name="second")
    with runtime.db.unit_of_work() as session:
        second = api_tokens.list_tokens(session, people.anna, clock.now())[0]
        assert second["name"] == "second"
        revoked = api_tokens.revoke(session, people.anna, second["id"], clock.now())
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == "anna"
    assert api_tokens.check(runtime.db, other).status == api_tokens.REVOKED
    with runtime.db.unit_of_work() as session:  # revoking again changes nothing and records nothing
        api_tokens.revoke(session, people.anna, second["id"], clock.now())
    assert len(events(runtime, audit.API_TOKEN_REVOKED)) == 1
    with runtime.db.unit_of_work() as session:
        listed = {t["name"]: t["status"] for t in api_tokens.list_tokens(session, people.anna, clock.now())}
    assert listed == {"script": "expired", "second": "revoked"} and described["id"] != second["id"]
    assert [p["username"] for _, p in events(runtime, audit.API_TOKENS_LISTED)] == ["anna", "anna"]


def test_bad_requests_name_the_field(runtime, people):
    for kwargs, field in [({"name": " "}, "name"), ({"name": "x" * 101}, "name"), ({"scopes": []}, "scopes"),
                          ({"scopes": ["read", "write"]}, "scopes"),
                          ({"expires_at": clock.now()}, "expires_at"),
                          ({"scopes": ["admin"]}, "scopes")]:  # a caseworker's roles could not use it
        with pytest.raises(SegitoError) as e:
            issue(runtime, people.anna, **kwargs)
        assert e.value.details[0]["field"] == field, kwargs
    issue(runtime, people.dora, scopes=["admin"])  # a designer's can deploy


def test_users_manage_their_own_tokens_and_an_administrator_everyones(runtime, people, admin):
    anna_token, _ = issue(runtime, people.anna)
    with pytest.raises(Forbidden):
        issue(runtime, people.bela, username="anna")
    with runtime.db.unit_of_work() as session, pytest.raises(NotFound):
        api_tokens.revoke(session, people.bela, anna_token["id"], clock.now())
    with runtime.db.unit_of_work() as session, pytest.raises(Forbidden):
        api_tokens.list_tokens(session, people.bela, clock.now(), username="anna")
    with runtime.db.unit_of_work() as session, pytest.raises(Forbidden):
        api_tokens.list_tokens(session, people.bela, clock.now(), everyone=True)
    for_bela, secret = issue(runtime, admin, username="bela", scopes=["read"])
    assert for_bela["username"] == "bela" and for_bela["created_by"] == "admin"
    # The token acts as bela, with bela's roles, not the administrator's who issued it.
    assert api_tokens.check(runtime.db, secret).actor.role_codes == {users.CASEWORKER}
    with pytest.raises(SegitoError):  # admin scope follows the token's user's roles, not the issuer's
        issue(runtime, admin, username="bela", scopes=["admin"])
    with runtime.db.unit_of_work() as session:
        every = api_tokens.list_tokens(session, admin, clock.now(), everyone=True)
        api_tokens.revoke(session, admin, anna_token["id"], clock.now())
    assert {t["username"] for t in every} == {"anna", "bela"}
    [(actor, payload)] = events(runtime, audit.API_TOKEN_REVOKED)
    assert actor == "admin" and payload["username"] == "anna"
    with pytest.raises(NotFound):
        issue(runtime, admin, username="nobody")


def test_deactivating_a_user_revokes_her_tokens_for_good(runtime, people, admin):
    _, secret = issue(runtime, people.anna)
    with runtime.db.unit_of_work() as session:
        users.update_user(session, people.anna.id, "admin", clock.now(), active=False)
    with runtime.db.unit_of_work() as session:
        users.update_user(session, people.anna.id, "admin", clock.now(), active=True)
    assert api_tokens.check(runtime.db, secret).status == api_tokens.REVOKED
    [(actor, payload)] = events(runtime, audit.API_TOKENS_REVOKED)
    assert actor == "admin" and payload["username"] == "anna" and len(payload["tokens"]) == 1


# --------------------------------------------------------------------------------------------- the API
@pytest.fixture
def client(runtime, people):
    return make_app(runtime).test_client()


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_works_on_the_api_like_a_password_in_its_scopes(runtime, people, client):
    _, secret = issue(runtime, people.anna, scopes=["read", "work"])
    started = client.post("/api/cases", json={"process_key": "intake"}, headers=bearer(secret))
    case_id = conforms(started, "/api/cases", "post")["case_id"]
    inbox = conforms(client.get("/api/inbox", headers=bearer(secret)), "/api/inbox", "get")
    [task] = [t for t in inbox["items"] if t["case_id"] == case_id]
    done = client.post(f"/api/tasks/{task['task_id']}/complete", json={"data": demo_data.intake_data(0)},
                       headers=bearer(secret))
    assert conforms(done, "/api/tasks/{task_id}/complete", "post")["case_status"] == "completed"
    # The commands are the user's own, as with her password.
    with runtime.db.reading() as session:
        actors = set(session.execute(select(AuditEvent.actor).where(AuditEvent.case_id == case_id)).scalars())
    assert actors == {"anna"}
    # HTTP Basic keeps working beside tokens.
    assert client.get("/api/inbox", auth=creds("anna")).status_code == 200


def test_a_scope_too_small_is_a_403_naming_the_scope(runtime, people, client):
    _, read_only = issue(runtime, people.anna, scopes=["read"])
    assert client.get("/api/cases", headers=bearer(read_only)).status_code == 200
    refused = client.post("/api/cases", json={"process_key": "intake"}, headers=bearer(read_only))
    body = conforms(refused, "/api/cases", "post")
    assert refused.status_code == 403 and body["error"] == "insufficient_scope"
    assert body["details"][0]["scope"] == "work" and "'work'" in body["message"]
    assert 'scope="work"' in refused.headers["WWW-Authenticate"]
    _, work_only = issue(runtime, people.anna, scopes=["work"])
    refused = client.get("/api/inbox", headers=bearer(work_only))
    assert refused.status_code == 403 and conforms(refused, "/api/inbox", "get")["details"][0]["scope"] == "read"
    _, designer = issue(runtime, people.dora, scopes=["read", "work"])
    refused = client.post("/api/packages", headers=bearer(designer))
    assert refused.status_code == 403 and refused.get_json()["details"][0]["scope"] == "admin"
    with runtime.db.reading() as session:  # refusals are audited like any other
        denied = session.execute(select(AuditEvent.actor).where(AuditEvent.kind == audit.ACCESS_DENIED)).scalars()
        assert set(denied) == {"anna", "dora"}


def test_a_token_never_gives_more_than_the_roles(runtime, people, client):
    _, secret = issue(runtime, people.dora, scopes=["read", "work", "admin"])
    with runtime.db.unit_of_work() as session:  # the designer role taken away after the token was issued
        users.update_user(session, people.dora.id, "test", clock.now(), roles=[users.CASEWORKER])
    refused = client.post("/api/packages", headers=bearer(secret))
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    _, anna = issue(runtime, people.anna, scopes=["read"])
    assert client.get("/api/audit/verify", headers=bearer(anna)).status_code == 403  # a manager's, not hers


@pytest.mark.parametrize("what", ["revoked", "expired", "unknown"])
def test_a_revoked_expired_or_unknown_token_is_a_401_saying_which(runtime, people, client, what):
    described, secret = issue(runtime, people.anna, expires_at=clock.now() + dt.timedelta(hours=1))
    if what == "revoked":
        with runtime.db.unit_of_work() as session:
            api_tokens.revoke(session, people.anna, described["id"], clock.now())
    elif what == "expired":
        clock.freeze(clock.now() + dt.timedelta(hours=2))
    else:
        secret = secret[:-2] + "zz"
    refused = client.get("/api/inbox", headers=bearer(secret))
    body = conforms(refused, "/api/inbox", "get")
    assert refused.status_code == 401 and body["error"] == "invalid_token" and what in body["message"]
    assert body["details"] == [{"field": "Authorization", "message": what}]
    challenges = refused.headers.getlist("WWW-Authenticate")
    assert 'Bearer realm="Segito", error="invalid_token"' in challenges and any("Basic" in c for c in challenges)
    assert client.get("/api/inbox", headers={"Authorization": "Bearer"}).status_code == 401


# --------------------------------------------------------------------------------------------- the command line
def test_tokens_from_the_command_line(runtime, people, admin, database_url):
    from .test_cli import Segito

    segito = Segito(database_url)
    issued = segito.ok("token", "issue", "nightly export", "--scope", "read", "--scope", "work",
                       "--expires-in-days", "30", "--as", "anna")
    assert issued["token"].startswith("sgt_") and issued["scopes"] == ["read", "work"]
    assert issued["expires_at"] == (clock.now() + dt.timedelta(days=30)).isoformat()
    assert api_tokens.check(runtime.db, issued["token"]).actor.username == "anna"
    listed = segito.ok("token", "list", "--as", "anna")
    assert [t["name"] for t in listed] == ["nightly export"] and "token" not in listed[0]
    for_bela = segito.ok("token", "issue", "bela's", "--for", "bela", "--expires", "2026-12-31", "--as", "admin")
    assert for_bela["username"] == "bela" and for_bela["expires_at"].startswith("2026-12-31T23:59:59")
    assert {t["username"] for t in segito.ok("token", "list", "--all", "--as", "admin")} == {"anna", "bela"}
    refused = segito("token", "issue", "x", "--for", "anna", "--as", "bela")
    assert refused.exit_code == 2 and "administrator" in refused.stderr
    refused = segito("token", "revoke", str(issued["id"]), "--as", "bela")
    assert refused.exit_code == 2 and f"API token {issued['id']}" in refused.stderr
    assert segito.ok("token", "revoke", str(issued["id"]), "--as", "anna")["status"] == "revoked"
    assert api_tokens.check(runtime.db, issued["token"]).status == api_tokens.REVOKED
    refused = segito("token", "issue", "x", "--scope", "admin", "--as", "anna")
    assert refused.exit_code == 2 and "process_designer or administrator" in refused.stderr
