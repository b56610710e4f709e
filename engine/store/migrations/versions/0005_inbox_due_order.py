"""inbox in due order: the two inbox indexes end with the inbox's sort keys, so a page is read in index order

Revision ID: 0005_inbox_due_order
Revises: 0004_follow_up_plans
Create Date: 2026-11-22

The inbox lists a person's tasks and her roles' unclaimed ones overdue first, then by due date, then oldest
first, with no due date last: ``ORDER BY due_at IS NULL, due_at, created_at, id``. With the old indexes
(``state, role, assignee_id, created_at`` and ``assignee_id, state, created_at``) every waiting row of a role had
to be read from the table for its due date and sorted before the first 25 could be shown, so a professional
lead's inbox grew with the number of closures waiting in the service. The same leading columns followed by the
sort keys (the first one an expression, on SQLite and PostgreSQL alike) let a page be the first rows of an index
range, and the counts read the index alone. They replace the old ones: same prefixes, so every other query that
used those still can.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005_inbox_due_order'
down_revision = '0004_follow_up_plans'
branch_labels = None
depends_on = None

SORT_KEYS: list[str | sa.TextClause] = [sa.text('(due_at IS NULL)'), 'due_at', 'created_at', 'id']


def upgrade() -> None:
    op.create_index('ix_human_tasks_role_queue', 'human_tasks', ['state', 'role', 'assignee_id', *SORT_KEYS])
    op.create_index('ix_human_tasks_assigned', 'human_tasks', ['assignee_id', 'state', *SORT_KEYS])
    op.drop_index('ix_human_tasks_inbox_role', table_name='human_tasks')
    op.drop_index('ix_human_tasks_inbox_assignee', table_name='human_tasks')


def downgrade() -> None:
    op.create_index('ix_human_tasks_inbox_assignee', 'human_tasks', ['assignee_id', 'state', 'created_at'])
    op.create_index('ix_human_tasks_inbox_role', 'human_tasks', ['state', 'role', 'assignee_id', 'created_at'])
    op.drop_index('ix_human_tasks_assigned', table_name='human_tasks')
    op.drop_index('ix_human_tasks_role_queue', table_name='human_tasks')
