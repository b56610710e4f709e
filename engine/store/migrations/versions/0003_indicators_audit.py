"""indicators and audit: case-fact rows for I1-I17 and the job-retention figures; audit_events append-only

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# The database itself refuses to change or remove an audit event, whatever role the app connects with (a
# superuser or the table's owner can still drop the trigger: docs/indicators.md says how to run the app under
# a role that cannot). TRUNCATE is left to privileges (REVOKE TRUNCATE), since the test suite empties tables.
PG_APPEND_ONLY = [
    """CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
]
SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END""",
]


def upgrade() -> None:
    op.create_table('case_facts',
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('client_id', BigId, nullable=True),
    sa.Column('caseworker_id', BigId, nullable=True),
    sa.Column('client_status', sa.String(length=10), nullable=True),
    sa.Column('taken_into_care', sa.Date(), nullable=True),
    sa.Column('household_size', sa.Integer(), nullable=True),
    sa.Column('total_income', BigId, nullable=True),
    sa.Column('per_capita_income', sa.Float(), nullable=True),
    sa.Column('agreement_date', sa.Date(), nullable=True),
    sa.Column('closure_date', sa.Date(), nullable=True),
    sa.Column('closure_reason', sa.String(length=40), nullable=True),
    sa.Column('follow_up', sa.Boolean(), nullable=True),
    sa.Column('care_days', sa.Integer(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.create_index('ix_case_facts_care', ['taken_into_care', 'closure_date'], unique=False)
        batch_op.create_index('ix_case_facts_closure', ['closure_date', 'caseworker_id', 'closure_reason', 'care_days',
                                                        'follow_up', 'client_id'], unique=False)
        batch_op.create_index('ix_case_facts_caseworker', ['caseworker_id', 'taken_into_care', 'closure_date',
                                                           'client_id'], unique=False)

    op.create_table('case_problem_types',
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('problem_type', sa.String(length=40), nullable=False),
    sa.Column('client_id', BigId, nullable=True),
    sa.Column('caseworker_id', BigId, nullable=True),
    sa.Column('process_key', sa.String(length=100), nullable=True),
    sa.Column('taken_into_care', sa.Date(), nullable=True),
    sa.Column('closure_date', sa.Date(), nullable=True),
    sa.Column('agreed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'problem_type')
    )
    with op.batch_alter_table('case_problem_types', schema=None) as batch_op:
        batch_op.create_index('ix_case_problem_types_period', ['problem_type', 'client_id', 'taken_into_care',
                                                               'closure_date', 'agreed', 'caseworker_id'],
                              unique=False)
    op.create_table('case_meetings',
    sa.Column('id', BigId, nullable=False),
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('met_on', sa.Date(), nullable=False),
    sa.Column('caseworker_id', BigId, nullable=True),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_meetings', schema=None) as batch_op:
        batch_op.create_index('ix_case_meetings_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_case_meetings_on', ['met_on', 'caseworker_id'], unique=False)

    op.create_table('case_actions',
    sa.Column('id', BigId, nullable=False),
    sa.Column('case_id', BigId, nullable=False),
    sa.Column('acted_on', sa.Date(), nullable=False),
    sa.Column('caseworker_id', BigId, nullable=True),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.create_index('ix_case_actions_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_case_actions_on', ['acted_on', 'caseworker_id'], unique=False)

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

    # The audit log view filters the whole log by period, user, kind and case, newest first.
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_case_seq', ['case_id', 'seq'], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in PG_APPEND_ONLY if dialect == 'postgresql' else SQLITE_APPEND_ONLY if dialect == 'sqlite' else []:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    elif dialect == 'sqlite':
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_case_seq')
    op.drop_table('retention_visits')
    with op.batch_alter_table('retention_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_retention_cases_start')
    op.drop_table('retention_cases')
    op.drop_table('case_actions')
    op.drop_table('case_meetings')
    with op.batch_alter_table('case_problem_types', schema=None) as batch_op:
        batch_op.drop_index('ix_case_problem_types_period')
    op.drop_table('case_problem_types')
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_case_facts_caseworker')
        batch_op.drop_index('ix_case_facts_closure')
        batch_op.drop_index('ix_case_facts_care')
    op.drop_table('case_facts')
