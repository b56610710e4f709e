"""package files: the bytes of each file of a package version, so a version can be exported as deployed

Revision ID: 0031_package_files
Revises: 0030_version_notes
Create Date: 2026-12-06

A package version kept its file names and a hash, not the files: an earlier version could not be given back to a
designer. Versions deployed before this have no files kept; exporting one says so.
"""
import sqlalchemy as sa
from alembic import op

revision = '0031_package_files'
down_revision = '0030_version_notes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'package_files',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('package_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('package_versions.id'), nullable=False),
        sa.Column('path', sa.String(500), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint('package_version_id', 'path'),
    )


def downgrade() -> None:
    op.drop_table('package_files')
