"""package_versions: a service package deployed as a unit; each process version names its package version

Revision ID: 0014_package_versions
Revises: 0013_calendar_feed_token
Create Date: 2026-12-05

A service is a folder (bpmn/<service>/: manifest, BPMN files, forms, reports, documents) validated and deployed
together (docs/services.md). A process version deployed on its own, as before, has no package version.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_package_versions'
down_revision = '0013_calendar_feed_token'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'package_versions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('package_key', sa.String(length=100), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=300), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('manifest', sa.JSON(), nullable=False),
        sa.Column('files', sa.JSON(), nullable=False),
        sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deployed_by', sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('package_key', 'version'),
    )
    with op.batch_alter_table('process_definitions') as batch_op:
        batch_op.add_column(sa.Column('package_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.create_index('ix_process_definitions_package_version_id', ['package_version_id'])
        batch_op.create_foreign_key('fk_process_definitions_package_version_id', 'package_versions',
                                    ['package_version_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('process_definitions') as batch_op:
        batch_op.drop_constraint('fk_process_definitions_package_version_id', type_='foreignkey')
        batch_op.drop_index('ix_process_definitions_package_version_id')
        batch_op.drop_column('package_version_id')
    op.drop_table('package_versions')
