"""case members: the clients of a case with members (a group), each joining and leaving on a day

Revision ID: 0020_case_members
Revises: 0019_anonymous_answers
Create Date: 2026-12-06

A process whose manifest declares ``members`` has several registered clients per case (docs/services.md,
"Cases with members"); each membership is a row (engine/cases/members.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0020_case_members'
down_revision = '0019_anonymous_answers'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('case_members',
                    sa.Column('id', BigId, nullable=False),
                    sa.Column('case_id', BigId, nullable=False),
                    sa.Column('client_id', BigId, nullable=False),
                    sa.Column('joined_on', sa.Date(), nullable=False),
                    sa.Column('left_on', sa.Date(), nullable=True),
                    sa.Column('joined_task_id', BigId, nullable=True),
                    sa.Column('left_task_id', BigId, nullable=True),
                    sa.Column('data', sa.JSON(), nullable=False),
                    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('recorded_by', sa.String(length=80), nullable=False),
                    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
                    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_case_members_case_id', 'case_members', ['case_id'])
    op.create_index('ix_case_members_client_id', 'case_members', ['client_id'])


def downgrade() -> None:
    op.drop_index('ix_case_members_client_id', table_name='case_members')
    op.drop_index('ix_case_members_case_id', table_name='case_members')
    op.drop_table('case_members')
