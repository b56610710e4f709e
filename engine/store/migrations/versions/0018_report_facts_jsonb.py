"""report facts as jsonb on PostgreSQL: report_cases.facts and report_entries.fields

Revision ID: 0018_report_facts_jsonb
Revises: 0017_family_care_report_rows
Create Date: 2026-12-06

A declared report reads several facts of every row it counts (docs/reports.md); PostgreSQL's json type is text,
parsed again for each fact read, jsonb is parsed once when written. SQLite keeps JSON text (nothing to do).
"""
from alembic import op

revision = '0018_report_facts_jsonb'
down_revision = '0017_family_care_report_rows'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE report_cases ALTER COLUMN facts TYPE jsonb USING facts::jsonb")
        op.execute("ALTER TABLE report_entries ALTER COLUMN fields TYPE jsonb USING fields::jsonb")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE report_cases ALTER COLUMN facts TYPE json USING facts::json")
        op.execute("ALTER TABLE report_entries ALTER COLUMN fields TYPE json USING fields::json")
