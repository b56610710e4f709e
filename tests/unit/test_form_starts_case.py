"""The form keywords a referral uses (docs/forms.md): ``x-starts-case`` is checked at deploy, and
``x-visible-when`` ``in`` shows a field for any of several values of a choice."""
from __future__ import annotations

import json

import pytest

from engine.definitions.form_files import check_form_file
from engine.errors import ValidationFailed
from engine.forms.forms import Form

LABEL = {"hu": "x", "en": "x"}


def _schema(start: dict) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": {
        "reason": {"type": "string", "enum": ["done", "referred_a", "referred_b"], "x-label": LABEL},
        "to": {"type": "string", "maxLength": 200, "x-label": LABEL,
               "x-visible-when": {"field": "reason", "in": ["referred_a", "referred_b"]}},
        "start": {"x-label": LABEL, **start}}, "required": ["reason", "to"]}


def test_x_starts_case_is_a_top_level_choice_of_process_keys():
    good = {"type": "string", "enum": ["job_retention", "other_process"], "x-starts-case": True}
    schema, problems = check_form_file("f.json", json.dumps(_schema(good)))
    assert problems == [] and Form("f.json", schema).starts_case == ("start",)
    for bad in ({"type": "string", "enum": ["Not A Key"], "x-starts-case": True},
                {"type": "boolean", "x-starts-case": True},
                {"type": "string", "enum": ["job_retention"], "x-starts-case": "yes"}):
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
