"""After a rectification or an erasure the old value is nowhere in the database: on SQLite not in the file's free
space (``secure_delete``) nor in the write-ahead log (cut by a TRUNCATE checkpoint after the command;
engine/store/db.py ``scrub_log``); on PostgreSQL in no live row (dead row versions stay until VACUUM, which the
operator runs: docs/operations.md, "A person's request"). Searched as the stored bytes — the sealed value, the
wrapped data key — since the plain text is never written in the first place (test_sealed_personal_data.py)."""
from __future__ import annotations

import base64
from pathlib import Path

from sqlalchemy import inspect, select, text

from engine.privacy import rectify, retention
from engine.store import clock
from engine.store.models import Case, Client, DataKey, Intake

from .test_retention import FIVE_YEARS, dpo  # noqa: F401 (a fixture)
from .test_sealed_personal_data import PERSON, _register


def _stored_bytes(runtime) -> bytes:
    """What lies on disk (the SQLite file and its log, read while the database stays open) or, on PostgreSQL,
    every live row of every table."""
    if runtime.db.url.startswith("sqlite"):
        path = Path(runtime.db.url[len("sqlite:///"):])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with runtime.db.reading() as session:
        names = inspect(session.connection()).get_table_names()
        return "\n".join(str(row) for name in names
                         for row in session.execute(text(f'SELECT t::text FROM "{name}" t'))).encode()


def _forms(value: bytes | str) -> list[bytes]:
    """A stored value as it can lie on disk or in a row's text: as is, its sealed part decoded, in hex (bytea)."""
    raw = value.encode() if isinstance(value, str) else bytes(value)
    found = [raw[:48]]
    if raw.startswith(b"sg1:"):
        found.append(base64.b64decode(raw[4:])[:48])
    found.append(raw[:48].hex().encode())
    return found


def _absent(runtime, values, what: str) -> None:
    stored = _stored_bytes(runtime)
    for value in values:
        for form in _forms(value):
            assert form not in stored, f"{what} still lies in the database: {form[:24]!r}"


def test_a_rectified_value_is_gone_from_the_file_and_its_log(runtime, people, dpo):  # noqa: F811
    code = _register(runtime, people.anna, PERSON)
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        old_name, old_mother = client.family_name, client.mother_name
    if runtime.db.url.startswith("sqlite"):
        assert all(_forms(v)[0] in _stored_bytes(runtime) for v in (old_name, old_mother))  # the search finds it
    rectify.correct_client(runtime, dpo, code, {"family_name": "Zöldkalapos-Nagyobbnevű",
                                                "mother_name": "Ezüst Bori"}, "ID card")
    _absent(runtime, [old_name, old_mother], "the rectified value")


def test_an_erased_case_and_client_leave_no_old_bytes(runtime, people, dpo):  # noqa: F811
    code = _register(runtime, people.anna, PERSON)
    with runtime.db.reading() as session:
        client = session.execute(select(Client).where(Client.client_code == code)).scalar_one()
        case_id, problem = session.execute(select(Intake.case_id, Intake.problem)
                                           .where(Intake.client_id == client.id)).one()
        case = session.get(Case, case_id)
        wrapped = [session.get(DataKey, k).wrapped for k in (case.data_key_id, client.data_key_id)]
        old = [client.family_name, client.mother_name, problem, *wrapped]
    if runtime.db.url.startswith("sqlite"):
        assert all(_forms(v)[0] in _stored_bytes(runtime) for v in old)  # the search finds what is stored
    clock.freeze(clock.now() + FIVE_YEARS)
    done = retention.erase_for_client(runtime, dpo, code, dry_run=False)
    assert done["erased"] and done["identity"]
    _absent(runtime, old, "an erased value or key")
