"""Gateway conditions through the deploy path (docs/services.md, "Conditions that can never be true"): `segito
deploy` refuses a package whose condition compares a field with a value outside its options, storing nothing, and
deploys a draft whose exclusive gateway has an always-true condition, printing the warning and answering it."""
from __future__ import annotations

import json
import shutil

from sqlalchemy import func, select

from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent, PackageVersion

from .test_cli import Segito


def _counts(runtime) -> tuple[int, int]:
    with runtime.db.reading() as session:
        return (session.execute(select(func.count(PackageVersion.id))).scalar(),
                session.execute(select(func.count(AuditEvent.id))).scalar())


def test_deploy_refuses_a_never_true_condition_and_warns_of_an_always_true_one(runtime, people, database_url,
                                                                               tmp_path):
    segito = Segito(database_url)
    folder = tmp_path / "family_care"
    shutil.copytree(BPMN_DIR / "family_care", folder)
    bpmn = folder / "family_care.bpmn"
    original = bpmn.read_text(encoding="utf-8")
    line = original[:original.index("casework_next == 'case_discussion'")].count("\n") + 1

    bpmn.write_text(original.replace("casework_next == 'case_discussion'", "casework_next == 'case_discusion'"),
                    encoding="utf-8")
    before = _counts(runtime)
    result = segito("deploy", folder, "--draft", "--as", "dora")
    assert result.exit_code != 0
    assert f"family_care.bpmn:{line}: gw_casework_next: condition" in result.stderr
    assert "did you mean 'case_discussion'?" in result.stderr
    assert _counts(runtime) == before, "a refused draft stores nothing"

    bpmn.write_text(original.replace("casework_next == 'case_discussion'", "True"), encoding="utf-8")
    result = segito("deploy", folder, "--draft", "--as", "dora")
    assert result.exit_code == 0, result.output
    assert f"family_care.bpmn:{line}: warning: gw_casework_next: condition \"True\"" in result.stderr
    [deployed] = json.loads(result.stdout)
    assert deployed["created"] and deployed["draft"]
    [warning] = deployed["warnings"]
    assert (warning["file"], warning["line"]) == ("family_care.bpmn", line)
    assert "is always true" in warning["message"]
    with runtime.db.reading() as session:
        stored = session.execute(select(PackageVersion).where(PackageVersion.package_key == "family_care")
                                 .order_by(PackageVersion.version.desc()).limit(1)).scalar_one()
    assert (stored.version, stored.draft) == (deployed["version"], True)


def test_the_studio_saves_a_draft_with_its_warnings_and_publishing_shows_them_in_both_languages(runtime, people):
    from tests.integration.web_client import browser, make_app

    dora = browser(make_app(runtime), "dora")
    dora.get("/studio/family_care/1")
    xml = dora.get("/studio/family_care/1/files/family_care.bpmn").get_data(as_text=True)
    line = xml[:xml.index("casework_next == 'case_discussion'")].count("\n") + 1
    saved = dora.client.post("/studio/family_care/1/draft", content_type="application/json",
                             data=json.dumps({"file": "family_care.bpmn",
                                              "xml": xml.replace("casework_next == 'case_discussion'", "True")}),
                             headers={"X-CSRFToken": dora.token, "Accept": "application/json"})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    [warning] = saved.json["warnings"]
    assert (warning["file"], warning["line"]) == ("family_care.bpmn", line) and warning["element"]
    assert "is always true" in warning["message"]
    version = saved.json["version"]

    dora.get("/processes/family_care")
    published = dora.post(f"/packages/family_care/{version}/publish", {"process": "family_care"})
    assert published.status_code == 302
    page = dora.get("/processes/family_care").get_data(as_text=True)
    assert f"Figyelmeztetés: family_care.bpmn:{line}: gw_casework_next: condition" in page
    assert "flash-warning" in page

    misspelt = dora.client.post("/studio/family_care/1/draft", content_type="application/json",
                                data=json.dumps({"file": "family_care.bpmn", "xml": xml.replace(
                                    "casework_next == 'case_discussion'", "casework_next == 'case_discusion'")}),
                                headers={"X-CSRFToken": dora.token, "Accept": "application/json"})
    assert misspelt.status_code == 422
    [problem] = [p for p in misspelt.json["details"] if "case_discusion" in p["message"]]
    assert problem["line"] == line and "did you mean 'case_discussion'?" in problem["message"]

    assert dora.post("/packages/family_care/1/publish", {"process": "family_care"}).status_code == 302
    page = dora.get("/processes/family_care").get_data(as_text=True)
    assert "Figyelmeztetés" not in page, "version 1 has no warning"
    dora.post("/language", {"locale": "en"})
    assert dora.post(f"/packages/family_care/{version}/publish", {"process": "family_care"}).status_code == 302
    page = dora.get("/processes/family_care").get_data(as_text=True)
    assert f"Warning: family_care.bpmn:{line}: gw_casework_next: condition" in page and "Figyelmeztetés" not in page
