"""one-time links to answer an anonymous questionnaire on one's own device (docs/forms.md)

Revision ID: 0025_anonymous_invitations
Revises: 0024_logged_time
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = '0025_anonymous_invitations'
down_revision = '0024_logged_time'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'anonymous_invitations',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('package_key', sa.String(length=100), nullable=False),
        sa.Column('questionnaire', sa.String(length=64), nullable=False),
        sa.Column('definition_id', sa.Integer(), nullable=False),
        sa.Column('form_file', sa.String(length=200), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.Column('used', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('token_hash'),
    )


def downgrade() -> None:
    op.drop_table('anonymous_invitations')
