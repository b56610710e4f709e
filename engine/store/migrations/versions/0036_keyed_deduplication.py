"""keyed deduplication: the client register's deduplication keys become an HMAC under a secret wrapped by the
master key

Revision ID: 0036_keyed_deduplication
Revises: 0035_sealed_personal_data
Create Date: 2026-12-06

Until now a client's deduplication key was the plain SHA-256 of the folded identity (names, birth date, mother's
name): whoever held the database could confirm a guessed identity by hashing it. It becomes an HMAC-SHA256 under
the register's secret (engine/store/keys.py, ``register_secret``: a data key under a fixed id, wrapped by the
master key, so a rotation re-wraps it and leaves the keys valid). Every register row not erased gets its key
recomputed from its identity, opened with its client's data key; erased rows keep their ``erased-<code>`` key.
Downgrading computes the plain hashes again and drops the secret.
"""
import hashlib
import unicodedata

import sqlalchemy as sa
from alembic import op

from engine.store import keys

revision = '0036_keyed_deduplication'
down_revision = '0035_sealed_personal_data'
branch_labels = None
depends_on = None

_clients = sa.table('clients', sa.column('id', sa.BigInteger), sa.column('erased_at', sa.DateTime),
                    sa.column('dedup_key', sa.String), sa.column('birth_date', sa.Date),
                    *[sa.column(c, sa.Text) for c in ('family_name', 'given_name', 'mother_name')])
_keys = sa.table('data_keys', sa.column('id', sa.String))


def _fold(text: str) -> str:
    """Frozen here: engine/cases/clients.py's folding as this revision found it."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _identity(conn, row) -> str:
    names = [keys.open_text(conn, getattr(row, c), keys.CLIENT) or "" for c in ('family_name', 'given_name')]
    mother = keys.open_text(conn, row.mother_name, keys.CLIENT) or ""
    return "|".join([_fold(names[0]), _fold(names[1]), row.birth_date.isoformat() if row.birth_date else "",
                     _fold(mother)])


def _recompute(conn, hashed) -> None:
    for row in conn.execute(sa.select(_clients).where(_clients.c.erased_at.is_(None))
                            .order_by(_clients.c.id)).all():
        conn.execute(_clients.update().where(_clients.c.id == row.id).values(
            dedup_key=hashed(_identity(conn, row))))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.select(sa.func.count()).select_from(_clients)
                    .where(_clients.c.erased_at.is_(None))).scalar_one() == 0:
        return  # a new database: the secret is made at the first registration, no master key needed yet
    _recompute(conn, lambda identity: keys.register_hmac(conn, identity))


def downgrade() -> None:
    conn = op.get_bind()
    _recompute(conn, lambda identity: hashlib.sha256(identity.encode("utf-8")).hexdigest())
    conn.execute(_keys.delete().where(_keys.c.id == keys.REGISTER_KEY_ID))
