"""login sessions: one row per browser login, so logout, deactivation and a password change end it on the server

Revision ID: 0008_login_sessions
Revises: 0007_audit_case_index
Create Date: 2026-12-05

The session cookie carries a random token whose SHA-256 is ``token_hash``; a request is served only while its
row is not ended and younger than the absolute lifetime (engine/people/login_sessions.py, docs/web.md).
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_login_sessions'
down_revision = '0007_audit_case_index'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('login_sessions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash', name='uq_login_sessions_token_hash')
    )
    op.create_index('ix_login_sessions_user_id', 'login_sessions', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_login_sessions_user_id', table_name='login_sessions')
    op.drop_table('login_sessions')
