"""the job-retention rows dropped: retention_cases and retention_visits

Revision ID: 0022_retention_rows_dropped
Revises: 0021_report_entry_periods
Create Date: 2026-12-06

The job-retention figures of seed 000 are a declared report of the job-retention package
(bpmn/job_retention/reports/job_retention.yaml, docs/reports.md): their rows are report_cases and report_entries,
kept by the same observer as every declared report. The tables the coded figures kept are dropped; downgrading
creates them again, empty (`segito rebuild-facts` of that revision refilled the case rows).
"""
import sqlalchemy as sa
from alembic import op

revision = '0022_retention_rows_dropped'
down_revision = '0021_report_entry_periods'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('retention_visits', schema=None) as batch_op:
        batch_op.drop_index('ix_retention_visits_case_id')
        batch_op.drop_index('ix_retention_visits_visit_date')
    op.drop_table('retention_visits')
    with op.batch_alter_table('retention_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_retention_cases_start')
    op.drop_table('retention_cases')


def downgrade() -> None:
    op.create_table('retention_cases',
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('client_id', BigId, nullable=True),
    sa.Column('mentor_id', BigId, nullable=True),
    sa.Column('sex', sa.String(length=20), nullable=True),
    sa.Column('employment_start', sa.Date(), nullable=True),
    sa.Column('employer_name', sa.String(length=300), nullable=True),
    sa.Column('target_groups', sa.String(length=400), nullable=False),
    sa.Column('check_date', sa.Date(), nullable=True),
    sa.Column('employed_on_day_180', sa.Boolean(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('retention_cases', schema=None) as batch_op:
        batch_op.create_index('ix_retention_cases_start', ['employment_start', 'ended_on'], unique=False)
    op.create_table('retention_visits',
    sa.Column('id', BigId, nullable=False),
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('spiff_task_id', sa.String(length=36), nullable=False),
    sa.Column('mentor_id', BigId, nullable=True),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('with_client', sa.Boolean(), nullable=False),
    sa.Column('with_employer', sa.Boolean(), nullable=False),
    sa.Column('lay_helpers', sa.Integer(), nullable=False),
    sa.Column('institution_kinds', sa.String(length=400), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('spiff_task_id')
    )
    with op.batch_alter_table('retention_visits', schema=None) as batch_op:
        batch_op.create_index('ix_retention_visits_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_retention_visits_visit_date', ['visit_date'], unique=False)
