"""Personal data sealed at rest (engine/store/keys.py): not in the database's bytes, readable with the master key,
re-wrapped by a rotation, unreadable once erased (crypto-shredding) while the audit chain still verifies."""
from __future__ import annotations

import base64
import json
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from engine.audit import audit_verify
from engine.cases import cases, clients, tasks
from engine.errors import KeyUnavailable
from engine.people import users
from engine.privacy import export, retention
from engine.runtime.runtime import Runtime
from engine.store import clock, keys
from engine.store.db import Database
from engine.store.models import Case, Client, DataKey
from tests import demo_data
from tests.integration.web_client import browser, make_app

from .test_retention import FIVE_YEARS

# Not the demo data: the packages' demo scripts (stored with each package version) hold that in clear.
PERSON = {**demo_data.intake_data(0), "family_name": "Zöldkalapos", "given_name": "Ilona",
          "mother_name": "Ezüstfenyő Borbála", "birth_date": "1961-07-23", "phone": "+36 70 999 8837",
          "intake_problem": "Titkos gond 8837: a lakás fűtése megoldatlan."}
SECRETS = [PERSON["family_name"], PERSON["mother_name"], PERSON["intake_problem"], PERSON["phone"],
           PERSON["birth_date"]]


def _register(runtime, caseworker, data: dict) -> str:
    started = cases.start_case(runtime, "intake", caseworker)
    tasks.complete(runtime, demo_data._next(runtime, caseworker, started["case_id"]), data, caseworker)
    return cases.get_case(runtime, started["case_id"], caseworker, with_data=False)["client"]["client_code"]


def _raw_text(runtime) -> str:
    """Everything the database holds as text, as `strings` on it would see it: the SQLite file with its log, or
    every row of every table of PostgreSQL."""
    if runtime.db.url.startswith("sqlite"):
        path = Path(runtime.db.url[len("sqlite:///"):])
        runtime.db.close()
        raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        return raw.decode("utf-8", errors="replace")
    with runtime.db.reading() as session:
        names = inspect(session.connection()).get_table_names()
        return "\n".join(str(row) for name in names for row in session.execute(text(f'SELECT t::text FROM "{name}" t')))


def _rows_but_clients(runtime) -> str:
    with runtime.db.reading() as session:
        names = [n for n in inspect(session.connection()).get_table_names() if n != "clients"]
        return "\n".join(repr(tuple(row)) for n in names for row in session.execute(text(f'SELECT * FROM "{n}"')))


@pytest.fixture
def master_keys(monkeypatch):
    """Set the master keys for the rest of the test (and forget every unwrapped key); restored after it."""
    def use(value: str) -> None:
        monkeypatch.setenv(keys.ENV_KEYS, value)
        keys.reload_master_keys()

    yield use
    monkeypatch.undo()
    keys.reload_master_keys()


def _key(byte: int) -> str:
    return base64.urlsafe_b64encode(bytes([byte]) * 32).decode().rstrip("=")


def test_names_birth_date_and_problem_are_not_in_the_database_bytes(runtime, people):
    code = _register(runtime, people.anna, PERSON)
    demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.3")
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert clients.identity(session, client)["mother_name"] == PERSON["mother_name"]  # readable with the key
    raw = _raw_text(runtime)
    assert code in raw  # the pseudonymous code stays in clear: the search below would find a name
    for secret in SECRETS:
        assert secret not in raw, f"{secret!r} lies in the database in clear"


def test_a_rotation_rewraps_every_data_key_and_the_old_master_key_can_go(runtime, people, master_keys):
    code = demo_data.run_intake(runtime, people.anna, 1)
    old = os.environ[keys.ENV_KEYS]
    master_keys(f"mk-new:{_key(7)},{old}")
    with runtime.db.reading() as session:
        before = keys.status(session)
    assert before["active"] == "mk-new" and before["rotation_pending"] > 0 and not before["problems"]
    with runtime.db.unit_of_work() as session:
        done = keys.rotate(session)
    assert done["rewrapped"] == before["rotation_pending"]
    master_keys(f"mk-new:{_key(7)}")  # the old key removed: everything still opens
    fresh = Runtime(Database(runtime.db.url))
    found = cases.get_case(fresh, _case_of(fresh, code), people.anna)
    assert found["client"]["family_name"] == demo_data.intake_data(1)["family_name"]
    with fresh.db.reading() as session:
        after = keys.status(session)
        assert {m["id"] for m in after["master_keys"]} == {"mk-new"} and after["rotation_pending"] == 0
        assert set(session.execute(select(DataKey.master_key_id)).scalars()) == {"mk-new"}


def _case_of(runtime, code: str) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(Case.id).join(Client, Client.id == Case.client_id)
                               .where(Client.client_code == code)).scalars().first()


