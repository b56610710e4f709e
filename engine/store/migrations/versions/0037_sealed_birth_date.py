"""sealed birth date: the client register's birth date sealed under the client's data key, its year in clear

Revision ID: 0037_sealed_birth_date
Revises: 0036_keyed_deduplication
Create Date: 2026-12-07

Migration 0035 sealed a client's names, birth place, mother's name and phone and left the birth date in clear,
because reports computed ages from it in SQL. Reports now narrow the rows by the birth year and open the date only
for the clients born in a year an age band's edge falls in (engine/reports/compute.py, ``Births``), so the date
is sealed like the rest of the identity: the column becomes TEXT holding the sealed ISO date (``sg1:`` …), and
``birth_year`` (an integer, in clear) is added. Every row with a data key is sealed under it; an erased row has
neither date nor year. The master key must be configured before upgrading (docs/operations.md, "Keys"), as for
0035. Downgrading opens the dates again (a client whose key was destroyed by an erasure has none) and drops
``birth_year``.
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

from engine.store import keys

revision = '0037_sealed_birth_date'
down_revision = '0036_keyed_deduplication'
branch_labels = None
depends_on = None

_clients = sa.table('clients', sa.column('id', sa.BigInteger), sa.column('data_key_id', sa.String),
                    sa.column('birth_date', sa.Text), sa.column('birth_year', sa.Integer))


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_year', sa.Integer(), nullable=True))
        batch_op.alter_column('birth_date', existing_type=sa.Date(), type_=sa.Text(),
                              postgresql_using='birth_date::text')
    rows = conn.execute(sa.select(_clients.c.id, _clients.c.data_key_id, _clients.c.birth_date)
                        .where(_clients.c.birth_date.is_not(None)).order_by(_clients.c.id)).all()
    keys.hold(conn, [r.data_key_id for r in rows])
    for row in rows:
        day = dt.date.fromisoformat(row.birth_date[:10])  # SQLite's copy of a DATE is its ISO text already
        conn.execute(_clients.update().where(_clients.c.id == row.id).values(
            birth_year=day.year, birth_date=keys.seal_text(conn, row.data_key_id, day.isoformat(), keys.CLIENT)
            if row.data_key_id else day.isoformat()))


def downgrade() -> None:
    conn = op.get_bind()
    # A new DATE column filled from the opened values, then put in the old one's place: SQLite's copy of a table
    # whose column changes type casts the text to DATE, which its NUMERIC affinity reads as the year alone.
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('birth_day', sa.Date(), nullable=True))
    days = sa.table('clients', sa.column('id', sa.BigInteger), sa.column('birth_day', sa.Date))
    rows = conn.execute(sa.select(_clients.c.id, _clients.c.birth_date)
                        .where(_clients.c.birth_date.is_not(None)).order_by(_clients.c.id)).all()
    for row in rows:
        text = keys.open_text(conn, row.birth_date, keys.CLIENT)
        conn.execute(days.update().where(days.c.id == row.id).values(
            birth_day=dt.date.fromisoformat(text) if text else None))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('birth_date')
        batch_op.drop_column('birth_year')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.alter_column('birth_day', new_column_name='birth_date', existing_type=sa.Date())
