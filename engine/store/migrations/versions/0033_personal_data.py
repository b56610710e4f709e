"""personal data: audit payload digests, legal holds and erasure marks; every verifying case chain re-hashed

Revision ID: 0033_personal_data
Revises: 0032_package_drafts
Create Date: 2026-12-06

An audit event's hash now covers its payload through the payload's digest (engine/store/audit.py), so the
payload can be erased when the law requires it and the chain still verifies. Every case chain is checked here
as it was written (each hash over its payload) and, when intact, re-hashed in the new form, its head updated on
the case row; a chain that does not verify is left as it is, so `segito audit verify` goes on reporting it (and
its case cannot be erased until someone looks). Anchors taken before this upgrade name the old heads: take a new
one after it (docs/operations.md). Events outside cases keep their hashes: new ones get digests.

The database's append-only guard on audit_events (migration 0003) now lets exactly one change through: an
event's payload replaced by a tombstone (``{"erased_by": <position>}``, nothing else), every other column
unchanged, on an event that has a digest. Every other UPDATE, and every DELETE, is refused as before.

Clients' identity columns may be NULL (an erased client keeps only its code), cases get a legal hold and the
time their personal data was erased.
"""
import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = '0033_personal_data'
down_revision = '0032_package_drafts'
branch_labels = None
depends_on = None


class _Utc(sa.TypeDecorator):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


# As engine/store/audit.py wrote and writes them, frozen here: this migration must not change with that module.
def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _hash(prev, seq, at, actor, kind, case_id, task_id, covered) -> str:
    return hashlib.sha256(_canonical([prev, seq, at.isoformat(), actor, kind, case_id, task_id, covered])
                          .encode("utf-8")).hexdigest()


_events = sa.table('audit_events', sa.column('id', sa.BigInteger), sa.column('occurred_at', _Utc),
                   sa.column('actor', sa.String), sa.column('kind', sa.String), sa.column('case_id', sa.BigInteger),
                   sa.column('task_id', sa.BigInteger), sa.column('seq', sa.Integer), sa.column('payload', sa.JSON),
                   sa.column('payload_digest', sa.String), sa.column('prev_hash', sa.String),
                   sa.column('hash', sa.String))
_cases = sa.table('cases', sa.column('id', sa.BigInteger), sa.column('audit_head', sa.String),
                  sa.column('audit_seq', sa.Integer))


def _rehash(conn) -> None:
    heads = conn.execute(sa.select(_cases.c.id, _cases.c.audit_head, _cases.c.audit_seq)).all()
    for case_id, head, length in heads:
        rows = conn.execute(sa.select(_events).where(_events.c.case_id == case_id).order_by(_events.c.seq,
                                                                                            _events.c.id)).all()
        prev, intact = "", len(rows) == (length or 0)
        for expected, e in enumerate(rows, start=1):
            if e.seq != expected or e.prev_hash != prev or e.hash != _hash(prev, e.seq, e.occurred_at, e.actor,
                                                                           e.kind, e.case_id, e.task_id, e.payload):
                intact = False
                break
            prev = e.hash
        if not intact or prev != (head or ""):
            continue
        prev, updates = "", []
        for e in rows:
            digest = hashlib.sha256(_canonical(e.payload).encode("utf-8")).hexdigest()
            new = _hash(prev, e.seq, e.occurred_at, e.actor, e.kind, e.case_id, e.task_id, digest)
            updates.append({"event_id": e.id, "digest": digest, "prev": prev, "new": new})
            prev = new
        if updates:
            conn.execute(_events.update().where(_events.c.id == sa.bindparam("event_id"))
                         .values(payload_digest=sa.bindparam("digest"), prev_hash=sa.bindparam("prev"),
                                 hash=sa.bindparam("new")), updates)
            conn.execute(_cases.update().where(_cases.c.id == case_id).values(audit_head=prev))


_REFUSED = "audit_events is append-only: UPDATE refused"
PG_GUARD = [
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         -- An erasure by law: the payload replaced by its tombstone, nothing else changed (engine/privacy/).
         IF TG_OP = 'UPDATE' AND OLD.payload_digest IS NOT NULL
            AND (NEW.id, NEW.occurred_at, NEW.actor, NEW.kind, NEW.case_id, NEW.task_id, NEW.seq, NEW.prev_hash,
                 NEW.hash, NEW.payload_digest)
                IS NOT DISTINCT FROM (OLD.id, OLD.occurred_at, OLD.actor, OLD.kind, OLD.case_id, OLD.task_id,
                                      OLD.seq, OLD.prev_hash, OLD.hash, OLD.payload_digest)
            AND jsonb_typeof(NEW.payload::jsonb) = 'object'
            AND jsonb_typeof(NEW.payload::jsonb -> 'erased_by') = 'number'
            AND (SELECT count(*) FROM jsonb_object_keys(NEW.payload::jsonb)) = 1 THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
]
PG_OLD_GUARD = [
    """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
]
SQLITE_GUARD = [
    f"""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       WHEN NOT (NEW.id = OLD.id AND NEW.occurred_at IS OLD.occurred_at AND NEW.actor IS OLD.actor
                 AND NEW.kind IS OLD.kind AND NEW.case_id IS OLD.case_id AND NEW.task_id IS OLD.task_id
                 AND NEW.seq IS OLD.seq AND NEW.prev_hash IS OLD.prev_hash AND NEW.hash IS OLD.hash
                 AND OLD.payload_digest IS NOT NULL AND NEW.payload_digest IS OLD.payload_digest
                 AND json_valid(NEW.payload) AND json_type(NEW.payload) = 'object'
                 AND json_type(NEW.payload, '$.erased_by') = 'integer'
                 AND (SELECT count(*) FROM json_each(NEW.payload)) = 1)
       BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END""",
]
SQLITE_OLD_GUARD = [
    f"""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""",
    SQLITE_GUARD[1],
]


def _drop_guard(dialect: str) -> None:
    if dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    elif dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


def _create_guard(dialect: str, pg: list[str], sqlite: list[str]) -> None:
    for statement in pg if dialect == 'postgresql' else sqlite if dialect == 'sqlite' else []:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_guard(dialect)  # the re-hashing below rewrites hashes, which the guard refuses
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload_digest', sa.String(length=64), nullable=True))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_reason', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('hold_set_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('hold_set_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        for column in ('family_name', 'given_name', 'mother_name'):
            batch_op.alter_column(column, existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column('birth_date', existing_type=sa.Date(), nullable=True)
    _rehash(op.get_bind())
    _create_guard(dialect, PG_GUARD, SQLITE_GUARD)


def downgrade() -> None:
    # The re-hashed chains stay as they are: a downgraded engine would report them altered (take a backup first).
    dialect = op.get_bind().dialect.name
    _drop_guard(dialect)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('birth_date', existing_type=sa.Date(), nullable=False)
        for column in ('family_name', 'given_name', 'mother_name'):
            batch_op.alter_column(column, existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('hold_set_at')
        batch_op.drop_column('hold_set_by')
        batch_op.drop_column('hold_reason')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('payload_digest')
    _create_guard(dialect, PG_OLD_GUARD, SQLITE_OLD_GUARD)
