"""logged time per client and week, for caseloads that limit it (caseloads.<key>.time, docs/services.md)

Revision ID: 0024_logged_time
Revises: 0023_entry_index_caseworker
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0024_logged_time'
down_revision = '0023_entry_index_caseworker'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'logged_time',
        sa.Column('case_id', ID, sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('caseload', sa.String(length=100), nullable=False),
        sa.Column('week_start', sa.Date(), nullable=False),
        sa.Column('client_id', ID, nullable=True),
        sa.Column('caseworker_id', ID, nullable=True),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('case_id', 'caseload', 'week_start'),
    )
    op.create_index('ix_logged_time_client_id', 'logged_time', ['client_id'])
    op.create_index('ix_logged_time_caseworker_id', 'logged_time', ['caseworker_id'])


def downgrade() -> None:
    op.drop_index('ix_logged_time_caseworker_id', table_name='logged_time')
    op.drop_index('ix_logged_time_client_id', table_name='logged_time')
    op.drop_table('logged_time')
