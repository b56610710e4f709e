"""version notes: a deployed package or process version keeps the deployer's note beside its author and time

Revision ID: 0030_version_notes
Revises: 0029_api_tokens
Create Date: 2026-12-06

A version's history (who deployed it, when, and why) is what a designer reads before publishing or rolling back;
the why was only in people's heads. Versions deployed before have no note.
"""
import sqlalchemy as sa
from alembic import op

revision = '0030_version_notes'
down_revision = '0029_api_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('package_versions', sa.Column('note', sa.Text(), nullable=True))
    op.add_column('process_definitions', sa.Column('note', sa.Text(), nullable=True))


def downgrade() -> None:
    # Not batch mode: SQLite has dropped columns itself since 3.35.
    op.execute('ALTER TABLE process_definitions DROP COLUMN note')
    op.execute('ALTER TABLE package_versions DROP COLUMN note')
