"""Migration 0033: every intact case chain re-hashed over its payloads' digests (so a payload can later be erased),
a broken chain left as it was (still reported); the append-only guard lets through only a tombstone; on SQLite
and PostgreSQL, and back down."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.audit import audit_verify
from engine.store import audit, migrate

from .test_report_entry_periods_migration import url  # noqa: F401 - the fixture: a new database per backend

AT = dt.datetime(2026, 2, 14, 10, tzinfo=dt.timezone.utc)


def _chain(case_id: int, payloads: list[dict]) -> tuple[list[dict], str]:
    """Events hashed as before migration 0033 (the payload inside the hash)."""
    rows, prev = [], ""
    for seq, payload in enumerate(payloads, start=1):
        digest = audit.event_hash(prev, seq, AT, "anna", "task_completed", case_id, None, payload)
        rows.append(dict(occurred_at=AT, actor="anna", kind="task_completed", case_id=case_id, task_id=None,
                         seq=seq, payload=payload, prev_hash=prev, hash=digest))
        prev = digest
    return rows, prev


def test_intact_chains_are_rehashed_over_digests_and_broken_ones_left_to_be_reported(url):  # noqa: F811
    config = migrate.alembic_config(url)
    command.upgrade(config, "0032_package_drafts")
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    with engine.begin() as c:
        meta.reflect(c, only=["process_definitions", "cases", "audit_events"])
        t = meta.tables
        c.execute(t["process_definitions"].insert().values(
            id=1, process_key="intake", version=1, name="I", content_hash="h", bpmn_xml="<x/>", spec_json="{}",
            forms={}, task_catalogue={}, deployed_at=AT, deployed_by="test"))
        intact, intact_head = _chain(7, [{"after": {"family_name": "Kovács"}}, {"after": {"phone": "+36"}}, {}])
        broken, broken_head = _chain(8, [{"after": {"family_name": "Szabó"}}, {"after": {"x": 1}}])
        broken[0]["payload"] = {"after": {"family_name": "Szabo"}}  # edited after it was hashed
        for case_id, head, n in ((7, intact_head, 3), (8, broken_head, 2)):
            c.execute(t["cases"].insert().values(id=case_id, definition_id=1, process_key="intake",
                                                 status="completed", state=b"{}", lock_version=1, started_at=AT,
                                                 started_by="test", audit_head=head, audit_seq=n))
        c.execute(t["audit_events"].insert(), intact + broken)

    command.upgrade(config, "head")
    with Session(engine) as session:
        result = audit_verify.verify(session)
    assert [(p["chain"], p["kind"], p["position"]) for p in result["problems"]] == [("case 8", "edited", 1)]
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT case_id, seq, payload_digest, hash FROM audit_events ORDER BY id")).all()
        head = c.execute(sa.text("SELECT audit_head FROM cases WHERE id = 7")).scalar()
    assert all(r.payload_digest for r in rows if r.case_id == 7)
    assert not any(r.payload_digest for r in rows if r.case_id == 8)
    assert head == [r.hash for r in rows if r.case_id == 7][-1] != intact_head

    # The guard: a tombstone in place of a payload passes (the erasure's one change), anything else does not.
    first = [r for r in rows if r.case_id == 7][0]
    with engine.begin() as c:
        c.execute(sa.text("UPDATE audit_events SET payload = :p WHERE case_id = 7 AND seq = 1"),
                  {"p": '{"erased_by": 4}'})
    for sql, params in (("UPDATE audit_events SET actor = 'mallory' WHERE case_id = 7 AND seq = 2", {}),
                        ("UPDATE audit_events SET payload = :p WHERE case_id = 7 AND seq = 2",
                         {"p": '{"erased_by": 4, "x": 1}'}),
                        ("UPDATE audit_events SET payload = :p WHERE case_id = 8 AND seq = 2",
                         {"p": '{"erased_by": 4}'}),  # no digest: its hash covers the payload
                        ("DELETE FROM audit_events WHERE case_id = 7 AND seq = 3", {})):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(sa.text(sql), params)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT hash FROM audit_events WHERE case_id = 7 AND seq = 1")).scalar() == first.hash

    command.downgrade(config, "0032_package_drafts")
    with engine.connect() as c:
        assert "payload_digest" not in {col["name"] for col in sa.inspect(c).get_columns("audit_events")}
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
        c.execute(sa.text("UPDATE audit_events SET payload = :p WHERE case_id = 7 AND seq = 2"),
                  {"p": '{"erased_by": 4}'})
    engine.dispose()
