"""Names an expression reads are checked at validation, statically (Python's ``ast``, nothing runs): a misspelt
variable in a gateway condition, a script or a timer is refused naming the file, line and element, with the
nearest name that is set before that point ("did you mean"); a name set only later in the process is told so.
The bundled packages pass (docs/services.md, "What is checked")."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.definitions import static_names
from engine.packages.check import check
from engine.packages.load import from_folder
from engine.store.config import BPMN_DIR

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(BPMN_DIR / name, target)
    return target


def _problems(folder: Path) -> list[str]:
    return [str(p) for p in check(from_folder(folder)).problems]


def _edit(path: Path, old: str, new: str, count: int = 1) -> int:
    text = path.read_text(encoding="utf-8")
    assert old in text
    at = text.index(old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return text[:at].count("\n") + 1


@pytest.mark.parametrize("folder", sorted(p for p in [*BPMN_DIR.iterdir(), *EXAMPLES.iterdir()]
                                          if (p / "service.yaml").is_file()), ids=lambda p: p.name)
def test_every_bundled_package_reads_only_names_it_sets(folder):
    assert _problems(folder) == []


def test_a_misspelt_condition_variable_is_refused_with_file_line_element_and_suggestion(tmp_path):
    folder = _copy(tmp_path, "family_care")
    line = _edit(folder / "family_care.bpmn", "casework_next == 'case_discussion'",
                 "casework_nxt == 'case_discussion'")
    (problem,) = _problems(folder)
    assert problem.startswith(f"family_care.bpmn:{line}: gw_casework_next: condition")
    assert "reads 'casework_nxt'" in problem and "did you mean 'casework_next'?" in problem


def test_a_name_set_only_after_the_gateway_is_told_so(tmp_path):
    folder = _copy(tmp_path, "family_care")
    # follow_up_action is recorded at 3.10, which no path leads from back to the 3.3 gateway.
    _edit(folder / "family_care.bpmn", "casework_next == 'review'", "follow_up_action == 'review'")
    # 'review' is no option of follow_up_action either: that is the condition check's (test_gateway_conditions).
    (problem,) = [p for p in _problems(folder) if "reads 'follow_up_action'" in p]
    assert "reads 'follow_up_action'" in problem and "set only after this point (by step_3_10" in problem


def test_an_unknown_name_in_a_script_and_a_timer_is_refused(tmp_path):
    folder = _copy(tmp_path, "job_retention")
    bpmn = folder / "job_retention.bpmn"
    _edit(bpmn, "intensity = plan_change['intensity']", "intensity = plan_chnage['intensity']")
    problems = _problems(folder)
    assert any("apply_plan_change: script" in p and "reads 'plan_chnage'" in p
               and "did you mean 'plan_change'?" in p for p in problems), problems


def test_a_name_no_one_sets_and_nothing_resembles_gets_no_suggestion(tmp_path):
    folder = _copy(tmp_path, "family_care")
    _edit(folder / "family_care.bpmn", "casework_next == 'case_discussion'", "zzqx_totally_other == 1")
    (problem,) = _problems(folder)
    assert "reads 'zzqx_totally_other'" in problem and "did you mean" not in problem


def test_what_the_manifest_hands_a_case_counts_as_set(tmp_path):
    """What the engine hands a new case (start.data, a group's membership, a leaver's rows) is set."""
    folder = _copy(tmp_path, "self_help_groups")
    assert _problems(folder) == []
    # Without leaving_starts the group no longer starts the follow-up with the leaving day: left_on is unknown.
    _edit(folder / "service.yaml", "      leaving_starts: self_help_follow_up\n", "")
    _edit(folder / "service.yaml", "      manual: false ", "      manual: true ")
    assert any("reads 'left_on'" in p for p in _problems(folder))


@pytest.mark.parametrize("source, mode, reads", [
    ("[v for v in items if v != seen]", "eval", ["items", "seen"]),      # comprehension targets are bound
    ("(n := count) and n > 1", "eval", ["count"]),                       # so is a walrus target
    ("total = 0\nfor row in rows:\n    total = total + row", "exec", ["rows"]),
    ("a ==", "eval", []),                                                # refused by the sandbox check, not here
    ("(" * 500 + "x" + ")" * 500, "eval", []),                           # too deep: the sandbox refuses it
    ("__import__('os').system('id')", "eval", ["__import__"]),           # read, never run
])
def test_reads_are_found_without_running_anything(source, mode, reads):
    assert static_names.reads_and_writes(source, mode)[0] == reads


def test_a_draft_with_a_misspelt_name_is_refused_and_nothing_is_stored(tmp_path):
    """The same check refuses a draft (``deploy --draft``): it runs in the package check, before any transaction."""
    from engine.errors import PackageInvalid
    from engine.packages.deploy import check_all

    folder = _copy(tmp_path, "family_care")
    line = _edit(folder / "family_care.bpmn", "casework_next == 'case_conference'", "casework_nxt == 'case_conference'")
    with pytest.raises(PackageInvalid) as refused:
        check_all([from_folder(folder)])
    (detail,) = refused.value.details
    assert (detail["file"], detail["line"]) == ("family_care.bpmn", line)
    assert detail["message"].startswith("gw_casework_next: condition") and "casework_next" in detail["message"]
