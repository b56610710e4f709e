"""intakes: the phone number given at each intake

Revision ID: 0009_intake_phone
Revises: 0008_login_sessions
Create Date: 2026-12-05

The phone number typed at intake (intake field 3) pre-fills the client's phone in process 3 (its field 3), as the
problem described pre-fills field 5. It is kept per intake, like the problem: a returning client may come back
with a new number, and the client row keeps the one given at registration.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009_intake_phone'
down_revision = '0008_login_sessions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('intakes', sa.Column('phone', sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column('intakes', 'phone')
