"""The audit log is append-only and tamper-evident: every kind of tampering is found with its position."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine import cli, cli_support
from engine.audit import audit_log, audit_verify
from engine.store import audit
from engine.store.models import AuditEvent, Case

from .helpers import new_family_case, through_agreement


def tamper(runtime, *statements, **params):
    """Run raw SQL on audit_events past the database's append-only guard, as an intruder with owner rights."""
    with runtime.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
            for sql in statements:
                conn.execute(text(sql), params)
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_events'")).all()
            for name, _sql in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            for sql in statements:
                conn.execute(text(sql), params)
            for _name, sql in triggers:
                conn.execute(text(sql))


def events_of(runtime, case_id):
    with runtime.db.reading() as session:
        return session.execute(select(AuditEvent).where(AuditEvent.case_id == case_id)
                               .order_by(AuditEvent.seq)).scalars().all()


def check(runtime, **kw):
    with runtime.db.reading() as session:
        return audit_verify.verify(session, **kw)


@pytest.fixture
def case_id(runtime, people):
    cid = new_family_case(runtime, people)
    through_agreement(runtime, people, cid)
    assert len(events_of(runtime, cid)) >= 6
    return cid


def kinds_at(result, case_id):
    return {(p["kind"], p["position"]) for p in result["problems"] if p["chain"] == f"case {case_id}"}


def test_an_untouched_log_verifies(runtime, case_id):
    result = check(runtime)
    assert result["ok"], result["problems"]
    assert result["cases_checked"] == 2 and result["streams_checked"] == 1
    with runtime.db.reading() as session:
        assert result["events_checked"] == session.execute(select(AuditEvent.id)).scalars().all().__len__()


def test_the_database_refuses_to_change_or_remove_an_event(runtime, case_id):
    """On PostgreSQL a trigger refuses UPDATE and DELETE whatever role the app uses; SQLite gets one too."""
    for sql in ("UPDATE audit_events SET actor = 'mallory' WHERE case_id = :c",
                "DELETE FROM audit_events WHERE case_id = :c"):
        with pytest.raises(DBAPIError, match="append-only"), runtime.db.engine.begin() as conn:
            conn.execute(text(sql), {"c": case_id})
    assert check(runtime)["ok"]


def test_an_edited_event_is_found_at_its_position(runtime, case_id):
    target = events_of(runtime, case_id)[2]
    tamper(runtime, "UPDATE audit_events SET actor = 'mallory' WHERE id = :i", i=target.id)
    result = check(runtime)
    assert not result["ok"]
    assert kinds_at(result, case_id) == {("edited", 3)}
    assert "position 3" in result["problems"][0]["message"]


def test_a_deleted_event_is_found(runtime, case_id):
    target = events_of(runtime, case_id)[1]
    tamper(runtime, "DELETE FROM audit_events WHERE id = :i", i=target.id)
    assert kinds_at(check(runtime), case_id) == {("deleted", 2)}


def test_reordered_events_are_found(runtime, case_id):
    second, third = events_of(runtime, case_id)[1:3]
    tamper(runtime, "UPDATE audit_events SET seq = 3 WHERE id = :a", "UPDATE audit_events SET seq = 2 WHERE id = :b",
           a=second.id, b=third.id)
    found = kinds_at(check(runtime), case_id)
    assert {k for k, _ in found} == {"reordered"}
    assert {p for _, p in found} == {2, 3}


def test_events_stored_out_of_order_are_found(runtime, case_id):
    """The rows swap everything but their ids: each hash and link holds, only the insertion order betrays it."""
    evs = events_of(runtime, case_id)
    a, b = evs[1], evs[2]
    cols = ["occurred_at", "actor", "kind", "task_id", "seq", "payload", "payload_digest", "prev_hash", "hash"]
    sets = lambda src: ", ".join(f"{c} = (SELECT {c} FROM audit_events WHERE id = {src})" for c in cols)  # noqa
    tamper(runtime, f"CREATE TEMPORARY TABLE keep_a AS SELECT * FROM audit_events WHERE id = {a.id}",
           f"UPDATE audit_events SET {sets(b.id)} WHERE id = {a.id}",
           f"UPDATE audit_events SET {', '.join(f'{c} = (SELECT {c} FROM keep_a)' for c in cols)} WHERE id = {b.id}",
           "DROP TABLE keep_a")
    found = kinds_at(check(runtime), case_id)
    assert found == {("reordered", 2)}


def test_an_inserted_event_is_found(runtime, case_id):
    evs = events_of(runtime, case_id)
    prev = evs[1]
    forged = dict(occurred_at=prev.occurred_at, actor="mallory", kind="task_completed", case_id=case_id,
                  task_id=None, seq=3, payload={"after": {"closure_date": "2026-01-01"}}, prev_hash=prev.hash)
    forged["hash"] = audit.event_hash(forged["prev_hash"], 3, forged["occurred_at"], "mallory", "task_completed",
                                      case_id, None, forged["payload"])
    with runtime.db.engine.begin() as conn:  # inserting is allowed: the log is append-only, not read-only
        conn.execute(AuditEvent.__table__.insert(), [forged])
    found = kinds_at(check(runtime), case_id)
    assert found == {("inserted", 3)}


