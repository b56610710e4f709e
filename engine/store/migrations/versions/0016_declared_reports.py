"""declared reports: report_definitions (each reports/*.yaml with its package version), report_cases and
report_entries (the facts the reports read)

Revision ID: 0016_declared_reports
Revises: 0015_plans_in_bpmn
Create Date: 2026-12-06

A package's reports are data (docs/reports.md): which form field becomes which fact, and every figure over the
facts. Their rows are generic: one per case a report follows (its start and end days and a JSON object of its
scalar facts) and one per entry of its collections (a dated record, a listed value, a completed step).
"""
import sqlalchemy as sa
from alembic import op

revision = '0016_declared_reports'
down_revision = '0015_plans_in_bpmn'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'report_definitions',
        sa.Column('id', ID, nullable=False),
        sa.Column('package_version_id', ID, sa.ForeignKey('package_versions.id'), nullable=False),
        sa.Column('report_key', sa.String(length=100), nullable=False),
        sa.Column('file', sa.String(length=300), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('package_version_id', 'report_key'),
    )
    op.create_index('ix_report_definitions_package_version_id', 'report_definitions', ['package_version_id'])
    op.create_index('ix_report_definitions_report_key', 'report_definitions', ['report_key'])
    op.create_table(
        'report_cases',
        sa.Column('id', ID, nullable=False),
        sa.Column('report_key', sa.String(length=100), nullable=False),
        sa.Column('case_id', ID, sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('process_key', sa.String(length=100), nullable=False),
        sa.Column('client_id', ID, nullable=True),
        sa.Column('caseworker_id', ID, nullable=True),
        sa.Column('start_day', sa.Date(), nullable=True),
        sa.Column('end_day', sa.Date(), nullable=True),
        sa.Column('facts', sa.JSON(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('report_key', 'case_id'),
    )
    op.create_index('ix_report_cases_start', 'report_cases', ['report_key', 'start_day', 'end_day'])
    op.create_index('ix_report_cases_end', 'report_cases', ['report_key', 'end_day', 'caseworker_id'])
    op.create_index('ix_report_cases_caseworker', 'report_cases',
                    ['report_key', 'caseworker_id', 'start_day', 'end_day', 'client_id'])
    op.create_table(
        'report_entries',
        sa.Column('id', ID, nullable=False),
        sa.Column('report_key', sa.String(length=100), nullable=False),
        sa.Column('case_id', ID, sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('collection', sa.String(length=100), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('caseworker_id', ID, nullable=True),
        sa.Column('client_id', ID, nullable=True),
        sa.Column('value', sa.String(length=300), nullable=True),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_entries_case', 'report_entries', ['case_id', 'report_key', 'collection'])
    op.create_index('ix_report_entries_day', 'report_entries', ['report_key', 'collection', 'day', 'caseworker_id'])
    op.create_index('ix_report_entries_value', 'report_entries',
                    ['report_key', 'collection', 'value', 'client_id', 'case_id'])


def downgrade() -> None:
    op.drop_table('report_entries')
    op.drop_table('report_cases')
    op.drop_table('report_definitions')
