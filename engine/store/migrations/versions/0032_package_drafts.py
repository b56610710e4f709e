"""package drafts: a package version may be a draft, stored and checked but not live until it is published

Revision ID: 0032_package_drafts
Revises: 0031_package_files
Create Date: 2026-12-06

Every version deployed so far went live at once, so every existing row is published.
"""
import sqlalchemy as sa
from alembic import op

revision = '0032_package_drafts'
down_revision = '0031_package_files'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('package_versions', sa.Column('draft', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # Not batch mode: SQLite has dropped columns itself since 3.35.
    op.execute('ALTER TABLE package_versions DROP COLUMN draft')
