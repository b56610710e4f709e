"""A form file's problems worded in the reader's language (web/findings.py; docs/services.md, "What is checked"):
in English exactly as the engine (and the command line) says it, in Hungarian with no English sentence, the names
and the JSON library's own words quoted."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from engine.definitions.form_files import check_form_file
from web import findings

FORM = {"type": "object", "properties": {
    "visit": {"type": "string", "x-visible-when": {"field": "visted", "equals": "yes"}, "x-label": {"hu": "L"}},
    "score": {"type": "integer", "x-computed": "sum_of_nothing", "x-label": {"hu": "P", "en": "S"}}}}


@pytest.mark.parametrize("text, codes", [
    (json.dumps(FORM), {"form_visible_when_unknown", "form_label_missing", "form_computation_unknown"}),
    ('{"type": "object",\n "properties": }', {"form_json_invalid"}),
    (json.dumps({"type": "array"}), {"form_not_object"}),
    (json.dumps({"type": 5}), {"form_schema_invalid"}),
])
def test_a_forms_problems_are_worded_in_each_language(runtime, text, codes):
    from tests.integration.web_client import make_app

    _schema, problems = check_form_file("visit.json", text)
    coded = [p for p in problems if p.get("code") in codes]
    assert {p["code"] for p in coded} == codes, problems
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(coded, "en")
        hungarian = findings.worded(coded, "hu")
    for problem, en, hu in zip(coded, english, hungarian):
        assert en["message"] == problem["message"], "the web's English is the engine's"
        assert hu["message"] != problem["message"] and hu["message_en"] == problem["message"]
        words = hu["message"].replace(str(problem["params"].get("detail", "")), "").lower()  # the library's own
        assert not any(w in words for w in ("field ", "refers to", "which", "needs", "unknown", "not valid",
                                            "must have")), hu["message"]


def test_a_packages_own_problems_are_worded_in_each_language(runtime):
    """A stray folder and a role the engine does not know, refused with the manifest field's path."""
    from pathlib import Path

    from engine.packages.check import check
    from engine.packages.load import from_files
    from tests.integration.web_client import make_app

    folder = Path(__file__).resolve().parents[2] / "docs" / "examples" / "self_help_group"
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    files["service.yaml"] = files["service.yaml"].replace(b"  caseworker:\n    lane: group_leader",
                                                          b"  caseworkr:\n    lane: group_leader")
    files["junk/notes.txt"] = b"x"
    problems = [p.to_dict() for p in check(from_files(files, "self_help_group")).problems]
    coded = {p["code"]: p for p in problems if p.get("code")}
    assert {"folder_unknown", "role_unknown"} <= set(coded), problems
    assert coded["role_unknown"]["params"]["path"] == "roles.caseworkr"
    with make_app(runtime).test_request_context("/"):
        english = {p["code"]: p for p in findings.worded(coded.values(), "en")}
        hungarian = {p["code"]: p for p in findings.worded(coded.values(), "hu")}
    for code in ("folder_unknown", "role_unknown"):
        assert english[code]["message"] == coded[code]["message"]
    assert hungarian["role_unknown"]["message"].startswith("roles.caseworkr: ismeretlen szerepkör: 'caseworkr'")
    assert hungarian["folder_unknown"]["message"].startswith("a(z) 'junk/' mappa nem része a csomagnak")


@pytest.mark.parametrize("manifest, code, hungarian", [
    (b"key: x\ncolour: red\n", "field_unknown", "(top level): ismeretlen mező(k):"),
    (b"key: [x\n", "yaml_invalid", "nem érvényes YAML: "),
    (b"key: 5\n", "schema_mismatch", "(top level): nem felel meg a csomag formátumának: "),
])
def test_a_manifests_problems_are_worded_in_each_language(runtime, manifest, code, hungarian):
    from engine.packages import manifest as manifest_format
    from tests.integration.web_client import make_app

    _data, _lines, problems = manifest_format.parse(manifest)
    found = [p.to_dict() for p in problems if p.code == code and p.params.get("path") in (None, "key", "(top level)")]
    assert found, [p.to_dict() for p in problems]
    with make_app(runtime).test_request_context("/"):
        [english] = findings.worded(found[:1], "en")
        [magyar] = findings.worded(found[:1], "hu")
    assert magyar["message"].startswith(hungarian), magyar
    assert english["message"] != magyar["message"] and english["message_en"] == found[0]["message"]
    if code == "field_unknown":
        assert "'colour'" in magyar["message"] and english["message"] == "(top level): unknown field(s) 'colour'"


