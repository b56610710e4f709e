"""Gateway conditions through the deploy path (docs/services.md, "Conditions that can never be true"): `segito
deploy` refuses a package whose condition compares a field with a value outside its options, storing nothing, and
deploys a draft whose exclusive gateway has an always-true condition, printing the warning and answering it."""
from __future__ import annotations

import html
import json
import re
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
    assert warning["code"] == "condition_always_true"
    assert warning["params"] | {"later": []} == {"element": "gw_casework_next", "expression": "True",
                                                 "target": "step_3_4", "why": "constant", "value": "True",
                                                 "later": []}
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
    # Worded in dora's language (Hungarian) by the web app; the engine's English sentence and the code stay.
    assert warning["code"] == "condition_always_true" and "is always true" in warning["message_en"]
    assert warning["message"].startswith("gw_casework_next: a(z) „True” feltétel (ide: step_3_4) mindig igaz")
    _no_english(warning["message"])
    version = saved.json["version"]

    dora.get("/processes/family_care")
    published = dora.post(f"/packages/family_care/{version}/publish", {"process": "family_care"})
    assert published.status_code == 302
    page = dora.get("/processes/family_care").get_data(as_text=True)
    assert f"Figyelmeztetés: family_care.bpmn:{line}: gw_casework_next: a(z) „True” feltétel" in page
    assert "flash-warning" in page and "is always true" not in page

    misspelt = dora.client.post("/studio/family_care/1/draft", content_type="application/json",
                                data=json.dumps({"file": "family_care.bpmn", "xml": xml.replace(
                                    "casework_next == 'case_discussion'", "casework_next == 'case_discusion'")}),
                                headers={"X-CSRFToken": dora.token, "Accept": "application/json"})
    assert misspelt.status_code == 422
    [problem] = [p for p in misspelt.json["details"] if "case_discusion" in p["message"]]
    assert problem["line"] == line and "did you mean 'case_discussion'?" in problem["message_en"]
    assert (problem["code"], problem["params"]["suggestion"]) == ("condition_never_true", "'case_discussion'")
    assert "erre gondolt: 'case_discussion'?" in problem["message"] and "sosem lehet igaz" in problem["message"]
    _no_english(problem["message"])

    assert dora.post("/packages/family_care/1/publish", {"process": "family_care"}).status_code == 302
    page = dora.get("/processes/family_care").get_data(as_text=True)
    assert "Figyelmeztetés" not in page, "version 1 has no warning"
    dora.post("/language", {"locale": "en"})
    assert dora.post(f"/packages/family_care/{version}/publish", {"process": "family_care"}).status_code == 302
    page = dora.get("/processes/family_care").get_data(as_text=True)
    assert f"Warning: family_care.bpmn:{line}: gw_casework_next: condition \"True\" (to step_3_4) is always true" \
        in html.unescape(page) and "Figyelmeztetés" not in page and "mindig igaz" not in page


# English words of the sentences in web/findings.py; the quoted names, values and ids hold none of them.
_ENGLISH = ("condition", "never", "always", "true", "did you mean", "reads", "which", "option", "field", "gateway",
            "the ", " is ")


def _no_english(sentence: str) -> None:
    quoted = re.sub(r"'[^']*'|„[^”]*”|\b(gw|step|flow)_\w+|\b(True|False)\b", "", sentence)
    found = [w for w in _ENGLISH if w in quoted.lower()]
    assert not found, (found, sentence)


def test_the_api_answers_each_problem_with_its_code_and_in_the_requests_language(runtime, people, tmp_path):
    """A misspelt name and a value outside a field's options, refused; an always-true condition, answered as a
    warning: code, params, file and line, and the message in Accept-Language's language (English without one)."""
    import io
    import zipfile

    from web.app import create_app

    from .test_api import Api

    api = Api(create_app(runtime, {"TESTING": True}).test_client())
    original = (BPMN_DIR / "family_care" / "family_care.bpmn").read_text(encoding="utf-8")

    def upload(bpmn: str, language: str | None) -> tuple[int, dict]:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            for path in sorted((BPMN_DIR / "family_care").rglob("*")):
                if path.is_file():
                    name = path.relative_to(BPMN_DIR / "family_care").as_posix()
                    z.writestr(name, bpmn if name == "family_care.bpmn" else path.read_bytes())
        headers = {"Accept-Language": language} if language else {}
        answer = api.as_("dora").post("/api/packages", data={"package": (io.BytesIO(archive.getvalue()), "p.zip"),
                                                             "draft": "true"},
                                      content_type="multipart/form-data", headers=headers)
        return answer.status_code, answer.get_json()

    broken = original.replace("casework_next == 'case_discussion'", "casework_nxt == 'case_discussion'") \
        .replace("casework_next == 'review'", "casework_next == 'reviw'")
    answers = {language: upload(broken, language) for language in (None, "en", "hu-HU,hu;q=0.9")}
    for language, (status, body) in answers.items():
        assert status == 422 and body["error"] == "package_invalid"
        by_code = {p["code"]: p for p in body["details"] if p.get("code")}
        unknown, never = by_code["name_unknown"], by_code["condition_never_true"]
        assert (unknown["file"], unknown["params"]["name"], unknown["params"]["suggestion"]) == (
            "family_care.bpmn", "casework_nxt", "casework_next")
        assert (never["params"]["value"], never["params"]["suggestion"]) == ("'reviw'", "'review'")
        assert unknown["line"] and never["line"] and unknown["severity"] == never["severity"] == "error"
        if language and language.startswith("hu"):
            assert "erre gondolt: 'casework_next'?" in unknown["message"], unknown
            assert "sosem lehet igaz" in never["message"] and "erre gondolt: 'review'?" in never["message"]
            _no_english(unknown["message"])
            _no_english(never["message"])
            assert "did you mean 'casework_next'?" in unknown["message_en"]
        else:
            assert unknown["message"] == unknown["message_en"], "the web words English as the engine does"
            assert never["message"] == never["message_en"]
            assert "did you mean 'casework_next'?" in unknown["message"]

    for language, condition, expected in (("hu", "1 == 1", "mindig igaz"), ("en", "2 == 2", "is always true")):
        status, body = upload(original.replace("casework_next == 'case_discussion'", condition), language)
        assert status == 201, body
        [warning] = body["warnings"]
        assert warning["code"] == "condition_always_true" and warning["severity"] == "warning"
        assert expected in warning["message"], warning
        assert warning["params"]["why"] == "constants_compared" and warning["params"]["result"] is True
