"""sealed personal data: data keys wrapped by a master key outside the database; existing personal data sealed

Revision ID: 0035_sealed_personal_data
Revises: 0034_consents
Create Date: 2026-12-06

Every case and every registered client gets a data key (``data_keys``, wrapped by the configured master key,
engine/store/keys.py), and what they hold is sealed under it here, row by row: a case's workflow state, its steps'
drafts, the payloads of its audit events (but views and erasure events, which name nobody), its intake's problem
and phone, its members' rows and its documents' bytes (an audit event written before digests, whose chain did not
verify at migration 0033, keeps its payload in clear: its hash covers it); a client's names, birth place, mother's
name and phone, and the payloads of the register's corrections about them. Nothing is re-hashed: an audit event's
hash covers its payload's digest, which is the digest of the plain payload, sealed or not. Cases whose personal
data was erased already get no key. The master key must be configured before upgrading (docs/operations.md,
"Keys"); the embedded database makes its key file on first use.

The text columns that hold sealed values widen to TEXT (a sealed value is longer than the 200 characters a name
had). Downgrading opens everything again and drops the keys.
"""
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from engine.store import clock, keys

revision = '0035_sealed_personal_data'
down_revision = '0034_consents'
branch_labels = None
depends_on = None

# The audit table's guard as migration 0033 left it: dropped while payloads are sealed, created again after.
_spec = importlib.util.spec_from_file_location("_m0033", Path(__file__).with_name("0033_personal_data.py"))
assert _spec is not None and _spec.loader is not None
_m0033 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_m0033)

# Frozen here: the kinds whose payload names nobody (engine/store/audit.py, UNSEALED_KINDS).
_UNSEALED = ("case_viewed", "task_viewed", "personal_data_erased")
_CLIENT_STREAM_KINDS = ("client_corrected",)
_CLIENT_TEXT = ('family_name', 'given_name', 'birth_place', 'mother_name', 'phone')

_keys = sa.table('data_keys', sa.column('id', sa.String))
_cases = sa.table('cases', sa.column('id', sa.BigInteger), sa.column('state', sa.LargeBinary),
                  sa.column('erased_at', sa.DateTime), sa.column('data_key_id', sa.String))
_clients = sa.table('clients', sa.column('id', sa.BigInteger), sa.column('client_code', sa.String),
                    sa.column('erased_at', sa.DateTime), sa.column('data_key_id', sa.String),
                    *[sa.column(c, sa.Text) for c in _CLIENT_TEXT])
_tasks = sa.table('human_tasks', sa.column('id', sa.BigInteger), sa.column('case_id', sa.BigInteger),
                  sa.column('draft', sa.JSON))
_intakes = sa.table('intakes', sa.column('id', sa.BigInteger), sa.column('case_id', sa.BigInteger),
                    sa.column('problem', sa.Text), sa.column('phone', sa.Text))
_members = sa.table('case_members', sa.column('id', sa.BigInteger), sa.column('case_id', sa.BigInteger),
                    sa.column('data', sa.JSON))
_documents = sa.table('case_documents', sa.column('id', sa.BigInteger), sa.column('case_id', sa.BigInteger),
                      sa.column('content', sa.LargeBinary))
_events = sa.table('audit_events', sa.column('id', sa.BigInteger), sa.column('case_id', sa.BigInteger),
                   sa.column('kind', sa.String), sa.column('payload', sa.JSON),
                   sa.column('payload_digest', sa.String))


