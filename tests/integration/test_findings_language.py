"""A form file's problems worded in the reader's language (web/findings.py; docs/services.md, "What is checked"):
in English exactly as the engine (and the command line) says it, in Hungarian with no English sentence, the names
and the JSON library's own words quoted."""
from __future__ import annotations

import json

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