def test_a_refused_package_on_a_page_lists_its_problems_in_the_readers_language(runtime, people):
    """A page refused with a package's problems (publishing a draft the checks now refuse) lists each worded."""
    from engine.errors import PackageInvalid
    from tests.integration.web_client import browser, make_app

    app = make_app(runtime)
    detail = {"file": "service.yaml", "line": 3, "message": "roles.caseworkr: unknown role 'caseworkr' (the "
              "engine's roles: caseworker)", "code": "role_unknown",
              "params": {"path": "roles.caseworkr", "role": "caseworkr", "known": "caseworker"}}

    def refused():
        raise PackageInvalid("package x was refused (1 problem(s))", [detail])

    app.add_url_rule("/test-refused-package", "test_refused_package", refused)
    dora = browser(app, "dora")
    page = dora.get("/test-refused-package")
    assert page.status_code == 422
    said = html.unescape(page.get_data(as_text=True))
    assert "service.yaml:3: roles.caseworkr: ismeretlen szerepkör: 'caseworkr'" in said
    assert "unknown role" not in said and "was refused" not in said
    dora.post("/language", {"locale": "en"})
    said = html.unescape(dora.get("/test-refused-package").get_data(as_text=True))
    assert "service.yaml:3: roles.caseworkr: unknown role 'caseworkr'" in said and "szerepkör" not in said


def test_a_start_from_a_process_not_deployed_is_answered_in_the_requests_language(runtime, people):
    """Checked against the database (engine/packages/deploy.py): the API's 422 in Hungarian and in English."""
    import io
    import zipfile
    from pathlib import Path

    from web.app import create_app

    from .test_api import Api

    folder = Path(__file__).resolve().parents[2] / "docs" / "examples" / "self_help_group"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if path.name == "service.yaml":
                data = data.replace(b"from: intake", b"from: no_such_process")
            z.writestr(path.relative_to(folder).as_posix(), data)
    api = Api(create_app(runtime, {"TESTING": True}).test_client())
    said = {}
    for language in ("hu", "en"):
        answer = api.as_("dora").post("/api/packages", data={"package": (io.BytesIO(archive.getvalue()), "p.zip")},
                                      content_type="multipart/form-data", headers={"Accept-Language": language})
        assert answer.status_code == 422
        [problem] = answer.get_json()["details"]
        assert (problem["code"], problem["params"]["process"]) == ("start_from_not_deployed", "no_such_process")
        said[language] = problem["message"]
    assert said["hu"] == ("processes.self_help_group.start.from: a(z) 'no_such_process' folyamat nincs telepítve")
    assert said["en"] == "processes.self_help_group.start.from: process 'no_such_process' is not deployed"


CONVENTIONS = {"type": "object", "properties": {
    "next": {"type": "string", "enum": ["Intake"], "x-starts-case": True, "x-label": {"hu": "K", "en": "N"}},
    "rows": {"type": "array", "items": {"type": "object"}, "x-expected-count": {"field": "next"},
             "x-append-only": True, "x-min-new-rows": -1, "x-label": {"hu": "S", "en": "R"}},
    "seen": {"type": "string", "x-visible-when": {"field": "next", "in": []}, "x-not-future": True,
             "x-required-when-differs": {"field": "x"}, "x-label": {"hu": "L", "en": "S"}},
    "born": {"type": "string", "format": "date", "x-not-future": 1, "x-max-years-back": 0, "x-not-before": "x",
             "x-label": {"hu": "Sz", "en": "B"}},
    "pick": {"type": "string", "enum": ["a", "b"], "x-options": {"a": {"hu": "A"}}, "x-label": {"hu": "V", "en": "P"}},
    "kind": {"type": "string", "enum": ["a"], "x-options": ["a"], "x-label": {"hu": "F", "en": "K"}},
    "came": {"type": "array", "x-members": "join", "items": {"type": "object", "properties": {
        "joined_on": {"type": "string"}, "client_code": {"type": "string"}}},
        "x-members-all": True, "x-label": {"hu": "J", "en": "C"}},
    "went": {"type": "string", "x-members": "gone", "x-label": {"hu": "M", "en": "W"}},
    "left": {"type": "array", "x-members": "leave", "items": {"type": "object", "properties": {
        "client_code": {"type": "string"}}}, "x-label": {"hu": "T", "en": "L"}},
    "here": {"type": "string", "x-members": "attendance", "x-label": {"hu": "I", "en": "H"}}},
    "x-review": [{"label": {"hu": "A"}, "fields": ["next"]}]}


