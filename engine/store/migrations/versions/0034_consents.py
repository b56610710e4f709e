"""the consent register: data-processing statements given, expiring and withdrawn

Revision ID: 0034_consents
Revises: 0033_personal_data
Create Date: 2026-12-06

One row per statement a person signed (engine/store/consent_models.py); a step of a process whose legal basis is
consent is refused while none is in force (engine/cases/consent.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0034_consents'
down_revision = '0033_personal_data'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'consents',
        sa.Column('id', _ID, primary_key=True),
        sa.Column('case_id', _ID, sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('client_id', _ID, sa.ForeignKey('clients.id'), nullable=True),
        sa.Column('statement_key', sa.String(63), nullable=False),
        sa.Column('statement_version', sa.String(40), nullable=False),
        sa.Column('statement_text', sa.JSON(), nullable=False),
        sa.Column('given_on', sa.Date(), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.Column('recorded_by', sa.String(100), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_on', sa.Date(), nullable=True),
        sa.Column('withdrawn_by', sa.String(100), nullable=True),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    )
    op.create_index('ix_consents_client', 'consents', ['client_id', 'statement_key'])
    op.create_index('ix_consents_case', 'consents', ['case_id'])
    op.create_index('ix_consents_expiry', 'consents', ['expires_on'])


def downgrade() -> None:
    op.drop_table('consents')
