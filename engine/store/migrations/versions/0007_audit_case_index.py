"""audit events: drop the case index that (case_id, seq) already covers

Revision ID: 0007_audit_case_index
Revises: 0006_facts_cw_client
Create Date: 2026-11-22

``ix_audit_events_case_id`` (case_id) is a prefix of ``ix_audit_events_case_seq`` (case_id, seq, migration 0003):
every query by case can use the latter, and each event a command records was written into both. One index
fewer is one B-tree page fewer written by every command (docs/benchmarks.md).
"""
from alembic import op

revision = '0007_audit_case_index'
down_revision = '0006_facts_cw_client'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_audit_events_case_id', table_name='audit_events')


def downgrade() -> None:
    op.create_index('ix_audit_events_case_id', 'audit_events', ['case_id'])