def test_a_forms_rarer_conventions_are_worded_in_each_language(runtime):
    """x-starts-case, x-expected-count, x-options, date rules, append-only, members and review: in English as the
    engine says it, in Hungarian with no English sentence (the keywords and their shapes are the form file's)."""
    from engine.definitions.form_files import append_only_agreement
    from engine.forms import review
    from tests.integration.web_client import make_app

    _schema, problems = check_form_file("visit.json", json.dumps(CONVENTIONS))
    problems += append_only_agreement({"a.json": CONVENTIONS, "b.json": {"type": "object", "properties": {
        "rows": {"type": "array", "items": {"type": "object"}}}}})
    problems += review.reference_problems({"a.json": {"x-review": [
        {"label": {"hu": "A", "en": "A"}, "fields": ["nothing"]},
        {"label": {"hu": "A", "en": "A"}, "fields": ["rows"], "by": "who"}], "properties": {"rows": {
            "type": "array", "items": {"type": "object", "properties": {}}}}}})
    codes = {p.get("code") for p in problems}
    assert not [p for p in problems if not p.get("code")], problems
    assert {"form_starts_case_invalid", "form_expected_count_invalid", "form_min_new_rows_invalid",
            "form_visible_when_in_invalid", "form_date_rule_not_date", "form_required_when_differs_invalid",
            "form_not_future_invalid", "form_max_years_back_invalid", "form_not_before_invalid",
            "form_option_labels_missing", "form_options_not_map", "members_row_field_missing", "members_not_date",
            "members_client_code_optional", "members_all_invalid", "members_kind_unknown", "members_not_block",
            "form_review_invalid", "form_append_only_elsewhere", "form_review_key_unknown",
            "form_review_by_unknown"} <= codes, codes
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        assert en["message"] == problem["message"], "the web's English is the engine's"
        assert hu["message"] != problem["message"] and hu["message_en"] == problem["message"]
        assert not any(w in hu["message"] for w in ("field '", " must ", " needs ", "which", " is one of ",
                                                    "apply only", " of a ", "repeatable", " names ")), hu["message"]
    said = {p["code"]: p["message"] for p in hungarian}
    assert said["form_option_labels_missing"].endswith("hiányzik ezeknél: a, b"), said
    assert said["members_kind_unknown"].startswith("went mező: az x-members értéke ezek egyike: join, leave")


def test_a_packages_test_files_problems_are_worded_in_each_language(runtime):
    """A test-run file in a subfolder, an empty one, one that is no mapping, one off the format and one naming a
    process the package does not have: coded, and in Hungarian with only jsonschema's words quoted."""
    from pathlib import Path

    from engine.packages.check import check
    from engine.packages.load import from_files
    from tests.integration.web_client import make_app

    folder = Path(__file__).resolve().parents[2] / "docs" / "examples" / "self_help_group"
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    files |= {"tests/deep/a.yaml": b"x: 1\n", "tests/empty.yaml": b"", "tests/list.yaml": b"- a\n",
              "tests/off.yaml": b"format: 1\nprocess: intake\n", "tests/other.yaml": b"format: 1\nprocess: "
              b"elsewhere\ntasks: {}\n"}
    problems = [p.to_dict() for p in check(from_files(files, "self_help_group")).problems
                if p.file.startswith("tests/")]
    assert {(p["file"], p.get("code")) for p in problems} >= {
        ("tests/deep/a.yaml", "tests_folder_file"), ("tests/empty.yaml", "yaml_empty"),
        ("tests/list.yaml", "yaml_not_mapping"), ("tests/off.yaml", "schema_mismatch"),
        ("tests/other.yaml", "process_not_in_package")}, problems
    assert all(p.get("code") for p in problems), problems
    with make_app(runtime).test_request_context("/"):
        hungarian = findings.worded(problems, "hu")
        english = findings.worded(problems, "en")
    for problem, hu, en in zip(problems, hungarian, english):
        words = hu["message"].replace(str(problem["params"].get("detail", "")), "")
        assert hu["message"] != problem["message"] and not any(
            w in words for w in (" holds ", " is empty", " must ", " is not ", "does not")), hu["message"]
        if problem["code"] != "schema_mismatch":  # there the web says which format, the engine quotes jsonschema
            assert en["message"] == problem["message"] or problem["code"].startswith("yaml_"), en
    said = {p["file"]: p["message"] for p in hungarian}
    assert said["tests/other.yaml"] == "process: a(z) 'elsewhere' nem folyamata ennek a csomagnak", said


