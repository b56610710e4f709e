"""Migration 0021: existing report entries get their case's period days and their case's facts (a superset of the
carried ones, which the next command on the case or a rebuild narrows), on SQLite and PostgreSQL; the downgrade
takes the copies away."""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from engine.reports import grammar
from engine.store import migrate
from engine.store.config import BPMN_DIR

from ..conftest import PG_URL, _pg_reachable

AT = dt.datetime(2026, 2, 14, 10, tzinfo=dt.timezone.utc)
FACTS = {"taken_into_care": "2026-01-10", "agreement_date": "2026-01-20", "closure_date": "2026-02-01",
         "closure_reason": "successful", "household_size": 2}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'before.db'}"
        return
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable under CI=true: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem}); set CI=true to make this a failure")
    schema = f"segito_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _family_care_report() -> dict:
    path = BPMN_DIR / "family_care" / "reports" / "family_care.yaml"
    return grammar.normalised(grammar.parse(path.read_bytes(), path.name)[0])


def test_existing_entries_get_their_cases_period_and_carried_facts(url):
    config = migrate.alembic_config(url)
    command.upgrade(config, "0020_case_members")
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    with engine.begin() as c:
        meta.reflect(c, only=["package_versions", "report_definitions", "process_definitions", "cases",
                              "report_cases", "report_entries"])
        t = meta.tables
        c.execute(t["package_versions"].insert().values(id=1, package_key="family_care", version=1, name="FC",
                                                        content_hash="h", manifest={}, files={}, deployed_at=AT,
                                                        deployed_by="test"))
        c.execute(t["report_definitions"].insert().values(id=1, package_version_id=1, report_key="family_care",
                                                          file="reports/family_care.yaml",
                                                          definition=_family_care_report()))
        c.execute(t["process_definitions"].insert().values(
            id=1, process_key="family_care", version=1, name="FC", content_hash="h", bpmn_xml="<x/>", spec_json="{}",
            forms={}, task_catalogue={}, deployed_at=AT, deployed_by="test", package_version_id=1))
        for case_id in (7, 8):
            c.execute(t["cases"].insert().values(id=case_id, definition_id=1, process_key="family_care",
                                                 status="running", state=b"x", lock_version=1, started_at=AT,
                                                 started_by="test", audit_head="", audit_seq=0))
        for case_id, key in ((7, "family_care"), (8, "not_deployed")):
            c.execute(t["report_cases"].insert().values(
                report_key=key, case_id=case_id, process_key="family_care", start_day=dt.date(2026, 1, 10),
                end_day=dt.date(2026, 2, 1), facts=FACTS, digest="d", updated_at=AT))
            c.execute(t["report_entries"].insert().values(report_key=key, case_id=case_id, collection="problem_types",
                                                          position=0, value="financial", fields={}))

    command.upgrade(config, "head")
    with engine.connect() as c:
        rows = {r.case_id: r for r in c.execute(sa.text(
            "SELECT case_id, start_day, end_day, case_facts FROM report_entries"))}
        for case_id, carried in ((7, FACTS), (8, FACTS)):
            row = rows[case_id]
            assert (str(row.start_day), str(row.end_day)) == ("2026-01-10", "2026-02-01")
            facts = row.case_facts if isinstance(row.case_facts, dict) else json.loads(row.case_facts)
            assert facts == carried
        assert set(c.execute(sa.text("SELECT digest FROM report_cases")).scalars()) == {""}  # rewritten next time
        assert "ix_report_entries_value" in {i["name"] for i in sa.inspect(c).get_indexes("report_entries")}

    command.downgrade(config, "0020_case_members")
    with engine.connect() as c:
        assert "case_facts" not in {col["name"] for col in sa.inspect(c).get_columns("report_entries")}
    engine.dispose()
