"""step documents: each package version's templates, and every produced or signed document of a case
(docs/documents.md)

Revision ID: 0026_case_documents
Revises: 0025_anonymous_invitations
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0026_case_documents'
down_revision = '0025_anonymous_invitations'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'package_documents',
        sa.Column('package_version_id', BigId, sa.ForeignKey('package_versions.id'), nullable=False),
        sa.Column('declarations', sa.JSON(), nullable=False),
        sa.Column('templates', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('package_version_id'),
    )
    op.create_table(
        'case_documents',
        sa.Column('id', BigId, nullable=False),
        sa.Column('case_id', BigId, sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('task_id', BigId, nullable=True),
        sa.Column('step', sa.String(length=20), nullable=True),
        sa.Column('bpmn_id', sa.String(length=100), nullable=True),
        sa.Column('document_key', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=True),
        sa.Column('media_type', sa.String(length=40), nullable=False),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('source_hash', sa.String(length=64), nullable=True),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('produced_by', sa.String(length=80), nullable=False),
        sa.Column('produced_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id', 'document_key', 'kind', 'version'),
    )
    op.create_index('ix_case_documents_case', 'case_documents', ['case_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_case_documents_case', table_name='case_documents')
    op.drop_table('case_documents')
    op.drop_table('package_documents')