def test_a_bpmn_files_process_properties_and_date_references_are_worded_in_each_language(runtime):
    """Process properties (unknown, not true/false, startedBy naming no role) and an x-not-before naming a date
    its step does not record: in English as the engine says it, in Hungarian with no English sentence."""
    from engine.definitions.definitions import validate
    from engine.errors import DefinitionInvalid
    from tests.integration.web_client import make_app

    from .test_form_rules import _family_upload

    def wrong_field(schema):
        schema["properties"]["agreement_date"]["x-not-before"] = {"field": "closure_date", "step": "3.1"}
        return schema

    properties = ('<spiff:property name="oneOpenCasePerClient" value="yes" />'
                  '<spiff:property name="oneOpenCase" value="true" /><spiff:property name="startedBy" value="nobody" ')
    with pytest.raises(DefinitionInvalid) as err:
        validate(_family_upload(bpmn_change=lambda x: x.replace('<spiff:property name="oneOpenCasePerClient" '
                                                                'value="true" ', properties),
                                form_change=("agreement.json", wrong_field)))
    problems = err.value.details
    assert {p.get("code") for p in problems} == {"process_property_not_boolean", "process_property_unknown",
                                                 "started_by_unknown_role", "date_reference_unrecorded"}, problems
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        assert en["message"] == problem["message"], "the web's English is the engine's"
        assert not any(w in hu["message"] for w in ("property", " names ", " must ", "which", "unknown", "known")), \
            hu["message"]
    said = {p["code"]: p["message"] for p in hungarian}
    assert "'closure_date'" in said["date_reference_unrecorded"] and "3.1 lépés" in said["date_reference_unrecorded"]


def test_a_process_not_marked_executable_is_worded_in_each_language(runtime):
    from tests.integration.web_client import make_app

    problem = {"file": "a.bpmn", "line": 6, "message": 'intake: isExecutable="false": not a process to run',
               "code": "process_not_executable", "params": {"element": "intake", "value": "false"}}
    with make_app(runtime).test_request_context("/"):
        [english] = findings.worded([problem], "en")
        [hungarian] = findings.worded([problem], "hu")
    assert english["message"] == problem["message"]
    assert hungarian["message"] == 'intake: isExecutable="false": nem futtatandó folyamat'


