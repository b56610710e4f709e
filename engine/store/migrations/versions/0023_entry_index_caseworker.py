"""the report entries' value index holds the caseworker too

Revision ID: 0023_entry_index_caseworker
Revises: 0022_retention_rows_dropped
Create Date: 2026-12-06

One caseworker's report counts her entries per value (per problem type) with the case's period and carried
facts (migration 0021): with the caseworker in the index too, those entries are read from the index alone instead
of visiting every entry's row to find whose it is (docs/benchmarks.md, "Indicators").
"""
from alembic import op

revision = '0023_entry_index_caseworker'
down_revision = '0022_retention_rows_dropped'
branch_labels = None
depends_on = None

BEFORE = ['report_key', 'collection', 'value', 'start_day', 'end_day', 'client_id', 'case_id', 'case_facts']


def upgrade() -> None:
    op.drop_index('ix_report_entries_value', table_name='report_entries')
    op.create_index('ix_report_entries_value', 'report_entries', [*BEFORE, 'caseworker_id'])


def downgrade() -> None:
    op.drop_index('ix_report_entries_value', table_name='report_entries')
    op.create_index('ix_report_entries_value', 'report_entries', BEFORE)