def test_an_event_appended_behind_the_cases_back_is_found(runtime, case_id):
    last = events_of(runtime, case_id)[-1]
    payload = {"note": "forged"}
    digest = audit.event_hash(last.hash, last.seq + 1, last.occurred_at, "mallory", "case_viewed", case_id, None,
                              payload)
    with runtime.db.engine.begin() as conn:
        conn.execute(AuditEvent.__table__.insert(), [dict(occurred_at=last.occurred_at, actor="mallory",
                                                          kind="case_viewed", case_id=case_id, task_id=None,
                                                          seq=last.seq + 1, payload=payload, prev_hash=last.hash,
                                                          hash=digest)])
    assert kinds_at(check(runtime), case_id) == {("inserted", last.seq + 1)}


def test_deleting_the_last_event_is_found(runtime, case_id):
    last = events_of(runtime, case_id)[-1]
    tamper(runtime, "DELETE FROM audit_events WHERE id = :i", i=last.id)
    assert kinds_at(check(runtime), case_id) == {("deleted", last.seq)}


def test_deleting_a_whole_cases_history_is_found(runtime, case_id):
    n = len(events_of(runtime, case_id))
    tamper(runtime, "DELETE FROM audit_events WHERE case_id = :c", c=case_id)
    result = check(runtime)
    assert kinds_at(result, case_id) == {("deleted", 1)}
    assert f"all {n} events" in result["problems"][0]["message"]


def test_tampering_with_the_system_stream_is_found(runtime, people):
    with runtime.db.reading() as session:
        first = session.execute(select(AuditEvent).where(AuditEvent.case_id.is_(None))
                                .order_by(AuditEvent.id)).scalars().first()
    tamper(runtime, "UPDATE audit_events SET payload = :p WHERE id = :i", p=json.dumps({"username": "root"}),
           i=first.id)
    result = check(runtime)
    assert {(p["chain"], p["kind"], p["position"]) for p in result["problems"]} == {("stream system", "edited", 1)}


def test_a_rewritten_history_is_caught_by_an_earlier_anchor(runtime, case_id):
    """Someone recomputes every hash and the case's head: only an anchor kept outside can tell."""
    anchor = check(runtime)["anchor"]
    evs = events_of(runtime, case_id)
    prev, statements = "", []
    for e in evs:
        actor = "mallory" if e.seq == 2 else e.actor
        digest = audit.event_hash(prev, e.seq, e.occurred_at, actor, e.kind, e.case_id, e.task_id, e.payload,
                                  e.payload_digest)
        statements.append(f"UPDATE audit_events SET actor = '{actor}', prev_hash = '{prev}', hash = '{digest}' "
                          f"WHERE id = {e.id}")
        prev = digest
    tamper(runtime, *statements, f"UPDATE cases SET audit_head = '{prev}' WHERE id = {case_id}")
    assert check(runtime)["ok"]  # consistent with itself…
    result = check(runtime, anchor=anchor)  # …but not with what was recorded before
    assert [(p["chain"], p["kind"]) for p in result["problems"]] == [(f"case {case_id}", "anchor")]


def test_viewing_a_case_is_logged_in_its_chain(runtime, people, case_id):
    before = len(events_of(runtime, case_id))
    audit_log.record_view(runtime, people.mark, case_id, via="web")
    audit_log.record_view(runtime, people.anna, case_id, task_id=1, via="api")
    evs = events_of(runtime, case_id)
    assert [(e.kind, e.actor) for e in evs[before:]] == [("case_viewed", "mark"), ("task_viewed", "anna")]
    with runtime.db.reading() as session:
        assert session.get(Case, case_id).audit_seq == before + 2
    assert check(runtime)["ok"]


def test_the_manager_filters_the_whole_log_and_reads_a_case_history(runtime, people, case_id):
    from engine.errors import Forbidden

    found = audit_log.search(runtime, people.mark, user="anna", case_id=case_id, kind="task_completed")
    assert found["total"] == 2 and all(e["actor"] == "anna" for e in found["items"])
    assert audit_log.search(runtime, people.mark, date_from="2026-03-02", date_to="2026-03-02")["total"] > 0
    assert audit_log.search(runtime, people.mark, date_from="2026-03-03")["total"] == 0
    page = audit_log.search(runtime, people.mark, per_page=2, page=2)
    assert len(page["items"]) == 2 and page["total"] > 4
    history = audit_log.case_events(runtime, people.mark, case_id)
    assert [e["seq"] for e in history["events"]] == list(range(1, len(history["events"]) + 1))
    assert history["problems"] == []
    assert audit_log.search(runtime, people.mark, case_id=case_id, kind="case_viewed")["items"][0]["payload"] == \
        {"via": "audit", "what": "history"}
    for who in (people.anna, people.lea):
        with pytest.raises(Forbidden):
            audit_log.search(runtime, who)


def test_cli_audit_verify_exit_code_and_report(runtime, case_id, monkeypatch, tmp_path):
    monkeypatch.setattr(cli_support, "_runtime", lambda: runtime)  # what the report commands run on
    ok = CliRunner().invoke(cli.main, ["audit", "verify", "--anchor-out", str(tmp_path / "a.json")])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    target = events_of(runtime, case_id)[3]
    tamper(runtime, "UPDATE audit_events SET kind = 'task_cancelled' WHERE id = :i", i=target.id)
    bad = CliRunner().invoke(cli.main, ["audit", "verify", "--anchor", str(tmp_path / "a.json")])
    assert bad.exit_code == 1
    assert f"case {case_id}: event id {target.id} at position 4" in bad.output
