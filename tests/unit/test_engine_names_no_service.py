"""engine/ names no service: a service's names and field ids live in its package (bpmn/<service>/,
docs/services.md). The modules that still do are listed here by file name, each to leave engine/ as its work
moves into packages; a new module naming a service fails this test."""
from __future__ import annotations

import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
SERVICE_NAMES = re.compile(r"family_care|job_retention|\bjr_|step_3_", re.IGNORECASE)
# A benchmark's file name is no service rule.
NOT_A_RULE = re.compile(r"bench_family_care\.py")
STILL_NAMING: set[str] = set()


def test_no_other_engine_module_names_a_service():
    naming = set()
    for path in ENGINE.rglob("*.py"):
        if "migrations" in path.parts:
            continue  # the schema's history is what it was
        text = NOT_A_RULE.sub("", path.read_text(encoding="utf-8"))
        if SERVICE_NAMES.search(text):
            naming.add(path.name)
    assert naming - STILL_NAMING == set(), "these engine modules name a service; move that into its package"
