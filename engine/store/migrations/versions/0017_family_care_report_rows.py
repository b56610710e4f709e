"""family care's indicator rows become the declared report's: case_facts, case_problem_types, case_meetings and
case_actions are carried over to report_cases and report_entries (report 'family_care') and dropped

Revision ID: 0017_family_care_report_rows
Revises: 0016_declared_reports
Create Date: 2026-12-06

I1–I17 are declared in bpmn/family_care/reports/family_care.yaml (docs/reports.md, docs/indicators.md): its
facts are the columns of the old rows under the report's fact names, its collections the problem types, meetings
and actions. The carried rows get an empty digest, so the next command on a case rewrites them from its data.
The downgrade recreates the old tables empty (`segito rebuild-facts` fills them with the code of that revision).
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0017_family_care_report_rows'
down_revision = '0016_declared_reports'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
REPORT = 'family_care'
BATCH = 5000


def _iso(value):
    if value is None:
        return None
    if isinstance(value, str):
        return value[:10]
    return value.isoformat()


def _day(value):
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    facts = sa.Table('case_facts', meta, autoload_with=conn)
    problems = sa.Table('case_problem_types', meta, autoload_with=conn)
    meetings = sa.Table('case_meetings', meta, autoload_with=conn)
    actions = sa.Table('case_actions', meta, autoload_with=conn)
    cases = sa.Table('report_cases', meta, autoload_with=conn)
    entries = sa.Table('report_entries', meta, autoload_with=conn)
    who: dict[int, tuple] = {}
    rows = []
    for f in conn.execute(sa.select(facts)).mappings():
        size, total = f['household_size'], f['total_income']
        who[f['case_id']] = (f['caseworker_id'], f['client_id'])
        rows.append(dict(
            report_key=REPORT, case_id=f['case_id'], process_key=f['process_key'], client_id=f['client_id'],
            caseworker_id=f['caseworker_id'], start_day=_day(f['taken_into_care']), end_day=_day(f['closure_date']),
            digest='', updated_at=f['updated_at'], facts={
                'client_status': f['client_status'], 'taken_into_care': _iso(f['taken_into_care']),
                'household_size': size, 'total_income': total, 'per_capita_income': f['per_capita_income'],
                'income_per_person': total / size if total is not None and size else None,
                'agreement_date': _iso(f['agreement_date']), 'closure_date': _iso(f['closure_date']),
                'closure_reason': f['closure_reason'],
                'follow_up': None if f['follow_up'] is None else bool(f['follow_up']),
                'care_days': f['care_days']}))
        if len(rows) >= BATCH:
            conn.execute(cases.insert(), rows)
            rows = []
    if rows:
        conn.execute(cases.insert(), rows)
    found = []
    positions: dict[tuple, int] = {}

    def add(case_id, collection, day=None, value=None):
        cw, client = who.get(case_id, (None, None))
        n = positions.get((case_id, collection), 0)
        positions[(case_id, collection)] = n + 1
        found.append(dict(report_key=REPORT, case_id=case_id, collection=collection, position=n, day=_day(day),
                          caseworker_id=cw, client_id=client, value=value, fields={}))
    for p in conn.execute(sa.select(problems.c.case_id, problems.c.problem_type)
                          .order_by(problems.c.case_id, problems.c.problem_type)):
        add(p.case_id, 'problem_types', value=p.problem_type)
    for m in conn.execute(sa.select(meetings.c.case_id, meetings.c.met_on).order_by(meetings.c.case_id,
                                                                                   meetings.c.met_on)):
        add(m.case_id, 'meetings', day=m.met_on)
    for a in conn.execute(sa.select(actions.c.case_id, actions.c.acted_on).order_by(actions.c.case_id,
                                                                                  actions.c.acted_on)):
        add(a.case_id, 'actions', day=a.acted_on)
    for i in range(0, len(found), BATCH):
        conn.execute(entries.insert(), found[i:i + BATCH])
    for table in ('case_problem_types', 'case_meetings', 'case_actions', 'case_facts'):
        op.drop_table(table)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM report_entries WHERE report_key = 'family_care'"))
    op.execute(sa.text("DELETE FROM report_cases WHERE report_key = 'family_care'"))
    op.create_table(
        'case_facts',
        sa.Column('case_id', ID, sa.ForeignKey('cases.id'), primary_key=True),
        sa.Column('process_key', sa.String(100), nullable=False),
        sa.Column('client_id', ID, sa.ForeignKey('clients.id'), nullable=True),
        sa.Column('caseworker_id', ID, nullable=True),
        sa.Column('client_status', sa.String(10), nullable=True),
        sa.Column('taken_into_care', sa.Date(), nullable=True),
        sa.Column('household_size', sa.Integer(), nullable=True),
        sa.Column('total_income', ID, nullable=True),
        sa.Column('per_capita_income', sa.Float(), nullable=True),
        sa.Column('agreement_date', sa.Date(), nullable=True),
        sa.Column('closure_date', sa.Date(), nullable=True),
        sa.Column('closure_reason', sa.String(40), nullable=True),
        sa.Column('follow_up', sa.Boolean(), nullable=True),
        sa.Column('care_days', sa.Integer(), nullable=True),
        sa.Column('digest', sa.String(64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_case_facts_care', 'case_facts', ['taken_into_care', 'closure_date'])
    op.create_index('ix_case_facts_closure', 'case_facts', ['closure_date', 'caseworker_id', 'closure_reason',
                                                            'care_days', 'follow_up', 'client_id'])
    op.create_index('ix_case_facts_caseworker', 'case_facts', ['caseworker_id', 'taken_into_care', 'closure_date',
                                                               'client_id'])
    op.create_index('ix_case_facts_caseworker_clients', 'case_facts', ['caseworker_id', 'client_id',
                                                                       'taken_into_care', 'closure_date'])
    op.create_table(
        'case_problem_types',
        sa.Column('case_id', ID, sa.ForeignKey('cases.id'), primary_key=True),
        sa.Column('problem_type', sa.String(40), primary_key=True),
        sa.Column('client_id', ID, nullable=True),
        sa.Column('caseworker_id', ID, nullable=True),
        sa.Column('process_key', sa.String(100), nullable=True),
        sa.Column('taken_into_care', sa.Date(), nullable=True),
        sa.Column('closure_date', sa.Date(), nullable=True),
        sa.Column('agreed', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_case_problem_types_period', 'case_problem_types', [
        'problem_type', 'client_id', 'taken_into_care', 'closure_date', 'agreed', 'caseworker_id'])
    for name, column in (('case_meetings', 'met_on'), ('case_actions', 'acted_on')):
        op.create_table(
            name,
            sa.Column('id', ID, primary_key=True),
            sa.Column('case_id', ID, sa.ForeignKey('cases.id'), nullable=False),
            sa.Column(column, sa.Date(), nullable=False),
            sa.Column('caseworker_id', ID, nullable=True),
            sa.Column('process_key', sa.String(100), nullable=False),
        )
        op.create_index(f'ix_{name}_case_id', name, ['case_id'])
        op.create_index(f'ix_{name}_on', name, [column, 'caseworker_id'])