def test_a_wrong_or_missing_master_key_is_a_clear_error_not_a_stack_trace(runtime, people, master_keys):
    code = demo_data.run_intake(runtime, people.anna, 2)
    case_id = _case_of(runtime, code)
    master_keys(f"test-master-1:{_key(9)}")  # the right id, the wrong key
    fresh = Runtime(Database(runtime.db.url))
    with pytest.raises(KeyUnavailable, match="is not the one that wrapped"):
        cases.get_case(fresh, case_id, people.anna)
    page = browser(make_app(fresh), "anna").get(f"/cases/{case_id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 503 and "Traceback" not in body and "SEGITO_MASTER_KEYS" in body
    master_keys(f"someone-else:{_key(9)}")  # a key file that lacks the key
    with pytest.raises(KeyUnavailable, match="'test-master-1', which is not configured"):
        cases.get_case(Runtime(Database(runtime.db.url)), case_id, people.anna)


def test_erasure_destroys_the_case_and_client_keys_and_the_audit_still_verifies(runtime, people):
    code = _register(runtime, people.anna, PERSON)
    case_id = _case_of(runtime, code)
    with runtime.db.reading() as session:
        case = session.get(Case, case_id)
        sealed_state, case_key = case.state, case.data_key_id
        client_key = session.execute(select(Client.data_key_id).where(Client.client_code == code)).scalar_one()
    assert keys.is_sealed(sealed_state)
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "dpo", "DPO", [users.DATA_PROTECTION_OFFICER], None, "test", clock.now())
        dpo = users.actor(session, "dpo")
    clock.freeze(clock.now() + FIVE_YEARS)
    done = retention.erase_for_client(runtime, dpo, code, dry_run=False)
    assert [c["case_id"] for c in done["erased"]] == [case_id] and done["erased"][0]["key_destroyed"]
    with runtime.db.reading() as session:
        rows = {k.id: k for k in session.execute(select(DataKey).where(DataKey.id.in_([case_key, client_key])))
                .scalars()}
        assert all(r.wrapped is None and r.destroyed_at is not None for r in rows.values()) and len(rows) == 2
        # A copy taken before the erasure (a backup, say) no longer opens anywhere.
        keys.reload_master_keys()
        with pytest.raises(KeyUnavailable, match="destroyed"):
            keys.open_sealed(session, sealed_state, keys.STATE)
        assert audit_verify.verify(session)["ok"]
    found = export.collect(runtime, dpo, code)
    assert found["client"]["family_name"] is None and found["cases"][0]["erased_at"]
    assert PERSON["family_name"] not in json.dumps(found, ensure_ascii=False)


def test_the_embedded_default_makes_its_key_file_owner_only_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(keys.ENV_KEYS, raising=False)
    monkeypatch.delenv(keys.ENV_FILE, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(keys, "DEFAULT_KEY_FILE", tmp_path / "instance" / "segito.key")
    keys.reload_master_keys()
    try:
        with caplog.at_level("WARNING"):
            master = keys.master_keys()
        path = tmp_path / "instance" / "segito.key"
        assert path.stat().st_mode & 0o777 == 0o600 and master.source == str(path)
        assert "Generated the master key file" in caplog.text and master.active in path.read_text()
        monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")  # a configured server never makes one up
        monkeypatch.setattr(keys, "DEFAULT_KEY_FILE", tmp_path / "missing.key")
        keys.reload_master_keys()
        with pytest.raises(KeyUnavailable, match="segito keys new"):
            keys.master_keys()
    finally:
        monkeypatch.undo()
        keys.reload_master_keys()


def test_the_migration_seals_what_was_written_in_clear(runtime, people):
    """Down to 0034 (everything opened again, keys dropped), then up: the rows are sealed under new keys."""
    from alembic import command

    from engine.store import migrate

    code = _register(runtime, people.anna, PERSON)
    runtime.db.close()
    command.downgrade(migrate.alembic_config(runtime.db.url), "0034_consents")
    if runtime.db.url.startswith("sqlite"):
        path = runtime.db.url[len("sqlite:///"):]
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert conn.execute("SELECT family_name FROM clients WHERE client_code = ?", (code,)).fetchone()[0] \
                == PERSON["family_name"]
    command.upgrade(migrate.alembic_config(runtime.db.url), "head")
    fresh = Runtime(Database(runtime.db.url))
    with fresh.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        assert client.family_name.startswith(keys.TEXT_PREFIX) and client.data_key_id
        assert clients.identity(session, client)["family_name"] == PERSON["family_name"]
        assert audit_verify.verify(session)["ok"]
    found = cases.get_case(fresh, _case_of(fresh, code), people.anna)
    assert found["client"]["family_name"] == PERSON["family_name"]
    # In the rows; the SQLite file's free pages may still hold the old text until VACUUM (docs/operations.md).
    assert PERSON["intake_problem"] not in _rows_but_clients(fresh)


def test_the_keys_commands_make_a_key_rewrap_under_it_and_report(runtime, people, database_url, tmp_path,
                                                                 master_keys):
    """`segito keys new` on a key file that holds the old key, `rotate`, `status`: as an operator rotates."""
    from tests.integration.test_cli import Segito

    code = _register(runtime, people.anna, PERSON)
    key_file = tmp_path / "segito.key"
    key_file.write_text(f"test-master-1 {os.environ[keys.ENV_KEYS].split(':', 1)[1]}\n")
    master_keys("")  # from the key file from now on
    segito = Segito(database_url)
    env = {keys.ENV_FILE: str(key_file), keys.ENV_KEYS: None}
    made = segito.ok("keys", "new", env=env)
    assert key_file.stat().st_mode & 0o777 == 0o600
    lines = [line for line in key_file.read_text().splitlines() if not line.startswith("#")]
    assert [line.split()[0] for line in lines] == [made["master_key"], "test-master-1"]  # new first, old kept
    assert segito.ok("keys", "rotate", env=env)["rewrapped"] >= 2  # the intake's case key and the client's
    status = segito.ok("keys", "status", env=env)
    assert status["active"] == made["master_key"] and status["rotation_pending"] == 0 and not status["problems"]
    # The old key can go: the register still opens with the new one alone.
    key_file.write_text(next(line for line in key_file.read_text().splitlines()
                             if line.startswith(made["master_key"])) + "\n")
    keys.reload_master_keys()
    monkey_env = {keys.ENV_FILE: str(key_file)}
    os.environ.update(monkey_env)
    try:
        with runtime.db.reading() as session:
            client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
            assert clients.identity(session, client)["family_name"] == PERSON["family_name"]
    finally:
        del os.environ[keys.ENV_FILE]
