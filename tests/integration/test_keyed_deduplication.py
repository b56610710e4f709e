"""The client register's deduplication key is keyed (engine/store/keys.py, ``register_secret``): the database
alone does not confirm a guessed identity, a returning client is still recognised, and a master key rotation
leaves the keys valid."""
from __future__ import annotations

import hashlib
import os

from alembic import command
from sqlalchemy import select

from engine.cases import clients
from engine.runtime.runtime import Runtime
from engine.store import keys, migrate
from engine.store.db import Database
from engine.store.models import Client, DataKey

from .test_sealed_personal_data import PERSON, _key, _register, master_keys  # noqa: F401 (a fixture)


def _plain_sha256(person: dict) -> str:
    parts = [clients._fold(person["family_name"]), clients._fold(person["given_name"]), person["birth_date"],
             clients._fold(person["mother_name"])]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def _stored_key(runtime, code: str) -> str:
    with runtime.db.reading() as session:
        return session.execute(select(Client.dedup_key).where(Client.client_code == code)).scalar_one()


def test_the_stored_key_is_not_the_plain_hash_and_a_returning_client_is_found(runtime, people):
    code = _register(runtime, people.anna, PERSON)
    stored = _stored_key(runtime, code)
    assert len(stored) == 64 and stored != _plain_sha256(PERSON)
    with runtime.db.reading() as session:
        assert session.get(DataKey, keys.REGISTER_KEY_ID).owner == "register"  # wrapped, in the database
        assert clients.dedup_key(session, PERSON["family_name"], PERSON["given_name"], PERSON["birth_date"],
                                 PERSON["mother_name"]) == stored
    # Spelt differently (case, accents, spacing): the same person, the same code.
    again = PERSON | {"family_name": "  zoldkalapos ", "mother_name": "EZÜSTFENYŐ  Borbala"}
    assert _register(runtime, people.anna, again) == code
    assert _register(runtime, people.anna, PERSON | {"birth_date": "1961-07-24"}) != code


def test_a_rotation_keeps_returning_clients_recognised(runtime, people, master_keys):  # noqa: F811
    code = _register(runtime, people.anna, PERSON)
    stored = _stored_key(runtime, code)
    old = os.environ[keys.ENV_KEYS]
    master_keys(f"mk-dedup:{_key(5)},{old}")
    with runtime.db.unit_of_work() as session:
        keys.rotate(session)
    master_keys(f"mk-dedup:{_key(5)}")  # the old master key gone
    fresh = Runtime(Database(runtime.db.url))
    with fresh.db.reading() as session:
        assert session.get(DataKey, keys.REGISTER_KEY_ID).master_key_id == "mk-dedup"
    assert _register(fresh, people.anna, PERSON) == code
    assert _stored_key(fresh, code) == stored


def test_the_migration_recomputes_the_plain_hashes_as_keyed_ones(runtime, people):
    code = _register(runtime, people.anna, PERSON)
    runtime.db.close()
    command.downgrade(migrate.alembic_config(runtime.db.url), "0035_sealed_personal_data")
    assert _stored_key(Runtime(Database(runtime.db.url)), code) == _plain_sha256(PERSON)
    command.upgrade(migrate.alembic_config(runtime.db.url), "head")
    fresh = Runtime(Database(runtime.db.url))
    recomputed = _stored_key(fresh, code)
    assert recomputed != _plain_sha256(PERSON)
    with fresh.db.reading() as session:  # what a registration computes now
        assert clients.dedup_key(session, PERSON["family_name"], PERSON["given_name"], PERSON["birth_date"],
                                 PERSON["mother_name"]) == recomputed
    assert _register(fresh, people.anna, PERSON) == code