def test_a_demo_scripts_problems_are_worded_in_each_language(runtime, tmp_path):
    """Every problem of a bad demo script (test_demo.py) carries a code: in English as the engine says it, in
    Hungarian with no English sentence (jsonschema's words quoted)."""
    from engine import packages
    from engine.errors import PackageInvalid
    from engine.store import clock
    from tests.integration.web_client import make_app

    from .test_demo import BAD_SCRIPT, _copy

    folder = _copy(tmp_path, "family_care") / "family_care"
    (folder / "demo" / "bad.yaml").write_text(BAD_SCRIPT + "  - name: later\n    process: family_care\n"
                                              "    by: anna\n    client: \"${kovacs_eva.client_code}\"\n"
                                              "  - process: family_care\n    by: anna\n    client: ${x}\n",
                                              encoding="utf-8")
    (folder / "demo" / "typo.yaml").write_text("format: 1\ncases:\n  - process: family_care\n    by: anna\n"
                                               "    clinet: K-1\n", encoding="utf-8")
    (folder / "demo" / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(PackageInvalid) as refused:
        packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    problems = [d for d in refused.value.details if d["file"].startswith("demo/")]
    assert all(p.get("code") for p in problems), [p for p in problems if not p.get("code")]
    assert {"demo_fields_unknown", "demo_task_unknown", "demo_user_unknown", "demo_role_missing",
            "demo_data_unknown", "demo_expression_invalid", "demo_process_unknown", "demo_may_not_start",
            "demo_client_missing", "demo_case_later", "demo_name_twice", "demo_folder_file",
            "schema_mismatch"} <= {p["code"] for p in problems}, problems
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        if problem["code"] != "schema_mismatch":
            assert en["message"] == problem["message"], "the web's English is the engine's"
        words = hu["message"].replace(str(problem["params"].get("detail", "")), "")
        assert not any(w in words for w in (" is not ", " has no ", " does not", "neither", " may not", " holds ",
                                            "already", " played", "named")), hu["message"]
    said = {p["code"]: p["message"] for p in hungarian}
    assert "' sem a bemutató lejátszásának napjához" in said["demo_expression_invalid"], said


def test_a_documents_parts_problems_are_worded_in_each_language(runtime, tmp_path):
    """documents/: a stray file, a template that does not parse, a step, field, log form and template the package
    lacks, an id twice: coded, in English as the engine says it, in Hungarian with only Jinja's words quoted."""
    from engine import packages
    from engine.errors import PackageInvalid
    from engine.store import clock
    from tests.integration.web_client import make_app

    from .test_documents import PNG, _package_copy

    folder = _package_copy(tmp_path)
    yaml_file = folder / "documents" / "documents.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    text = text.replace("steps: [step_3_1, step_3_3, step_3_7]", "steps: [step_3_1, step_9_9]")
    text = text.replace("fields: [taken_into_care_date, agreement_date, meetings,",
                        "fields: [taken_into_care_date, agreement_date, meeting_notes, meetings,")
    yaml_file.write_text(text, encoding="utf-8")
    (folder / "documents" / "case_log.html").write_text("{% if %}\n", encoding="utf-8")
    (folder / "documents" / "logo.png").write_bytes(PNG)
    with pytest.raises(PackageInvalid) as refused:
        packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    problems = [d for d in refused.value.details if d["file"].startswith("documents/")]
    assert {"user_task_unknown", "document_field_unknown", "template_syntax", "documents_folder_file"} <= \
        {p.get("code") for p in problems}, problems
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        assert en["message"] == problem["message"], "the web's English is the engine's"
        words = hu["message"].replace(str(problem["params"].get("detail", "")), "")
        assert not any(w in words for w in (" holds ", "no process", "no form", "template syntax")), hu["message"]
    said = {p["code"]: p["message"] for p in hungarian}
    assert said["document_field_unknown"].endswith("a csomag egyik űrlapján sincs 'meeting_notes' mező"), said


SHAPED = {"type": "object", "x-anonymous": {"questionnaire": "Bad", "period": "week", "min_answers": 0,
                                            "hand_out_days": 0, "pair": {"field": "code", "group": "g",
                                                                          "moment": "start"}},
          "properties": {
              "code": {"type": "integer", "x-label": {"hu": "K", "en": "C"}},
              "kind": {"type": "string", "x-computed": {"what": 1}, "x-label": {"hu": "F", "en": "K"}},
              "total": {"type": "number", "x-computed": {"sum": ["nothing"]}, "x-label": {"hu": "Ö", "en": "T"}},
              "none": {"type": "number", "x-computed": {"sum": []}, "x-label": {"hu": "N", "en": "N"}},
              "band": {"type": "string", "x-computed": {"band": 1}, "x-label": {"hu": "S", "en": "B"}},
              "first": {"type": "string", "x-computed": {"earliest": "x"}, "x-label": {"hu": "E", "en": "F"}},
              "look": {"type": "string", "x-computed": {"lookup": 1}, "x-label": {"hu": "L", "en": "L"}},
              "fig": {"type": "number", "x-prefill-report": {"report": "r", "figure": "t.c", "period": 1, "scale": 2},
                      "x-label": {"hu": "A", "en": "F"}},
              "bad": {"type": "number", "x-prefill-report": 1, "x-label": {"hu": "R", "en": "B"}},
              "why": {"type": "string", "x-prefill-report-evidence": "fig", "x-label": {"hu": "I", "en": "W"}},
              "lost": {"type": "string", "x-prefill-report-evidence": "nothing", "readOnly": True,
                       "x-label": {"hu": "V", "en": "L"}},
              "text": {"type": "string", "x-prefill-report-evidence": "fig", "readOnly": True,
                       "x-label": {"hu": "Sz", "en": "T"}},
              "who": {"type": "string", "x-visible-when": {"field": "code", "equals": 1}, "x-label": {"hu": "K",
                                                                                                      "en": "W"}}}}


def test_computed_report_and_anonymous_forms_problems_are_worded_in_each_language(runtime):
    """x-computed formulas, fields filled from a report and an anonymous questionnaire's mark: every problem coded,
    in English as the engine says it, in Hungarian with no English sentence (the form file's shapes quoted)."""
    from tests.integration.web_client import make_app

    _schema, problems = check_form_file("survey.json", json.dumps(SHAPED))
    _schema, more = check_form_file("other.json", json.dumps({"type": "object", "x-anonymous": [], "properties": {}}))
    problems += more + [{"file": "a.bpmn", "line": 1, "message": "DOCTYPE declarations and entities are not allowed",
                         "code": "bpmn_doctype", "params": {}}]
    assert not [p for p in problems if not p.get("code")], problems
    assert {"computed_kind_unknown", "computed_sum_unknown", "computed_sum_invalid", "computed_band_invalid",
            "computed_earliest_invalid", "computed_lookup_invalid", "report_prefill_invalid", "report_take_missing",
            "report_period_invalid", "report_scale_invalid", "report_prefill_not_read_only",
            "report_evidence_not_read_only", "report_evidence_unknown", "report_evidence_not_text",
            "anonymous_invalid", "anonymous_questionnaire_invalid", "anonymous_period_invalid",
            "anonymous_min_answers_invalid", "anonymous_hand_out_days_invalid", "anonymous_pair_field_invalid",
            "anonymous_keyword_refused"} <= {p["code"] for p in problems}, {p["code"] for p in problems}
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        assert en["message"] == problem["message"], "the web's English is the engine's"
        assert hu["message"] != problem["message"]
        assert not any(w in hu["message"] for w in ("field '", " must ", " needs ", " names ", " is a ", " cannot ",
                                                    " not allowed", " one of ")), hu["message"]


def _zip(*entries) -> bytes:
    import io
    import warnings
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a name twice is what is refused
        for name in entries:
            z.writestr(name, b"x")
    return out.getvalue()


@pytest.mark.parametrize("archive, code, hungarian", [
    (b"not a zip", "archive_not_zip", "nem zip-archívum ("),
    (_zip("a/../b.txt"), "archive_path_dots", "'..' vagy '.' részt tartalmazó útvonal"),
    (_zip("/etc/passwd"), "archive_path_absolute", "abszolút vagy Windows-stílusú útvonal"),
    (_zip("p/service.yaml", "p/service.yaml"), "archive_entry_twice", "kétszer szerepel az archívumban"),
])
def test_an_archives_problems_are_worded_in_each_language(runtime, archive, code, hungarian):
    from engine.errors import PackageInvalid
    from engine.packages.load import from_zip
    from tests.integration.web_client import make_app

    with pytest.raises(PackageInvalid) as refused:
        from_zip(archive)
    [problem] = refused.value.details
    assert problem["code"] == code, problem
    with make_app(runtime).test_request_context("/"):
        [english] = findings.worded([problem], "en")
        [magyar] = findings.worded([problem], "hu")
    assert english["message"] == problem["message"]
    assert magyar["message"].startswith(hungarian), magyar


def test_a_report_files_problems_are_worded_in_each_language(runtime, tmp_path):
    """A report naming a pair group and an item that do not exist, a period on anonymous answers, an unknown fact:
    every problem coded, in English as the engine says it, in Hungarian with no English sentence."""
    import shutil

    from engine.packages import load
    from engine.packages.check import check
    from tests.integration.web_client import make_app

    folder = tmp_path / "self_help_groups"
    shutil.copytree(Path(__file__).parents[2] / "bpmn" / "self_help_groups", folder)
    path = folder / "reports" / "self_help_groups.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("paired: {questionnaire: attitude, figure: improved}",
                        "paired: {questionnaire: mood, figure: improved}")
    text = text.replace("paired: {questionnaire: attitude, figure: worse}",
                        "paired: {questionnaire: attitude, figure: worse, item: jelszo}")
    text = text.replace("paired: {questionnaire: attitude, figure: unchanged}",
                        "paired: {questionnaire: attitude, figure: unchanged}\n    period: active")
    path.write_text(text, encoding="utf-8")
    (folder / "reports" / "deep").mkdir()
    (folder / "reports" / "deep" / "x.yaml").write_text("key: x\n", encoding="utf-8")
    problems = [p.to_dict() for p in check(load.from_folder(folder)).problems if p.file.startswith("reports/")]
    assert not [p for p in problems if not p.get("code")], problems
    assert {"report_pair_group_unknown", "report_pair_item_unknown", "report_pair_reads_cases",
            "reports_folder_file"} <= {p["code"] for p in problems}, problems
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        assert en["message"] == problem["message"], "the web's English is the engine's"
        assert not any(w in hu["message"] for w in (" is not ", " reads ", " holds ", " no ", " with ")), hu["message"]
    said = {p["code"]: p["message"] for p in hungarian}
    assert "nincs kezdő és záró űrlappal bíró 'mood' névtelen kérdőív-párcsoport" in said["report_pair_group_unknown"]


