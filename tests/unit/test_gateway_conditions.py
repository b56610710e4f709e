"""Gateway conditions that can never be true, or are always true, are found at validation where that is decidable,
statically (Python's ``ast``; nothing runs): a form field compared with a value outside its options ("did you
mean") or of the wrong type, comparisons of one field that contradict each other, constant conditions, and an
exclusive gateway every condition of which is never true with no default flow. Errors refuse the package or
draft; an always-true condition on an exclusive gateway is a warning (docs/services.md, "Conditions that can never
be true")."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.definitions.definitions import FORM_PROPERTY
from engine.definitions.static_conditions import Field, decide, form_fields
from engine.errors import PackageInvalid
from engine.packages.check import check
from engine.packages.deploy import check_all
from engine.packages.load import from_folder
from engine.store.config import BPMN_DIR

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FAMILY = "family_care.bpmn"


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(BPMN_DIR / name, target)
    return target


def _edit(path: Path, old: str, new: str) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    at = text.index(old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[:at].count("\n") + 1


def _family(tmp_path: Path, old: str, new: str) -> tuple[list[str], list[str], int]:
    folder = _copy(tmp_path, "family_care")
    line = _edit(folder / FAMILY, old, new)
    checked = check(from_folder(folder))
    return [str(p) for p in checked.problems], [str(w) for w in checked.warnings], line


@pytest.mark.parametrize("folder", sorted(p for p in [*BPMN_DIR.iterdir(), *EXAMPLES.iterdir()]
                                          if (p / "service.yaml").is_file()), ids=lambda p: p.name)
def test_every_bundled_package_has_no_condition_problem_or_warning(folder):
    checked = check(from_folder(folder))
    assert checked.problems == [] and checked.warnings == []


def test_a_misspelt_option_is_refused_with_file_line_element_and_suggestion(tmp_path):
    problems, warnings, line = _family(tmp_path, "casework_next == 'case_discussion'",
                                       "casework_next == 'case_discusion'")
    (problem,) = problems
    assert problem.startswith(f"{FAMILY}:{line}: gw_casework_next: condition \"casework_next == 'case_discusion'\"")
    assert "can never be true" in problem and "'case_discusion' is not one of the options of form field " \
                                              "'casework_next'" in problem
    assert problem.endswith("did you mean 'case_discussion'?") and warnings == []


def test_a_misspelt_value_in_a_tuple_is_refused_even_when_another_one_matches(tmp_path):
    problems, _warnings, _line = _family(tmp_path, "casework_next == 'review'", "casework_next in ('review', 'revew')")
    (problem,) = problems
    assert "'revew' is not one of the options" in problem and "did you mean 'review'?" in problem


@pytest.mark.parametrize("condition, words", [
    ("casework_next == 5", "the text field 'casework_next' is compared with 5 (number)"),
    ("casework_next &lt; 3", "orders the text field 'casework_next' against 3 (number)"),
])
def test_a_value_of_the_wrong_type_for_a_text_field_is_refused(tmp_path, condition, words):
    problems, _warnings, line = _family(tmp_path, "casework_next == 'review'", condition)
    (problem,) = problems
    assert problem.startswith(f"{FAMILY}:{line}: gw_casework_next:") and words in problem


def test_a_yes_no_field_compared_with_a_text_is_refused(tmp_path):
    problems, _warnings, _line = _family(tmp_path, "closure_agreed == True", "closure_agreed == 'yes'")
    (problem,) = problems
    assert "the yes/no field 'closure_agreed' is compared with 'yes' (text): they are never equal" in problem


@pytest.mark.parametrize("condition", [
    "casework_next == 'review' and casework_next == 'case_discussion'",
    "1 == 2",
    "False",
    "not True",
])
def test_a_condition_that_can_never_be_true_is_refused(tmp_path, condition):
    problems, _warnings, _line = _family(tmp_path, "casework_next == 'review'", condition)
    (problem,) = problems
    assert "gw_casework_next: condition" in problem and "can never be true" in problem


def test_an_always_true_condition_on_an_exclusive_gateway_is_a_warning_and_the_draft_is_accepted(tmp_path):
    folder = _copy(tmp_path, "family_care")
    line = _edit(folder / FAMILY, "casework_next == 'case_discussion'", "True")
    [checked] = check_all([from_folder(folder)])
    assert checked.problems == []
    (warning,) = [str(w) for w in checked.warnings]
    assert warning.startswith(f"{FAMILY}:{line}: gw_casework_next: condition \"True\"")
    assert "is always true" in warning and "never taken" in warning and "default flow" in warning


def test_an_exclusive_gateway_whose_every_condition_is_false_without_default_is_refused(tmp_path):
    folder = _copy(tmp_path, "case_management")
    bpmn = folder / "case_management.bpmn"
    _edit(bpmn, ' default="flow_consent_no"', "")
    _edit(bpmn, "consent_given == True", "consent_given == 'igen'")
    _edit(bpmn, 'targetRef="end_no_consent" />', 'targetRef="end_no_consent"><bpmn:conditionExpression '
                                                 'xsi:type="bpmn:tFormalExpression">consent_given == \'nem\'</bpmn'
                                                 ':conditionExpression></bpmn:sequenceFlow>')
    with pytest.raises(PackageInvalid) as refused:
        check_all([from_folder(folder)])
    messages = [d["message"] for d in refused.value.details]
    assert sum("can never be true" in m for m in messages) == 2
    assert any("every condition leaving gateway 'gw_consent' is never true and it has no default flow" in m
               for m in messages)


def test_a_field_a_script_or_the_engine_also_sets_is_not_judged_by_its_form():
    form = {"properties": {"decision": {"type": "string", "enum": ["close", "continue"]},
                           "count": {"type": "integer"}}}
    user_task = SimpleNamespace(name="ask", extensions={"properties": {FORM_PROPERTY: "ask.json"}})
    script = SimpleNamespace(name="compute", extensions={}, script="count = 3")
    spec = SimpleNamespace(task_specs={"ask": user_task, "compute": script}, data_objects={})
    fields = form_fields([spec], {"ask.json": form}, FORM_PROPERTY, known=set())
    assert set(fields) == {"decision"} and fields["decision"].options == ("close", "continue")
    assert form_fields([spec], {"ask.json": form}, FORM_PROPERTY, known={"decision"}) == {}
    assert decide("count == 'x'", fields)[0] is None
    assert decide("decision == 'closee'", fields)[0] is False


FIELDS = {
    "age": Field("age", (int,), None),
    "decision": Field("decision", (str,), ("close", "continue")),
    "agreed": Field("agreed", (bool,), None),
    "needs": Field("needs", (list,), None, ("housing", "debt")),
    "note": Field("note", (str, type(None)), None),
}


@pytest.mark.parametrize("source, truth", [
    ("age > 5 and age < 3", False),
    ("age >= 5 and age <= 5", None),
    ("age > 5 and age <= 5", False),
    ("3 < age < 3", False),
    ("age == 4 and age != 4", False),
    ("age in (1, 2) and age > 2", False),
    ("decision == 'close' and decision == 'continue'", False),
    ("decision == 'close' or decision == 'continue'", None),
    ("decision != 'closee'", True),
    ("decision not in ('x', 'y')", True),
    ("'housing' in needs", None),
    ("'housng' in needs", False),
    ("agreed == True", None),
    ("agreed == 1", None),  # True == 1 in Python: not wrong, not decided
    ("agreed is None", None),
    ("note == None", None),
    ("age > 5 and True", None),
    ("age > 5 and False", False),
    ("age > 5 or 1 == 1", True),
    ("len(decision) > 3", None),
    ("[decision for decision in ('zz',)] == ['zz']", None),  # a comprehension's own name is no field
    ("unknown == 'x' and unknown == 'y'", False),  # a contradiction needs no form
])
def test_conditions_are_decided_where_decidable(source, truth):
    assert decide(source, FIELDS)[0] is truth


@pytest.mark.parametrize("source", [
    "__import__('os').system('touch /tmp/segito-pwned') == 0",
    "open('/etc/passwd').read() == 'x'",
    "(lambda: 1)() == 2",
    "not " * 3000 + "age",
    "(" * 150 + "age" + ")" * 150 + " == 'x'",
    "age in (" + ", ".join(str(i) for i in range(20000)) + ")",
    "'a' * 10**9 == 'b'",
    "decision ==",
    "\x00",
    "9" * 5000 + " == age",
])
def test_hostile_conditions_are_only_parsed_never_run(source, tmp_path):
    truth, errors, _reasons = decide(source, FIELDS)
    assert truth in (None, False, True)
    assert not Path("/tmp/segito-pwned").exists()


def test_a_hostile_string_compared_with_an_option_field_gets_a_suggestion_bounded_by_its_options():
    _truth, errors, _reasons = decide("decision == '" + "c" * 5000 + "'", FIELDS)
    (error,) = errors
    assert "is not one of the options of form field 'decision'" in error and "did you mean" not in error
