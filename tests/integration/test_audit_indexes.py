"""A case's history is read through the (case_id, seq) index; no second index on case_id is kept up to date."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect, text


def test_the_case_history_index_is_the_only_case_index_of_audit_events(database_url):
    engine = create_engine(database_url)
    try:
        indexes = {ix["name"]: ix["column_names"] for ix in inspect(engine).get_indexes("audit_events")}
        assert indexes.get("ix_audit_events_case_seq") == ["case_id", "seq"]
        assert "ix_audit_events_case_id" not in indexes, "migration 0007 drops the index (case_seq covers it)"
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                plan = " ".join(str(row[-1]) for row in connection.execute(text(
                    "EXPLAIN QUERY PLAN SELECT id FROM audit_events WHERE case_id = 1 ORDER BY seq")))
            assert "ix_audit_events_case_seq" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        engine.dispose()
