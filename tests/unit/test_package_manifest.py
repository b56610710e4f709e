"""service.yaml: the schema's problems carry the line of the field they are about (docs/services.md)."""
from __future__ import annotations

from engine.packages import manifest, settings
from engine.store.config import BPMN_DIR

GOOD = (BPMN_DIR / "job_retention" / "service.yaml").read_bytes()


def _problems(text: str) -> list[str]:
    return [str(p) for p in manifest.parse(text.encode("utf-8"))[2]]


def test_the_bundled_manifests_are_valid():
    for folder in ("intake", "family_care", "job_retention"):
        data, _lines, problems = manifest.parse((BPMN_DIR / folder / "service.yaml").read_bytes())
        assert problems == [] and data["key"] == folder


def test_a_wrong_value_is_named_with_its_path_and_line():
    text = GOOD.decode().replace("limit: 30", "limit: thirty")
    line = text.splitlines().index("    limit: thirty") + 1
    assert _problems(text) == [f"service.yaml:{line}: caseloads.follow_up.limit: 'thirty' is not of type 'integer'"]


def test_a_missing_field_and_an_unknown_one_are_named():
    text = GOOD.decode().replace("      from: intake\n", "      form: intake\n")
    line = text.splitlines().index("    start:") + 1
    assert sorted(_problems(text)) == [
        f"service.yaml:{line}: processes.job_retention.start: 'from' is a required property",
        f"service.yaml:{line}: processes.job_retention.start: unknown field(s) ('form' was unexpected)"]


def test_a_name_needs_both_languages():
    text = GOOD.decode().replace("    name: {hu: Mentor, en: Mentor}", "    name: {hu: Mentor}")
    line = text.splitlines().index("    name: {hu: Mentor}") + 1
    assert _problems(text) == [f"service.yaml:{line}: roles.caseworker.name: 'en' is a required property"]


def test_yaml_that_is_not_a_manifest_is_refused():
    assert _problems("") == ["service.yaml:1: the manifest is empty"]
    assert _problems("- a\n- b\n") == ["service.yaml:1: the manifest must be a mapping of fields (key: value)"]
    assert _problems("a: [1\nb: 2\n")[0].startswith("service.yaml:2: not valid YAML")
    assert "anchors and aliases" in _problems("a: &x {b: 1}\nc: *x\n")[0]
    assert _problems("x: !!python/object:os.system {}\n")[0].startswith("service.yaml:1: not valid YAML")
    assert "larger than" in _problems("a: " + "x" * manifest.MAX_MANIFEST_BYTES)[0]


def test_family_care_follow_ups_are_a_caseload_apart_from_job_retention():
    family = manifest.parse((BPMN_DIR / "family_care" / "service.yaml").read_bytes())[0]
    jobs = manifest.parse(GOOD)[0]
    rules = settings.caseload_rules([family, jobs])
    assert (rules["follow_up"]["limit"], rules["follow_up"]["tasks"], rules["follow_up"]["timers"]) == (
        30, {("job_retention", "jr_visit")}, {("job_retention", "visit")})
    assert (rules["family_follow_up"]["limit"], rules["family_follow_up"]["tasks"]) == (
        None, {("family_care", "step_3_10")})


def test_caseloads_of_one_key_add_up_and_the_smallest_limit_applies():
    family = manifest.parse((BPMN_DIR / "family_care" / "service.yaml").read_bytes())[0]
    family = {**family, "caseloads": {"follow_up": family["caseloads"]["family_follow_up"]}}  # sharing the key
    jobs = manifest.parse(GOOD)[0]
    rule = settings.caseload_rules([family, jobs])["follow_up"]
    assert (rule["role"], rule["limit"]) == ("caseworker", 30)
    assert rule["processes"] == {"job_retention"}
    assert rule["tasks"] == {("family_care", "step_3_10"), ("job_retention", "jr_visit")}
    assert rule["timers"] == {("family_care", "visit"), ("job_retention", "visit")}
    stricter = {**jobs, "caseloads": {"follow_up": {**jobs["caseloads"]["follow_up"], "limit": 5}}}
    assert settings.caseload_rules([family, jobs, stricter])["follow_up"]["limit"] == 5
