"""Drafts saved from the studio (engine/packages/drafts.py; docs/studio.md): a changed file over a stored version
becomes a new draft version, checked as a deploy is; a refused draft stores nothing and names each problem's
element; only BPMN files, forms and test runs are edited; unchanged content is not stored again."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import packages
from engine.errors import PackageInvalid, ValidationFailed
from engine.store import clock
from engine.store.models import PackageVersion


def _versions(runtime, key: str) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(func.count()).select_from(PackageVersion)
                               .where(PackageVersion.package_key == key)).scalar_one()


def _bpmn(runtime, version: int = 1) -> str:
    return packages.files_of(runtime, "intake", version)["intake.bpmn"].decode("utf-8")


def test_a_changed_bpmn_file_is_saved_as_a_checked_draft(runtime):
    changed = _bpmn(runtime).replace('name="Esetfelvétel"', 'name="Esetfelvétel (új)"')
    result = packages.save_draft(runtime, "intake", 1, {"intake.bpmn": changed}, "dora", clock.now(), "új név")
    assert result["created"] and result["draft"] and result["version"] == 2
    assert packages.files_of(runtime, "intake", 2)["intake.bpmn"].decode("utf-8") == changed
    with runtime.db.reading() as session:
        history = packages.package_history(session, "intake")
    assert [(v["version"], v["draft"], v["live"]) for v in history["versions"]] == [(2, True, False), (1, False, True)]
    again = packages.save_draft(runtime, "intake", 2, {"intake.bpmn": changed}, "dora", clock.now())
    assert (again["created"], again["version"]) == (False, 2)


def test_a_refused_draft_stores_nothing_and_names_the_element(runtime):
    broken = _bpmn(runtime).replace('<bpmn:flowNodeRef>intake_registration</bpmn:flowNodeRef>', '')
    with pytest.raises(PackageInvalid) as refused:
        packages.save_draft(runtime, "intake", 1, {"intake.bpmn": broken}, "dora", clock.now())
    [problem] = [p for p in refused.value.details if "no lane" in p["message"]]
    assert problem["file"] == "intake.bpmn" and problem["line"] and problem["element"] == "intake_registration"
    assert _versions(runtime, "intake") == 1


def test_a_condition_problem_points_at_its_flow_by_line(runtime):
    source = packages.files_of(runtime, "case_management", 1)["case_management.bpmn"].decode("utf-8")
    broken = source.replace("consent_given == True", "consent_given = = True")
    with pytest.raises(PackageInvalid) as refused:
        packages.save_draft(runtime, "case_management", 1, {"case_management.bpmn": broken}, "dora", clock.now())
    [problem] = [p for p in refused.value.details if "consent_given = = True" in p["message"]]
    assert problem["element"] == "flow_consent_yes"


@pytest.mark.parametrize("path", ["service.yaml", "reports/x.yaml", "../intake.bpmn", "other.bpmn"])
def test_only_bpmn_files_forms_and_test_runs_are_edited(runtime, path):
    with pytest.raises(ValidationFailed) as refused:
        packages.save_draft(runtime, "intake", 1, {path: "x"}, "dora", clock.now())
    assert refused.value.details[0]["value"] == path
    assert _versions(runtime, "intake") == 1
