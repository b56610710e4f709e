"""report_entries carry their case's period days and the case facts figures over entries read

Revision ID: 0021_report_entry_periods
Revises: 0020_case_members
Create Date: 2026-12-06

A figure over a collection's entries that also reads its case (active in the period, "with agreement" per problem
type) joined every entry to its case row: at 100,000 cases most of the report's time on SQLite. Each entry now
keeps a copy of the case's start and end days and of the case facts such figures read (``carried_facts`` in
engine/reports/compute.py), written with the entry and kept in step by engine/reports/facts.py; the value index
holds them, so per-value counts are read from the index alone. Existing entries are filled from their case rows.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = '0021_report_entry_periods'
down_revision = '0020_case_members'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == 'postgresql'
    facts_type = JSONB() if postgres else sa.JSON()
    op.add_column('report_entries', sa.Column('start_day', sa.Date(), nullable=True))
    op.add_column('report_entries', sa.Column('end_day', sa.Date(), nullable=True))
    op.add_column('report_entries', sa.Column('case_facts', facts_type, nullable=True))
    op.drop_index('ix_report_entries_value', table_name='report_entries')
    # Every scalar fact of the case: a superset of what the figures read (which of them is the report
    # definition's business, engine/reports, not the store's). The emptied digests make the next command on a
    # case rewrite its entries with the carried facts only, as a rebuild of the rows does.
    op.execute("UPDATE report_entries SET "
               + ", ".join(f"{column} = (SELECT c.{source} FROM report_cases c WHERE c.report_key = "
                           "report_entries.report_key AND c.case_id = report_entries.case_id)"
                           for column, source in (("start_day", "start_day"), ("end_day", "end_day"),
                                                  ("case_facts", "facts"))))
    op.execute("UPDATE report_cases SET digest = ''")
    op.create_index('ix_report_entries_value', 'report_entries',
                    ['report_key', 'collection', 'value', 'start_day', 'end_day', 'client_id', 'case_id',
                     'case_facts'])


def downgrade() -> None:
    op.drop_index('ix_report_entries_value', table_name='report_entries')
    op.drop_column('report_entries', 'case_facts')
    op.drop_column('report_entries', 'end_day')
    op.drop_column('report_entries', 'start_day')
    op.create_index('ix_report_entries_value', 'report_entries',
                    ['report_key', 'collection', 'value', 'client_id', 'case_id'])