def test_a_manifests_start_and_legal_basis_problems_are_worded_in_each_language(runtime):
    """A case started from nothing and not by hand, with start data, under a basis of consent without a statement:
    coded, in English as the engine says it, in Hungarian with no English sentence."""
    from engine.packages.check import check
    from engine.packages.load import from_files
    from tests.integration.web_client import make_app

    folder = Path(__file__).resolve().parents[2] / "docs" / "examples" / "self_help_group"
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    files["service.yaml"] = (files["service.yaml"].replace(b"article_6: e ", b"article_6: a ")
                             .replace(b"from: intake ", b"from: nothing\n      manual: false "))
    problems = [p.to_dict() for p in check(from_files(files, "self_help_group")).problems
                if p.file == "service.yaml"]
    assert {"start_never", "start_data_without_client", "consent_missing"} <= {p.get("code") for p in problems}, \
        problems
    problems += [
        {"file": "service.yaml", "line": 3, "message": "processes.x: a process that holds a person's data needs "
         "'legal_basis' (article_6, article_9 for special categories, the law; docs/services.md)",
         "code": "legal_basis_missing", "params": {"path": "processes.x"}},
        {"file": "service.yaml", "line": 3, "message": "processes.x.start.from: process 'y' registers no client (it "
         "has no 'registers_client')", "code": "start_from_registers_none",
         "params": {"path": "processes.x.start.from", "process": "y"}},
        {"file": "service.yaml", "line": 3, "message": "processes.x.legal_basis.consent.taken_at.task: no user task "
         "'sign' in x.bpmn", "code": "consent_task_unknown",
         "params": {"path": "processes.x.legal_basis.consent.taken_at.task", "task": "sign", "file": "x.bpmn"}}]
    with make_app(runtime).test_request_context("/"):
        english = findings.worded(problems, "en")
        hungarian = findings.worded(problems, "hu")
    for problem, en, hu in zip(problems, english, hungarian):
        if problem.get("code") in {"start_never", "start_data_without_client", "consent_missing",
                                   "legal_basis_missing", "start_from_registers_none", "consent_task_unknown"}:
            assert en["message"] == problem["message"], "the web's English is the engine's"
            assert not any(w in hu["message"] for w in (" needs ", " has no ", " starts ", " no user task")), hu


def test_a_bpmn_file_too_large_is_worded_in_each_language(runtime):
    from engine.definitions.definitions import MAX_BPMN_BYTES, Upload, validate
    from engine.errors import DefinitionInvalid
    from tests.integration.web_client import make_app

    with pytest.raises(DefinitionInvalid) as err:
        validate(Upload("big.bpmn", b" " * (MAX_BPMN_BYTES + 1), {}))
    [problem] = err.value.details
    with make_app(runtime).test_request_context("/"):
        [english] = findings.worded([problem], "en")
        [hungarian] = findings.worded([problem], "hu")
    assert english["message"] == problem["message"] == err.value.message
    assert hungarian["message"] == f"a(z) big.bpmn nagyobb {MAX_BPMN_BYTES} bájtnál"
