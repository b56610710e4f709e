"""calendar_feeds: the feed token itself, so the agenda page can always show the link

Revision ID: 0013_calendar_feed_token
Revises: 0009_intake_phone
Create Date: 2026-12-05

The agenda page shows the calendar-feed link every time (with a copy button and a reset), so the token is kept,
not only its SHA-256 (still the lookup key). A feed made before this has no token kept: the page makes a new
one the next time its owner opens the agenda (the old link stops working then; audited).
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_calendar_feed_token'
down_revision = '0009_intake_phone'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('calendar_feeds', sa.Column('token', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calendar_feeds') as batch_op:
        batch_op.drop_column('token')
