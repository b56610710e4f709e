"""Migration 0017: family care's indicator rows of an existing database become the declared report's rows, with
the same facts under the report's names (bpmn/family_care/reports/family_care.yaml), and come back empty on a
downgrade."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import command

from engine.store import migrate


def test_the_family_care_rows_are_carried_over_and_the_old_tables_dropped(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    config = migrate.alembic_config(url)
    command.upgrade(config, "0016_declared_reports")
    engine = sa.create_engine(url)
    at = dt.datetime(2026, 2, 14, 10, tzinfo=dt.timezone.utc)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO process_definitions (id, process_key, version, name, content_hash, bpmn_xml, "
                          "spec_json, forms, task_catalogue, deployed_at, deployed_by) VALUES (1, 'family_care', 1, "
                          "'FC', 'h', '<x/>', '{}', '{}', '{}', :at, 'test')"), {"at": at})
        c.execute(sa.text("INSERT INTO cases (id, definition_id, process_key, status, state, lock_version, started_at, "
                          "started_by, audit_head, audit_seq, caseworker_id) VALUES (7, 1, 'family_care', 'running', "
                          "x'00', 1, :at, 'test', '', 0, NULL)"), {"at": at})
        c.execute(sa.text("INSERT INTO case_facts (case_id, process_key, client_id, caseworker_id, client_status, "
                          "taken_into_care, household_size, total_income, per_capita_income, agreement_date, "
                          "closure_date, closure_reason, follow_up, care_days, digest, updated_at) VALUES (7, "
                          "'family_care', NULL, 3, 'new', '2026-01-10', 2, 50000, 25000.0, '2026-01-20', "
                          "'2026-02-01', 'successful', 1, 22, 'd', :at)"), {"at": at})
        c.execute(sa.text("INSERT INTO case_problem_types (case_id, problem_type, client_id, caseworker_id, "
                          "process_key, taken_into_care, closure_date, agreed) VALUES (7, 'financial', NULL, 3, "
                          "'family_care', '2026-01-10', '2026-02-01', 1)"))
        for day in ("2026-01-12", "2026-01-15"):
            c.execute(sa.text("INSERT INTO case_meetings (case_id, met_on, caseworker_id, process_key) VALUES "
                              "(7, :d, 3, 'family_care')"), {"d": day})
        c.execute(sa.text("INSERT INTO case_actions (case_id, acted_on, caseworker_id, process_key) VALUES "
                          "(7, '2026-01-13', 3, 'family_care')"))

    command.upgrade(config, "head")
    with engine.connect() as c:
        tables = set(sa.inspect(c).get_table_names())
        assert not {"case_facts", "case_problem_types", "case_meetings", "case_actions"} & tables
        report, start, end, cw, facts = c.execute(sa.text(
            "SELECT report_key, start_day, end_day, caseworker_id, facts FROM report_cases WHERE case_id = 7")).one()
        assert (report, start, end, cw) == ("family_care", "2026-01-10", "2026-02-01", 3)
        assert json.loads(facts) == {
            "client_status": "new", "taken_into_care": "2026-01-10", "household_size": 2, "total_income": 50000,
            "per_capita_income": 25000.0, "income_per_person": 25000.0, "agreement_date": "2026-01-20",
            "closure_date": "2026-02-01", "closure_reason": "successful", "follow_up": True, "care_days": 22}
        entries = c.execute(sa.text("SELECT collection, position, day, value FROM report_entries "
                                    "ORDER BY collection, position")).all()
        assert [tuple(e) for e in entries] == [("actions", 0, "2026-01-13", None), ("meetings", 0, "2026-01-12", None),
                                               ("meetings", 1, "2026-01-15", None),
                                               ("problem_types", 0, None, "financial")]

    command.downgrade(config, "0016_declared_reports")
    with engine.connect() as c:
        assert {"case_facts", "case_problem_types", "case_meetings", "case_actions"} <= set(
            sa.inspect(c).get_table_names())
        assert c.execute(sa.text("SELECT count(*) FROM report_cases")).scalar() == 0
