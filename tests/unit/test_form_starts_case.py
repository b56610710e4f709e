"""The form keywords a referral uses (docs/forms.md): ``x-starts-case`` is checked at deploy, and
``x-visible-when`` ``in`` shows a field for any of several values of a choice."""
from __future__ import annotations

import json

import pytest

from engine.definitions.form_files import check_form_file
from engine.errors import ValidationFailed
from engine.forms.forms import Form

LABEL = {"hu": "x", "en": "x"}


def _options(*codes: str) -> dict:
    return {code: LABEL for code in codes}


def _schema(start: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": {
        "reason": {"type": "string", "enum": ["done", "referred_a", "referred_b"], "x-label": LABEL,
                   "x-options": _options("done", "referred_a", "referred_b")},
        "to": {"type": "string", "maxLength": 200, "x-label": LABEL,
               "x-visible-when": {"field": "reason", "in": ["referred_a", "referred_b"]}},
        "start": {"x-label": LABEL, **start}}, "required": ["reason", "to"]}


def test_x_starts_case_is_a_top_level_choice_of_process_keys():
    good = {"type": "string", "enum": ["job_retention", "other_process"], "x-starts-case": True,
            "x-options": _options("job_retention", "other_process")}
    schema, problems = check_form_file("f.json", json.dumps(_schema(good)))
    assert problems == [] and Form("f.json", schema).starts_case == ("start",)
    for bad in ({"type": "string", "enum": ["Not A Key"], "x-starts-case": True, "x-options": _options("Not A Key")},
                {"type": "boolean", "x-starts-case": True},
                {"type": "string", "enum": ["job_retention"], "x-starts-case": "yes",
                 "x-options": _options("job_retention")}):
        _, problems = check_form_file("f.json", json.dumps(_schema(bad)))
        assert [p["message"] for p in problems] == [
            "field 'start': x-starts-case must be true, on a top-level choice (type string, enum) whose values "
            "are process keys"], bad


def test_visible_when_in_shows_the_field_for_each_listed_value():
    form = Form("f.json", _schema({"type": "string", "enum": ["p"]}))
    assert form.validate({"reason": "referred_b", "to": "Iroda"}) == {"reason": "referred_b", "to": "Iroda"}
    with pytest.raises(ValidationFailed) as refused:
        form.validate({"reason": "referred_a"})
    assert [(d["field"], d["kind"]) for d in refused.value.details] == [("to", "required")]
    with pytest.raises(ValidationFailed) as refused:
        form.validate({"reason": "done", "to": "Iroda"})
    assert [(d["field"], d["kind"]) for d in refused.value.details] == [("to", "x-visible-when")]
    _, problems = check_form_file("f.json", json.dumps({**_schema({"type": "string", "enum": ["p"]}),
                                                        "properties": {"reason": {"type": "string", "x-label": LABEL},
                                                                       "to": {"type": "string", "x-label": LABEL,
                                                                              "x-visible-when": {"field": "reason",
                                                                                                 "in": []}}}}))
    assert any("x-visible-when 'in'" in p["message"] for p in problems)


def test_every_option_of_a_choice_needs_its_labels_in_both_languages():
    """An option without labels would be shown to people as its code: the deploy names the field and the options."""
    for choice in ({"type": "string", "enum": ["job_retention", "other_process"],
                    "x-options": {"job_retention": LABEL, "other_process": {"hu": "másik"}}},
                   {"type": "array", "items": {"type": "string", "enum": ["job_retention", "other_process"]},
                    "x-options": _options("job_retention")}):
        _, problems = check_form_file("f.json", json.dumps(_schema(choice)))
        assert [p["message"] for p in problems] == [
            "field 'start': x-options needs a label in 'hu' and 'en' for every option; missing for: other_process"]
    _, problems = check_form_file("f.json", json.dumps(_schema({"type": "string", "enum": ["a"], "x-options": ["a"]})))
    assert [p["message"] for p in problems] == [
        "field 'start': x-options must map each option to its labels, "
        '{"<option>": {"hu": ..., "en": ...}}']
    _, problems = check_form_file("f.json", json.dumps(_schema({"type": "string", "enum": ["a"],
                                                                "x-options": _options("a")})))
    assert problems == []
