"""A data key destroyed by an erasure is unusable in every process at once, not only in the one that erased: a
process that unwrapped the key earlier and keeps it cached checks, in each transaction that uses it, that the key
still exists unshredded (engine/store/keys.py, ``_still_live``). Two processes on the same database, SQLite and
PostgreSQL."""
from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.errors import KeyUnavailable
from engine.privacy import retention
from engine.store import clock, keys
from engine.store.db import Database
from engine.store.models import Case

from .test_retention import FIVE_YEARS, _intake, dpo  # noqa: F401 (a fixture)

# The other process: opens the sealed value, waits for a line on its input, opens it again; prints each outcome.
OTHER = """
import base64, sys
from engine.errors import KeyUnavailable
from engine.store import keys
from engine.store.db import Database

db, value = Database(sys.argv[1]), base64.b64decode(sys.argv[2])

def attempt():
    with db.reading() as session:
        try:
            keys.open_sealed(session, value, keys.STATE)
            return "opened"
        except KeyUnavailable as e:
            return "refused: " + e.message

print(attempt(), flush=True)
sys.stdin.readline()
print(attempt(), flush=True)
"""


def test_a_key_shredded_here_no_longer_opens_in_another_process_that_held_it(runtime, people, dpo):  # noqa: F811
    code, case_id = _intake(runtime, people)
    with runtime.db.reading() as session:
        sealed = bytes(session.execute(select(Case.state).where(Case.id == case_id)).scalar_one())
    assert keys.is_sealed(sealed)
    other = subprocess.Popen([sys.executable, "-c", OTHER, runtime.db.url, base64.b64encode(sealed).decode()],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert other.stdout.readline().strip() == "opened"  # it holds the key now, unwrapped and cached
        clock.freeze(clock.now() + FIVE_YEARS)
        assert retention.erase_for_client(runtime, dpo, code, dry_run=False)["erased"][0]["key_destroyed"]
        other.stdin.write("\n")
        other.stdin.flush()
        answer = other.stdout.readline().strip()
    finally:
        other.stdin.close()
        other.wait(timeout=60)
    assert answer.startswith("refused:") and "destroyed" in answer, answer


def test_a_second_database_object_holding_the_key_refuses_it_after_the_erasure(runtime, people, dpo):  # noqa: F811
    """The same in one process, through a second Database on the same database: the key cached by the first
    use is checked again in the next transaction."""
    code, case_id = _intake(runtime, people)
    second = Database(runtime.db.url)
    with second.reading() as session:
        sealed = bytes(session.execute(select(Case.state).where(Case.id == case_id)).scalar_one())
        assert keys.open_sealed(session, sealed, keys.STATE)  # unwrapped and cached
        key_id = keys.key_of(sealed)
    held = keys._data[key_id]
    clock.freeze(clock.now() + FIVE_YEARS)
    retention.erase_for_client(runtime, dpo, code, dry_run=False)
    keys._data[key_id] = held  # the erasure forgot it here; a process that did not erase still holds it
    with second.reading() as session, pytest.raises(KeyUnavailable, match="destroyed"):
        keys.open_sealed(session, sealed, keys.STATE)
    assert key_id not in keys._data  # forgotten once found destroyed


def test_holding_many_keys_at_once_leaves_out_one_shredded_elsewhere(runtime, people, dpo):  # noqa: F811
    """``keys.hold`` (a report about to open many values) checks the keys it already holds as well."""
    code, case_id = _intake(runtime, people)
    _other, live_case = _intake(runtime, people, 1)
    with runtime.db.reading() as session:
        sealed, live_sealed = (bytes(session.execute(select(Case.state).where(Case.id == i)).scalar_one())
                               for i in (case_id, live_case))
        assert keys.open_sealed(session, sealed, keys.STATE) and keys.open_sealed(session, live_sealed, keys.STATE)
    key_id, held = keys.key_of(sealed), keys._data[keys.key_of(sealed)]
    clock.freeze(clock.now() + FIVE_YEARS)
    retention.erase_for_client(runtime, dpo, code, dry_run=False)
    keys._data[key_id] = held  # as a process that did not erase still holds it
    with runtime.db.reading() as session:
        assert keys.hold(session, [key_id, keys.key_of(live_sealed)]) == 0  # both were held: none unwrapped
        assert key_id not in keys._data
        assert keys.open_sealed(session, live_sealed, keys.STATE)
        with pytest.raises(KeyUnavailable, match="destroyed"):
            keys.open_sealed(session, sealed, keys.STATE)


def test_holding_again_after_the_master_keys_were_reloaded_unwraps_in_one_go(runtime, people):
    """Keys found live earlier in the transaction but no longer held (the master keys reloaded meanwhile, as a
    rotation does) are unwrapped again by ``keys.hold``, not one statement per key as each value is opened."""
    case_ids = [_intake(runtime, people, n)[1] for n in range(3)]
    with runtime.db.reading() as session:
        sealed = [bytes(session.execute(select(Case.state).where(Case.id == i)).scalar_one()) for i in case_ids]
        key_ids = [keys.key_of(s) for s in sealed]
        keys.hold(session, key_ids)
        keys.reload_master_keys()  # forgets every unwrapped key; the transaction still knows them as live
        assert keys.hold(session, key_ids) == len(set(key_ids))
        assert all(keys.open_sealed(session, s, keys.STATE) for s in sealed)
