"""The compiled form check (engine.forms.form_check) never accepts what jsonschema refuses.

``Form.validate`` skips jsonschema when the check says yes, so a check that let a bad value through would let
it into a case. Every bundled form is tried with its demo data and with every field replaced, in turn, by values
of the wrong type, out of range, too long, not an option, a bad date, repeated choices, and so on.
"""
from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import ValidationFailed
from engine.forms.form_check import compile_check
from engine.forms.forms import Form, _relaxed
from engine.store.config import BPMN_DIR
from tests import demo_data

FORM_FILES = sorted(BPMN_DIR.glob("*/forms/*.json"))
ODD_VALUES = [None, "", "x", "x" * 5000, 0, -1, 1, 3.0, 2.5, 10 ** 12, True, False, [], ["x"], ["x", "x"], [1],
              {}, {"x": 1}, "2026-02-30", "2026.03.05", "2026-03-05", "2026-3-5", "nem", "other", "continue"]


def _samples(schema: dict) -> list:
    """Valid-looking data for the form, then the same with each property (and list entry) replaced."""
    base = {**demo_data.assessment_data(), **demo_data.intake_data(3), **demo_data.closure_data(follow_up=True),
            "meetings": [demo_data.meeting(6), demo_data.meeting(7)], "actions": [demo_data.action(10)],
            "agreement_date": "2026-03-05", "casework_next": "continue", "commitments_met": True}
    props = schema.get("properties") or {}
    start = {k: v for k, v in base.items() if k in props}
    samples = [start, {}]
    for name, prop in props.items():
        for value in ODD_VALUES + [[v] for v in prop.get("items", {}).get("enum", [])[:2]]:
            samples.append({**start, name: value})
        item_props = (prop.get("items") or {}).get("properties") or {}
        for item_key in item_props:
            for value in ODD_VALUES:
                entry = dict((start.get(name) or [{}])[0]) if isinstance(start.get(name), list) else {}
                entry[item_key] = value
                samples.append({**start, name: [entry]})
        samples.append({**start, "not_a_field": 1})
    return samples


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_the_check_accepts_nothing_jsonschema_refuses(path):
    schema = _relaxed(json.loads(path.read_text("utf-8")))
    checker = FormatChecker()
    check = compile_check(schema, checker)
    assert check is not None, "the bundled forms use only keywords the check knows"
    validator = Draft202012Validator(schema, format_checker=checker)
    said_no = 0
    for sample in _samples(schema):
        valid = not any(True for _ in validator.iter_errors(sample))
        if check(sample):
            assert valid, f"{path.name}: the check accepted {sample!r}, jsonschema did not"
        else:
            said_no += 1
    assert said_no > 0


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": {"type": "string"}}},
    {"type": "object", "allOf": [{"required": ["a"]}]},
    {"type": "object", "properties": {"a": {"const": 1}}},
    {"type": "object", "properties": {"a": {"enum": [1, True]}}},
    {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
    {"type": "array", "prefixItems": [{"type": "string"}], "items": False},
])
def test_a_keyword_it_does_not_know_leaves_the_whole_schema_to_jsonschema(schema):
    assert compile_check(schema, FormatChecker()) is None


def test_values_it_is_unsure_of_go_to_jsonschema_which_words_the_errors():
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"n": {"type": "integer", "minimum": 0, "x-label": {"hu": "n", "en": "n"}},
                             "tags": {"type": "array", "uniqueItems": True, "items": {"type": "integer"}}}}
    check = compile_check(schema, FormatChecker())
    assert check({"n": 3, "tags": []})
    assert not check({"n": 3.0})          # jsonschema accepts 3.0 as an integer: it decides
    assert not check({"tags": [1, True]})  # jsonschema tells 1 from True: it decides
    form = Form("t.json", schema)
    assert form.validate({"n": 3.0, "tags": [1, 2]}) == {"n": 3.0, "tags": [1, 2]}
    with pytest.raises(ValidationFailed) as failed:
        form.validate({"n": -1, "tags": [1, 1]})
    fields = {e["field"]: e for e in failed.value.details}
    assert fields["n"]["message"] == "-1 is less than the minimum 0"
    assert fields["tags"]["message"] == "lists the same choice twice"