def _json_text(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _seal_case(conn, case_id: int, key_id: str) -> None:
    state = conn.execute(sa.select(_cases.c.state).where(_cases.c.id == case_id)).scalar_one()
    conn.execute(_cases.update().where(_cases.c.id == case_id).values(
        data_key_id=key_id, state=keys.seal(conn, key_id, bytes(state), keys.STATE)))
    for row in conn.execute(sa.select(_tasks.c.id, _tasks.c.draft).where(_tasks.c.case_id == case_id,
                                                                         _tasks.c.draft.is_not(None))).all():
        if not keys.is_sealed_json(row.draft):
            conn.execute(_tasks.update().where(_tasks.c.id == row.id).values(
                draft=keys.seal_json_text(conn, key_id, _json_text(row.draft), keys.DRAFT)))
    for row in conn.execute(sa.select(_intakes).where(_intakes.c.case_id == case_id)).all():
        conn.execute(_intakes.update().where(_intakes.c.id == row.id).values(
            problem=keys.seal_text(conn, key_id, row.problem, keys.INTAKE),
            phone=keys.seal_text(conn, key_id, row.phone, keys.INTAKE)))
    for row in conn.execute(sa.select(_members.c.id, _members.c.data).where(_members.c.case_id == case_id)).all():
        if not keys.is_sealed_json(row.data):
            conn.execute(_members.update().where(_members.c.id == row.id).values(
                data=keys.seal_json_text(conn, key_id, _json_text(row.data), keys.MEMBER)))
    for row in conn.execute(sa.select(_documents.c.id, _documents.c.content)
                            .where(_documents.c.case_id == case_id)).all():
        if row.content and not keys.is_sealed(bytes(row.content)):
            conn.execute(_documents.update().where(_documents.c.id == row.id).values(
                content=keys.seal(conn, key_id, bytes(row.content), keys.DOCUMENT)))
    _seal_payloads(conn, key_id, conn.execute(
        sa.select(_events.c.id, _events.c.payload).where(_events.c.case_id == case_id,
                                                          _events.c.kind.not_in(_UNSEALED),
                                                          # an older event's hash covers its payload itself
                                                          _events.c.payload_digest.is_not(None))).all())


def _seal_payloads(conn, key_id: str, rows) -> None:
    for row in rows:
        payload = row.payload
        if not isinstance(payload, dict) or keys.is_sealed_json(payload) or (
                len(payload) == 1 and isinstance(payload.get("erased_by"), int)):
            continue
        conn.execute(_events.update().where(_events.c.id == row.id).values(
            payload=keys.seal_json_text(conn, key_id, _json_text(payload), keys.PAYLOAD)))


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    op.create_table(
        'data_keys',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('owner', sa.String(length=10), nullable=False),
        sa.Column('master_key_id', sa.String(length=40), nullable=False),
        sa.Column('wrapped', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_data_keys_master_key_id', 'data_keys', ['master_key_id'])
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_key_id', sa.String(length=32), nullable=True))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_key_id', sa.String(length=32), nullable=True))
        for column in ('family_name', 'given_name', 'birth_place', 'mother_name'):
            batch_op.alter_column(column, existing_type=sa.String(length=200), type_=sa.Text())
        batch_op.alter_column('phone', existing_type=sa.String(length=40), type_=sa.Text())
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.String(length=40), type_=sa.Text())

    at = clock.now()
    case_ids: Sequence = conn.execute(sa.select(_cases.c.id).where(_cases.c.erased_at.is_(None))
                            .order_by(_cases.c.id)).scalars().all()
    clients = conn.execute(sa.select(_clients).where(_clients.c.erased_at.is_(None))
                           .order_by(_clients.c.id)).all()
    if not case_ids and not clients:
        return  # a new database: nothing to seal, and no master key needed yet
    _m0033._drop_guard(dialect)  # payloads are rewritten below, which the append-only guard refuses
    for case_id in case_ids:
        _seal_case(conn, case_id, keys.new_data_key(conn, "case", at))
    stream = conn.execute(sa.select(_events.c.id, _events.c.payload).where(
        _events.c.case_id.is_(None), _events.c.kind.in_(_CLIENT_STREAM_KINDS),
        _events.c.payload_digest.is_not(None))).all()
    for client in clients:
        key_id = keys.new_data_key(conn, "client", at)
        conn.execute(_clients.update().where(_clients.c.id == client.id).values(
            data_key_id=key_id, **{c: keys.seal_text(conn, key_id, getattr(client, c), keys.CLIENT)
                                   for c in _CLIENT_TEXT}))
        _seal_payloads(conn, key_id, [r for r in stream if isinstance(r.payload, dict)
                                      and r.payload.get("client") == client.client_code])
    _m0033._create_guard(dialect, _m0033.PG_GUARD, _m0033.SQLITE_GUARD)


def _open_payloads(conn, rows) -> None:
    for row in rows:
        text = keys.open_json_text(conn, row.payload, keys.PAYLOAD)
        if text is not None:
            conn.execute(_events.update().where(_events.c.id == row.id).values(payload=json.loads(text)))


def downgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    _m0033._drop_guard(dialect)
    for row in conn.execute(sa.select(_cases.c.id, _cases.c.state).where(_cases.c.data_key_id.is_not(None))).all():
        conn.execute(_cases.update().where(_cases.c.id == row.id).values(
            state=keys.open_sealed(conn, bytes(row.state), keys.STATE)))
    for row in conn.execute(sa.select(_tasks.c.id, _tasks.c.draft).where(_tasks.c.draft.is_not(None))).all():
        text = keys.open_json_text(conn, row.draft, keys.DRAFT)
        if text is not None:
            conn.execute(_tasks.update().where(_tasks.c.id == row.id).values(draft=json.loads(text)))
    for row in conn.execute(sa.select(_intakes)).all():
        conn.execute(_intakes.update().where(_intakes.c.id == row.id).values(
            problem=keys.open_text(conn, row.problem, keys.INTAKE), phone=keys.open_text(conn, row.phone,
                                                                                         keys.INTAKE)))
    for row in conn.execute(sa.select(_members.c.id, _members.c.data)).all():
        text = keys.open_json_text(conn, row.data, keys.MEMBER)
        if text is not None:
            conn.execute(_members.update().where(_members.c.id == row.id).values(data=json.loads(text)))
    for row in conn.execute(sa.select(_documents.c.id, _documents.c.content)).all():
        if row.content and keys.is_sealed(bytes(row.content)):
            conn.execute(_documents.update().where(_documents.c.id == row.id).values(
                content=keys.open_sealed(conn, bytes(row.content), keys.DOCUMENT)))
    for client in conn.execute(sa.select(_clients).where(_clients.c.data_key_id.is_not(None))).all():
        conn.execute(_clients.update().where(_clients.c.id == client.id).values(
            **{c: keys.open_text(conn, getattr(client, c), keys.CLIENT) for c in _CLIENT_TEXT}))
    _open_payloads(conn, conn.execute(sa.select(_events.c.id, _events.c.payload)).all())
    _m0033._create_guard(dialect, _m0033.PG_GUARD, _m0033.SQLITE_GUARD)
    with op.batch_alter_table('intakes', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.Text(), type_=sa.String(length=40))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.Text(), type_=sa.String(length=40))
        for column in ('family_name', 'given_name', 'birth_place', 'mother_name'):
            batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length=200))
        batch_op.drop_column('data_key_id')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('data_key_id')
    op.drop_index('ix_data_keys_master_key_id', table_name='data_keys')
    op.drop_table('data_keys')

