"""anonymous questionnaires: anonymous_answers and anonymous_pairing_keys

Revision ID: 0019_anonymous_answers
Revises: 0018_report_facts_jsonb
Create Date: 2026-12-06

A form marked x-anonymous (docs/forms.md, "Anonymous questionnaires") stores its answers here, with no column that
leads back to a case, a client, a task, a user or an exact time; a respondent's pairing code only as a keyed hash.
"""
import sqlalchemy as sa
from alembic import op

revision = '0019_anonymous_answers'
down_revision = '0018_report_facts_jsonb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'anonymous_answers',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('package_key', sa.String(length=100), nullable=False),
        sa.Column('questionnaire', sa.String(length=64), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('pair_group', sa.String(length=64), nullable=True),
        sa.Column('pair_moment', sa.String(length=10), nullable=True),
        sa.Column('pair_hash', sa.String(length=64), nullable=True),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_anonymous_answers_questionnaire', 'anonymous_answers',
                    ['package_key', 'questionnaire', 'period_start'])
    op.create_table(
        'anonymous_pairing_keys',
        sa.Column('package_key', sa.String(length=100), nullable=False),
        sa.Column('pair_group', sa.String(length=64), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('package_key', 'pair_group'),
    )


def downgrade() -> None:
    op.drop_table('anonymous_pairing_keys')
    op.drop_index('ix_anonymous_answers_questionnaire', table_name='anonymous_answers')
    op.drop_table('anonymous_answers')
