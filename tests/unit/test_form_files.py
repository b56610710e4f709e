"""Mechanical checks of the form files (bpmn/*/forms/*.json) against docs/forms.md and the lead's contract.

The server's rule "required applies only when the field is visible" cannot be stated by plain JSON Schema, so
the document tests validate against `server_view(schema)`: the schema with every conditional field (one with
`x-visible-when`) dropped from `required`, which is what engine/forms/forms.py hands to JSON Schema (docs/forms.md,
"Validation on the server", steps 2-3). Visibility itself is checked here by `visibility_errors`.
"""
import copy
import json
import pathlib
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from engine.forms import derived

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORM_FILES = sorted(ROOT.glob("bpmn/*/forms/*.json"))
FORM_IDS = [str(p.relative_to(ROOT / "bpmn")) for p in FORM_FILES]

FIDELITY_ITEMS = [
    "caseload", "staff_focus", "generalist", "team_assignment", "team_contact", "rehab_collaboration",
    "vocational_unit", "supervisor_role", "zero_exclusion", "competitive_focus", "executive_support",
    "benefits_planning", "disclosure", "work_based_assessment", "rapid_search", "individualised_search",
    "employer_contact_frequency", "employer_contact_quality", "job_type_diversity", "employer_diversity",
    "competitive_jobs", "individualised_follow_along", "time_unlimited", "community_based", "outreach"]
# The items the data answers (x-prefill-report from the IPS report).
FIDELITY_DATA_ITEMS = ["caseload", "rapid_search", "employer_contact_frequency", "job_type_diversity",
                       "employer_diversity", "competitive_jobs", "time_unlimited"]
EXPECTED_FORMS = {
    "intake/forms/intake.json": {
        "family_name", "given_name", "birth_date", "birth_place", "mother_name", "client_status", "phone",
        "intake_problem", "client_code"},
    "family_care/forms/assessment.json": {
        "taken_into_care_date", "persons_concerned", "phone", "other_contact", "presented_problem",
        "problem_types", "problem_types_other", "household_size", "household_members", "client_income_types",
        "client_income_types_other", "client_work_incomes", "client_pension_incomes", "client_child_incomes",
        "client_municipal_incomes", "client_other_regular_incomes", "client_other_revenues", "total_income",
        "per_capita_income", "in_kind_benefits", "in_kind_benefits_other", "status_assessment_date",
        "needs_other_helpers", "other_helpers", "action_plan"},
    "family_care/forms/agreement.json": {"agreement_date", "review_frequency"},
    "family_care/forms/casework.json": {"meetings", "actions", "casework_next", "conference_tasks"},
    "family_care/forms/case_discussion.json": {"actions"},
    "family_care/forms/case_conference.json": {
        "conference_date", "invitation_date", "invitation_registry_number", "conference_participants",
        "conference_tasks", "conference_involvements", "actions"},
    "family_care/forms/review.json": {
        "review_date", "review_checks", "commitments_met", "goal_reached", "conference_tasks"},
    "family_care/forms/further_service.json": {
        "further_service_available", "referral_to_kind", "referral_to", "referral_reason", "referral_start_case"},
    "family_care/forms/plan_amendment.json": {
        "needs_other_helpers", "other_helpers", "action_plan", "agreement_date", "actions", "referral_to_kind",
        "referral_to", "referral_reason", "review_frequency"},
    "family_care/forms/closure.json": {
        "closure_date", "closure_reason", "closure_reason_other", "follow_up", "follow_up_agreement",
        "follow_up_frequency", "follow_up_months", "referral_to", "referral_reason", "referral_start_case",
        "results_evaluation", "commitments_evaluation", "changes_recorded"},
    "family_care/forms/closure_no_cooperation.json": {
        "closure_date", "closure_reason", "closure_reason_other", "referred", "referral_to_kind", "referral_to",
        "referral_reason", "referral_start_case"},
    "family_care/forms/closure_agreement.json": {"closure_agreed", "closure_agreement_note"},
    "family_care/forms/closure_no_cooperation_agreement.json": {"closure_agreed", "closure_agreement_note"},
    "family_care/forms/follow_up.json": {"follow_up_contacts"},
    "family_care/forms/follow_up_manage.json": {
        "follow_up_action", "follow_up_contacts", "follow_up_end_date", "follow_up_end_reason"},
    # Seed 002: self-help groups (x-seed-section: the sections of the seed).
    "self_help_groups/forms/attitude_close.json": {
        "adapting", "can_talk", "confidence", "intends_to_work", "jelszo", "not_alone"},
    "self_help_groups/forms/attitude_start.json": {
        "adapting", "can_talk", "confidence", "intends_to_work", "jelszo", "not_alone"},
    "self_help_groups/forms/closing.json": {
        "closing_date", "members_leaving", "results_summary", "satisfaction_sheets", "wish_to_continue"},
    "self_help_groups/forms/day_180.json": {
        "checked_on", "employed", "evidence", "notes", "same_job"},
    "self_help_groups/forms/first_meeting.json": {
        "attendance", "closed_service_name", "duration_minutes", "group_form", "group_next", "joining_rules",
        "meeting_date", "meeting_notes", "members_joining", "professional_present", "professional_reason"},
    "self_help_groups/forms/meeting.json": {
        "attendance", "duration_minutes", "group_next", "meeting_date", "meeting_notes", "members_joining",
        "members_leaving", "professional_present", "professional_reason"},
    "self_help_groups/forms/meeting_closed.json": {
        "attendance", "duration_minutes", "group_next", "meeting_date", "meeting_notes", "members_leaving",
        "professional_present", "professional_reason"},
    "self_help_groups/forms/satisfaction.json": {
        "comments", "leader_support", "overall", "recommend", "useful"},
    "self_help_groups/forms/setup.json": {
        "composition", "composition_basis", "first_meeting_date", "group_name", "leader_name", "meeting_frequency",
        "members_joining", "topic"},
    # Seed 000: its standard has numbered sections, not numbered fields (x-seed-section).
    "job_retention/forms/day_180_check.json": {
        "certificate_date", "check_date", "closing_note", "employed_on_day_180", "employer_certificate",
        "not_employed_reason", "satisfaction_sheet"},
    "job_retention/forms/entry.json": {
        "consultation_reasons", "development_plan_date", "earlier_services", "employer_kind", "employer_name",
        "employment_start", "entry_route", "job_title", "sex", "target_groups"},
    "job_retention/forms/job_lost.json": {
        "closing_note", "job_lost_details", "job_lost_on", "job_lost_reason", "satisfaction_sheet"},
    "job_retention/forms/overdue_reminder.json": {
        "mentor_contacted", "reminder_note"},
    "job_retention/forms/plan.json": {
        "earlier_services_analysis", "employer_evaluation", "employer_evaluation_agreed",
        "employer_evaluation_date", "follow_up_months", "intensity", "interventions", "methods", "plan_notes",
        "self_assessments"},
    "job_retention/forms/plan_change.json": {
        "change_reason", "follow_up_months", "intensity", "interventions"},
    # Seed 001: sections of its standard (x-seed-section), as job retention's.
    "case_management/forms/assessment.json": {
        "commissioner", "education", "goal_employment", "goal_training_completion", "goal_training_entry",
        "plan_actions", "plan_author", "plan_date", "plan_end", "plan_goals", "plan_kind", "prior_status",
        "qualification", "sex", "target_groups"},
    "case_management/forms/closure.json": {
        "action_results", "closure_date", "closure_reason", "final_feedback_date", "goal_fulfilment",
        "labour_market_events"},
    "case_management/forms/entry.json": {
        "consent_date", "consent_given", "entry_date", "entry_route", "referring_organisation"},
    "case_management/forms/log_certification.json": {
        "certification_remarks", "certified", "certified_on"},
    "case_management/forms/meeting.json": {
        "action_results", "case_log", "labour_market_events", "next_step", "service_log"},
    "case_management/forms/plan_review.json": {
        "feedback_date", "feedback_summary", "goal_employment", "goal_progress", "goal_training_completion",
        "goal_training_entry", "plan_actions", "plan_goals", "review_date"},
    "case_management/forms/satisfaction.json": {
        "case_manager_help", "overall", "plan_progress", "remarks", "would_recommend"},
    "job_retention/forms/visit.json": {
        "client_feedback", "client_help", "client_notes", "client_topics", "club_sessions", "contacts",
        "detachment_preparation", "employer_notes", "employer_persons", "employer_satisfaction", "feedback_given",
        "feedback_received", "institution_kinds", "institution_notes", "joint_programmes", "lay_helper_notes",
        "lay_helpers_involved", "problems_solved_with_institutions", "self_assessment_analysed",
        "self_assessment_made", "still_employed", "visit_date", "visit_notes"},
    # Seed 004: its five phases are its sections (x-seed-section "1"–"5"; a phase's decision is x-seed-step).
    "supported_employment/forms/entry.json": {
        "agreement_content", "agreement_date", "benefits_counselling_offered", "entry_date", "ips_phase",
        "referral_source", "target_groups", "wants_competitive_work"},
    "supported_employment/forms/first_contact_late.json": {
        "late_agreed_steps", "late_reason", "late_review_date"},
    "supported_employment/forms/follow_along.json": {
        "exit_date", "exit_reason", "follow_along_next", "ips_phase", "job_end_date", "job_end_reason",
        "support_contacts"},
    "supported_employment/forms/job_search.json": {
        "employer_contacts", "exit_date", "exit_reason", "first_employer_contact_date", "ips_phase", "job_search_next"},
    "supported_employment/forms/job_start.json": {
        "ips_phase", "jobs"},
    "supported_employment/forms/profile.json": {
        "disclosure_preference", "education", "ips_phase", "job_wishes", "profile_date", "skills", "support_needs",
        "wanted_hours_per_week", "wanted_work_content", "work_history"},
    # The 25-item fidelity review (seed 004 and the IPS-25 scale): x-seed-section "F<step>" or "F<step>.<item>".
    "supported_employment/forms/review_setup.json": {
        "period_from", "period_to", "review_date", "reviewers", "service_reviewed", "sources"},
    "supported_employment/forms/review_scoring.json": {
        "reviewer_scores", "item_evidence",
        *(f for i in FIDELITY_DATA_ITEMS for f in (f"data_{i}", f"data_{i}_evidence"))},
    "supported_employment/forms/review_consensus.json": {
        "action_plan", "fidelity_band", "fidelity_total", "qualifies", "review_summary", *FIDELITY_ITEMS,
        *(f"{i}_reason" for i in FIDELITY_DATA_ITEMS)},
}

INCOME_CODES = ["work", "pension", "pension_like_benefit", "child_care", "municipal_labour", "other_regular",
                "none", "other"]
# income block -> the field-13/26 codes that show it (contract)
INCOME_BLOCKS = {
    "work_incomes": ("contains", "work", (14, 15), (27, 28)),
    "pension_incomes": ("contains-any", ["pension", "pension_like_benefit"], (16, 17), (29, 30)),
    "child_incomes": ("contains", "child_care", (18, 19), (31, 32)),
    "municipal_incomes": ("contains", "municipal_labour", (20, 21), (33, 34)),
    "other_regular_incomes": ("contains", "other_regular", (22, 23), (35, 36)),
    "other_revenues": ("contains", "other", (24, 25), (37, 38)),
}
COMPUTED = {"total_income", "per_capita_income", "client_code"}
STEP_RE = re.compile(r"^3\.(?:[1-9]|1[01])$")
IPS_STEP_RE = re.compile(r"^[1-5]$")  # the five phases of seed 004
# A phase, or a step of the fidelity review (F1–F3), with the item (1–25) it is about.
IPS_SECTION_RE = re.compile(r"^(?:[1-5]|F[1-3](?:\.(?:[1-9]|1[0-9]|2[0-5]))?)$")
SECTION_RE = re.compile(r"^[1-9][0-9]?(?:\.[1-9])?$")
AMOUNT_MAX = 100_000_000


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


FORMS = {rel: load(p) for rel, p in zip(FORM_IDS, FORM_FILES)}


def walk(obj_schema, path=""):
    """Yield (path, name, prop, parent_object_schema) for every property, recursing into arrays of objects."""
    for name, prop in obj_schema.get("properties", {}).items():
        p = f"{path}/{name}" if path else name
        yield p, name, prop, obj_schema
        items = prop.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            yield from walk(items, p + "/*")


def objects(schema):
    """Every object schema of a form (top level and array items)."""
    yield schema
    for _, _, prop, _ in walk(schema):
        items = prop.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            yield items


def enum_of(prop):
    if "enum" in prop:
        return prop["enum"]
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict) and "enum" in prop["items"]:
        return prop["items"]["enum"]
    return None


def seed_numbers(schema, include_intake=False):
    out = set()
    for _, _, prop, _ in walk(schema):
        if "x-seed-field" in prop and (include_intake or prop.get("x-seed-form") != "intake"):
            out.add(prop["x-seed-field"])
    return out


def server_view(schema):
    """The schema JSON Schema sees on the server: conditional fields are no longer in `required`."""
    s = copy.deepcopy(schema)
    for o in objects(s):
        cond = {n for n, p in o.get("properties", {}).items() if "x-visible-when" in p}
        if "required" in o:
            o["required"] = [r for r in o["required"] if r not in cond]
    return s


def visible(cond, data):
    value = data.get(cond["field"])
    if "equals" in cond:
        return value == cond["equals"]
    if "contains" in cond:
        return isinstance(value, list) and cond["contains"] in value
    return isinstance(value, list) and any(c in value for c in cond["contains-any"])


def visibility_errors(obj_schema, data, path=""):
    """Server step 2 and 4: hidden fields absent, visible required fields present, exclusive options alone."""
    errors = []
    required = set(obj_schema.get("required", []))
    for name, prop in obj_schema.get("properties", {}).items():
        p = f"{path}/{name}" if path else name
        cond = prop.get("x-visible-when")
        shown = cond is None or visible(cond, data)
        if not shown and name in data:
            errors.append(f"{p}: present but hidden")
        if shown and cond is not None and name in required and name not in data:
            errors.append(f"{p}: required")
        ex = prop.get("x-exclusive-option")
        if ex and isinstance(data.get(name), list) and ex in data[name] and len(data[name]) > 1:
            errors.append(f"{p}: {ex} excludes other choices")
        if prop.get("readOnly") and name in data:
            errors.append(f"{p}: computed")
        items = prop.get("items")
        if isinstance(items, dict) and items.get("type") == "object" and isinstance(data.get(name), list):
            for i, row in enumerate(data[name]):
                errors += visibility_errors(items, row, f"{p}/{i}")
    return errors


def validator(schema):
    return jsonschema.Draft202012Validator(server_view(schema), format_checker=jsonschema.FormatChecker())


# ---------------------------------------------------------------- the set of files


def test_expected_form_files_exist():
    assert set(FORMS) == set(EXPECTED_FORMS)


@pytest.mark.parametrize("rel", sorted(EXPECTED_FORMS))
def test_top_level_keys_follow_contract(rel):
    assert set(FORMS[rel]["properties"]) == EXPECTED_FORMS[rel]


@pytest.mark.parametrize("path", FORM_FILES, ids=FORM_IDS)
def test_file_is_utf8_pretty_printed(path):
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------- per form


@pytest.mark.parametrize("rel", FORM_IDS)
def test_valid_json_schema(rel):
    jsonschema.Draft202012Validator.check_schema(FORMS[rel])


@pytest.mark.parametrize("rel", FORM_IDS)
def test_top_level(rel):
    s = FORMS[rel]
    assert s["type"] == "object" and s["additionalProperties"] is False
    assert s["x-label"]["hu"] and s["x-label"]["en"] and s["title"] == s["x-label"]["hu"]
    ids = [sec["id"] for sec in s["x-sections"]]
    assert len(ids) == len(set(ids))
    listed = [f for sec in s["x-sections"] for f in sec["fields"]]
    assert len(listed) == len(set(listed)), "a field is in two sections"
    assert set(listed) == set(s["properties"]), "sections must cover every property exactly once"
    for sec in s["x-sections"]:
        assert sec["label"]["hu"] and sec["label"]["en"]
        if "help" in sec:
            assert sec["help"]["hu"] and sec["help"]["en"]


@pytest.mark.parametrize("rel", FORM_IDS)
def test_every_object_is_closed_and_required_is_subset(rel):
    for o in objects(FORMS[rel]):
        assert o.get("additionalProperties") is False
        req = o.get("required", [])
        assert len(req) == len(set(req))
        assert set(req) <= set(o["properties"])
        for r in req:
            assert not o["properties"][r].get("readOnly"), f"computed field {r} must not be required"


@pytest.mark.parametrize("rel", FORM_IDS)
def test_every_property_has_labels_and_seed_reference(rel):
    is_intake = rel.startswith("intake/")
    for path, name, prop, _ in walk(FORMS[rel]):
        label = prop.get("x-label")
        assert isinstance(label, dict) and set(label) == {"hu", "en"}, path
        assert label["hu"].strip() and label["en"].strip(), path
        assert prop.get("title") == label["hu"], path
        refs = [k for k in ("x-seed-field", "x-seed-fields", "x-seed-step", "x-seed-section", "x-seed-activity")
                if k in prop]
        assert len(refs) == 1, f"{path}: exactly one seed reference, got {refs}"
        if "x-seed-section" in prop:
            assert rel.startswith(("job_retention/", "self_help_groups/", "supported_employment/",
                                   "case_management/")), path
            pattern = IPS_SECTION_RE if rel.startswith("supported_employment/") else SECTION_RE
            assert pattern.match(prop["x-seed-section"]), path
        if "x-seed-field" in prop:
            n = prop["x-seed-field"]
            assert isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 55, path
        if "x-seed-fields" in prop:
            a, b = prop["x-seed-fields"]
            assert 1 <= a <= b <= 55, path
            assert prop["type"] == "array" and prop["items"]["type"] == "object", path
            inner = seed_numbers(prop["items"])
            assert inner and min(inner) >= a and max(inner) <= b, path
        if "x-seed-step" in prop:  # family care's are 3.1–3.11; case management's the sections of seed 001
            pattern = (IPS_STEP_RE if rel.startswith("supported_employment/") else
                       SECTION_RE if rel.startswith("case_management/") else STEP_RE)
            assert pattern.match(prop["x-seed-step"]), path
        if "x-seed-activity" in prop:
            assert rel.startswith("family_care/") and STEP_RE.match(prop["x-seed-activity"]), path
        if "x-seed-form" in prop:
            assert prop["x-seed-form"] == "intake" and is_intake, path
        if "x-help" in prop:
            assert prop["x-help"]["hu"].strip() and prop["x-help"]["en"].strip(), path


@pytest.mark.parametrize("rel", FORM_IDS)
def test_types_are_bounded(rel):
    for path, name, prop, parent in walk(FORMS[rel]):
        t = prop.get("type")
        if "x-prefill-report-evidence" in prop:
            # A text the server writes in every language ({"hu", "en"}: engine/forms/texts.py).
            assert t == "object" and prop.get("readOnly") is True, path
            continue
        assert t in {"string", "integer", "number", "boolean", "array"}, path
        if t == "string" and "enum" not in prop and prop.get("format") != "date":
            assert isinstance(prop.get("maxLength"), int), f"{path}: text needs maxLength"
            if prop["maxLength"] == 10000 or prop.get("x-widget") == "textarea":
                assert prop["maxLength"] == 10000 and prop.get("x-widget") == "textarea", path
            elif prop.get("x-widget") == "phone":
                assert prop.get("pattern"), path
            elif not prop.get("readOnly"):
                assert prop["maxLength"] == 200, path
        if prop.get("format") == "date":
            assert {k: v for k, v in prop.items() if not k.startswith("x-") and k not in ("title", "readOnly")} == {
                "type": "string", "format": "date"}, path
        if t in {"integer", "number"} and not prop.get("readOnly"):
            assert prop["minimum"] >= 0 and "maximum" in prop, path
        if t == "array":
            assert isinstance(prop.get("maxItems"), int), f"{path}: arrays need maxItems"
        if "x-widget" in prop:
            assert prop["x-widget"] in {"textarea", "phone"}, path
        if "x-computed" in prop or prop.get("readOnly"):
            computed = prop.get("x-computed")
            declared = isinstance(computed, dict) and not derived.problems(computed, set(parent["properties"]))
            from_report = "x-prefill-report" in prop or "x-prefill-report-evidence" in prop
            assert prop.get("readOnly") is True and (declared or from_report or computed in COMPUTED), path
        if "x-prefill-from" in prop:
            assert isinstance(prop["x-prefill-from"], str), path


@pytest.mark.parametrize("rel", FORM_IDS)
def test_options_cover_enums_exactly(rel):
    for path, name, prop, _ in walk(FORMS[rel]):
        enum = enum_of(prop)
        if enum is None:
            assert "x-options" not in prop and "x-exclusive-option" not in prop, path
            continue
        assert len(enum) == len(set(enum)), path
        opts = prop.get("x-options")
        assert isinstance(opts, dict) and list(opts) == list(enum), f"{path}: x-options must list every code"
        for code, lab in opts.items():
            assert set(lab) == {"hu", "en"} and lab["hu"].strip() and lab["en"].strip(), f"{path}:{code}"
        his = [lab["hu"] for lab in opts.values()]
        assert len(his) == len(set(his)), f"{path}: a Hungarian option is listed twice"
        if prop["type"] == "array":
            assert prop.get("uniqueItems") is True and prop["maxItems"] <= len(enum), path
        if "x-exclusive-option" in prop:
            assert prop["type"] == "array" and prop["x-exclusive-option"] in enum, path


@pytest.mark.parametrize("rel", FORM_IDS)
def test_other_namely_has_conditional_text(rel):
    for path, name, prop, parent in walk(FORMS[rel]):
        siblings = parent["properties"]
        enum = enum_of(prop)
        if enum and "other" in enum and "éspedig" in prop["x-options"]["other"]["hu"]:
            assert f"{name}_other" in siblings, f"{path}: 'egyéb, éspedig' needs {name}_other"
        if name.endswith("_other") and name[:-6] in siblings:
            base = siblings[name[:-6]]
            op = "contains" if base["type"] == "array" else "equals"
            assert prop.get("x-visible-when") == {"field": name[:-6], op: "other"}, path
            assert name in parent.get("required", []), f"{path}: must be required (when visible)"
            assert prop["type"] == "string" and prop["maxLength"] == 200 and prop.get("minLength") == 1, path
            assert prop.get("x-seed-field") == base.get("x-seed-field"), path


@pytest.mark.parametrize("rel", FORM_IDS)
def test_visible_when_refers_to_sibling_with_valid_values(rel):
    for path, name, prop, parent in walk(FORMS[rel]):
        cond = prop.get("x-visible-when")
        if cond is None:
            continue
        siblings = parent["properties"]
        assert cond["field"] in siblings and cond["field"] != name, path
        target = siblings[cond["field"]]
        assert "x-visible-when" not in target, f"{path}: no chains of conditions"
        ops = set(cond) - {"field"}
        assert len(ops) == 1 and ops <= {"equals", "contains", "contains-any", "in"}, path
        if "in" in cond:
            assert cond["in"] and set(cond["in"]) <= set(target["enum"]), path
        elif "equals" in cond:
            if target["type"] == "boolean":
                assert isinstance(cond["equals"], bool), path
            else:
                assert cond["equals"] in target["enum"], path
        else:
            assert target["type"] == "array", path
            codes = target["items"]["enum"]
            values = [cond["contains"]] if "contains" in cond else cond["contains-any"]
            assert values and set(values) <= set(codes), path


# ---------------------------------------------------------------- coverage and contract specifics


def test_assessment_covers_fields_1_to_45():
    assert set(range(1, 46)) <= seed_numbers(FORMS["family_care/forms/assessment.json"])


def test_forms_together_cover_fields_1_to_55():
    covered = set()
    for s in FORMS.values():
        covered |= seed_numbers(s)
    assert set(range(1, 56)) <= covered


def test_intake_form():
    s = FORMS["intake/forms/intake.json"]
    p = s["properties"]
    assert set(s["required"]) >= {"family_name", "given_name", "birth_date", "mother_name", "intake_problem"}
    assert p["client_status"]["enum"] == ["new", "returning"]
    assert (p["client_status"]["x-seed-field"], p["client_status"]["x-seed-form"]) == (3, "intake")
    assert p["client_code"]["x-computed"] == "client_code" and p["client_code"]["x-seed-field"] == 8
    assert p["phone"]["x-widget"] == "phone"
    assert p["intake_problem"]["x-widget"] == "textarea"


def test_assessment_specifics():
    s = FORMS["family_care/forms/assessment.json"]
    p = s["properties"]
    assert {"taken_into_care_date", "presented_problem", "problem_types", "household_size",
            "needs_other_helpers"} <= set(s["required"])
    assert p["presented_problem"]["x-prefill-from"] == "intake_problem"
    assert p["phone"]["type"] == "string" and p["phone"]["x-widget"] == "phone"
    assert p["total_income"]["x-computed"] == "total_income" and p["total_income"]["readOnly"] is True
    assert p["per_capita_income"]["x-computed"] == "per_capita_income"
    assert p["other_helpers"]["x-visible-when"] == {"field": "needs_other_helpers", "equals": True}
    # Field 45 applies whatever field 43 says: the seed's "no → 45" skips 44 on paper, it is no branch.
    assert "x-visible-when" not in p["action_plan"] and "action_plan" in s["required"]
    assert p["household_size"]["minimum"] == 1  # field 7 counts the client
    assert p["phone"]["x-prefill-from"] == "intake_phone"
    assert p["household_members"]["x-seed-fields"] == [8, 25] and p["household_members"]["maxItems"] == 30
    assert [sec["id"] for sec in s["x-sections"]] == ["basic", "household", "client_income", "totals", "plan"]
    member = p["household_members"]["items"]["properties"]
    assert "parent" in member["kinship"]["enum"]
    for types, owner, client in ((member["income_types"], member, False),
                                 (p["client_income_types"], p, True)):
        assert types["items"]["enum"] == INCOME_CODES and types["x-exclusive-option"] == "none"
        for block, (op, codes, hh_seeds, client_seeds) in INCOME_BLOCKS.items():
            key = ("client_" if client else "") + block
            b = owner[key]
            assert b["x-visible-when"] == {"field": "client_income_types" if client else "income_types",
                                           op: codes}, key
            assert b["x-seed-fields"] == list(client_seeds if client else hh_seeds), key
            assert b["maxItems"] == 10, key
            row = b["items"]["properties"]
            assert set(row) == {"kind", "kind_other", "amount"}, key
            assert row["amount"]["type"] == "integer"
            assert (row["amount"]["minimum"], row["amount"]["maximum"]) == (0, AMOUNT_MAX)
    # field 13 has a bare "other"; field 26 has "other, namely" with its text
    assert "income_types_other" not in member
    assert "client_income_types_other" in p


def test_decision_fields():
    cw = FORMS["family_care/forms/casework.json"]
    assert cw["properties"]["casework_next"]["enum"] == ["continue", "case_discussion", "case_conference", "review"]
    assert "casework_next" in cw["required"]
    for rel, key, step in (("review.json", "commitments_met", "3.6"),
                           ("further_service.json", "further_service_available", "3.9"),
                           ("closure_agreement.json", "closure_agreed", "3.8"),
                           ("closure_no_cooperation_agreement.json", "closure_agreed", "3.11")):
        s = FORMS["family_care/forms/" + rel]
        assert s["properties"][key]["type"] == "boolean" and s["properties"][key]["x-seed-step"] == step
        assert key in s["required"]


def test_closure_specifics():
    s = FORMS["family_care/forms/closure.json"]
    p = s["properties"]
    assert {"closure_date", "closure_reason", "follow_up"} <= set(s["required"])
    # Field 53's list split by path (docs/processes.md): a successful closure is never "lack of cooperation"
    # nor "contact broken off"; a closure for lack of cooperation is never "successful" nor a referral (3.9 found
    # no further service). "Other, namely…" stays at both.
    assert p["closure_reason"]["enum"] == ["successful", "referred_service", "referred_institution", "other"]
    assert set(p["closure_reason"]["x-options"]) == set(p["closure_reason"]["enum"])
    for key in ("follow_up_agreement", "follow_up_frequency", "follow_up_months"):
        assert p[key]["x-visible-when"] == {"field": "follow_up", "equals": True}
        assert p[key]["x-seed-field"] == 55
    assert p["follow_up_frequency"]["enum"] == ["weekly", "fortnightly", "monthly"]
    # Seed 003 sets no limit ("as agreed"): seed 000's 6 months are only the default offered; 24 bounds the
    # plan (docs/processes.md, "follow-up as agreed").
    assert (p["follow_up_months"]["minimum"], p["follow_up_months"]["maximum"]) == (1, 24)
    assert p["follow_up_months"]["x-prefill-from"] == "follow_up_months_default"
    nc = FORMS["family_care/forms/closure_no_cooperation.json"]
    assert nc["properties"]["closure_reason"]["enum"] == ["lack_of_cooperation", "contact_broken", "other"]
    assert set(nc["properties"]["closure_reason"]["x-options"]) == set(nc["properties"]["closure_reason"]["enum"])
    assert {"closure_date", "closure_reason"} <= set(nc["required"])


def test_meeting_and_action_rows():
    cw = FORMS["family_care/forms/casework.json"]["properties"]
    assert set(cw["meetings"]["items"]["required"]) >= {"date", "place", "log"}
    assert cw["meetings"]["items"]["properties"]["place"]["enum"] == ["institution", "client_home", "other"]
    assert cw["meetings"]["maxItems"] == 500 and cw["actions"]["maxItems"] == 500
    for rel in ("case_discussion.json", "case_conference.json", "plan_amendment.json"):
        actions = FORMS["family_care/forms/" + rel]["properties"]["actions"]
        assert actions["items"] == cw["actions"]["items"], rel
    for rel in ("case_discussion.json", "case_conference.json"):
        s = FORMS["family_care/forms/" + rel]
        assert s["properties"]["actions"]["x-help"]["hu"] and s["x-sections"][0]["help"]["hu"]


def test_bpmn_references_match_form_files():
    bpmn_files = sorted(ROOT.glob("bpmn/*/*.bpmn"))
    assert bpmn_files, "the bundled BPMN files are missing"
    referenced = set()
    for f in bpmn_files:
        for el in ET.parse(f).iter():
            if el.tag.endswith("property") and el.get("name") == "formJsonSchemaFilename":
                rel = f"{f.parent.name}/forms/{el.get('value')}"
                assert rel in FORMS, f"{f.name} names a missing form {el.get('value')}"
                referenced.add(rel)
    processes = {f.parent.name for f in bpmn_files}
    unused = {rel for rel in FORMS if rel.split("/")[0] in processes} - referenced
    assert not unused, f"form files no task names: {sorted(unused)}"


# ---------------------------------------------------------------- documents


def income(kind, amount, **extra):
    return {"kind": kind, "amount": amount, **extra}


def good_assessment():
    return {
        "taken_into_care_date": "2025-03-04",
        "persons_concerned": 4,
        "phone": "+36 30 123 4567",
        "other_contact": "kovacs.anna@example.hu",
        "presented_problem": "Lakbérhátralék, a kilakoltatás veszélye; a nagyobbik gyermek iskolai hiányzásai.",
        "problem_types": ["financial", "child_rearing", "other"],
        "problem_types_other": "lakhatási probléma",
        "household_size": 4,
        "household_members": [
            {
                "name": "Kovács Béla",
                "birth_place_date": "Szeged, 1980.05.12",
                "institutions_contacts": "Munkahely: Tisza Kft.",
                "kinship": "spouse",
                "residence_status": "same_household",
                "income_types": ["work"],
                "work_incomes": [income("wage", 310000), income("other", 20000, kind_other="prémium")],
            },
            {
                "name": "Kovács Kata",
                "birth_place_date": "Szeged, 2015.09.01",
                "kinship": "child",
                "residence_status": "family_member",
                "income_types": ["child_care"],
                "child_incomes": [income("family_allowance", 12200), income("child_maintenance", 30000)],
            },
            {
                "name": "Kovács Ottó",
                "kinship": "other",
                "kinship_other": "após",
                "income_types": ["none"],
            },
        ],
        "client_income_types": ["pension"],
        "client_pension_incomes": [income("disability_pension", 98000)],
        "total_income": 470200,
        "per_capita_income": 117550,
        "in_kind_benefits": ["public_health_care", "energy_support"],
        "status_assessment_date": "2025-03-10",
        "needs_other_helpers": False,
        "action_plan": "1. Adósságkezelési tanácsadás. 2. Kapcsolatfelvétel az iskolával.",
    }


def without_computed(schema, doc):
    return {k: v for k, v in doc.items() if not schema["properties"][k].get("readOnly")}


def test_realistic_assessment_validates():
    s = FORMS["family_care/forms/assessment.json"]
    doc = good_assessment()
    amounts = [r["amount"] for m in doc["household_members"] for k, v in m.items()
               if k.endswith("_incomes") for r in v] + [r["amount"] for r in doc["client_pension_incomes"]]
    assert doc["total_income"] == sum(amounts)
    assert doc["per_capita_income"] == doc["total_income"] / doc["household_size"]
    doc = without_computed(s, doc)
    assert "total_income" not in doc
    errors = sorted(e.message for e in validator(s).iter_errors(doc))
    assert errors == []
    assert visibility_errors(s, doc) == []


def _set(doc, path, value):
    *parents, last = path
    for k in parents:
        doc = doc[k]
    doc[last] = value


BAD = {
    "unknown_top_field": (["nickname"], "Anna"),
    "unknown_member_field": (["household_members", 0, "salary"], 1000),
    "unknown_income_row_field": (["household_members", 0, "work_incomes", 0, "currency"], "EUR"),
    "wrong_kinship_code": (["household_members", 1, "kinship"], "uncle"),
    "wrong_problem_code": (["problem_types"], ["financial", "poverty"]),
    "wrong_pension_kind": (["client_pension_incomes", 0, "kind"], "state_pension"),
    "negative_amount": (["household_members", 0, "work_incomes", 0, "amount"], -1),
    "amount_over_maximum": (["client_pension_incomes", 0, "amount"], AMOUNT_MAX + 1),
    "fractional_amount": (["client_pension_incomes", 0, "amount"], 98000.5),
    "impossible_date": (["taken_into_care_date"], "2025-02-30"),
    "text_too_long": (["other_contact"], "x" * 201),
    "bad_phone": (["phone"], "call me"),
    "duplicate_choice": (["problem_types"], ["financial", "financial"]),
    "too_many_members": (["household_members"], [{"name": f"N{i}", "kinship": "child",
                                                  "income_types": ["none"]} for i in range(31)]),
    "missing_required": (["household_size"], None),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_assessment_fails(case):
    s = FORMS["family_care/forms/assessment.json"]
    doc = without_computed(s, good_assessment())
    path, value = BAD[case]
    if value is None:
        del doc[path[0]]
    else:
        _set(doc, path, value)
    assert list(validator(s).iter_errors(doc)), case


def test_visibility_rules_catch_bad_documents():
    s = FORMS["family_care/forms/assessment.json"]
    doc = without_computed(s, good_assessment())
    doc["other_helpers"] = "védőnő"  # hidden: needs_other_helpers is false
    doc["household_members"][1]["work_incomes"] = [income("wage", 1)]  # hidden: no "work" ticked
    del doc["problem_types_other"]  # visible and required
    doc["household_members"][2]["income_types"] = ["none", "work"]  # "none" is exclusive
    doc["total_income"] = 1  # computed
    assert set(visibility_errors(s, doc)) == {
        "other_helpers: present but hidden",
        "household_members/1/work_incomes: present but hidden",
        "problem_types_other: required",
        "household_members/2/income_types: none excludes other choices",
        "household_members/2/work_incomes: required",  # "work" is ticked now
        "total_income: computed",
    }


@pytest.mark.parametrize("rel,doc", [
    ("intake/forms/intake.json", {"family_name": "Kovács", "given_name": "Anna", "birth_date": "1985-06-01",
                                  "birth_place": "Szeged", "mother_name": "Nagy Mária",
                                  "phone": "06-30/123-4567", "intake_problem": "Lakbérhátralék."}),
    ("family_care/forms/agreement.json", {"agreement_date": "2025-03-15", "review_frequency": "fortnightly"}),
    ("family_care/forms/casework.json", {
        "meetings": [{"date": "2025-04-01", "place": "client_home", "log": "Családlátogatás."},
                     {"date": "2025-04-08", "place": "other", "place_other": "iskola", "log": "Megbeszélés."}],
        "actions": [{"date": "2025-04-02", "log": "Levél a közüzemi szolgáltatónak."}],
        "casework_next": "review"}),
    ("family_care/forms/case_conference.json", {
        "conference_date": "2025-05-02", "invitation_date": "2025-04-25", "actions": [
            {"date": "2025-05-02", "log": "Esetkonferencia."}],
        "conference_participants": [
            {"name": "Kovács János", "kind": "family_member", "invited": True, "attended": True},
            {"name": "Szabó Ilona", "kind": "professional", "organisation": "Iskola", "invited": True,
             "attended": False}],
        "conference_tasks": [{"participant": "Kovács János", "task": "Költségvetés.", "due_date": "2025-06-01"}],
        "conference_involvements": [{"name": "Védőnői szolgálat", "kind": "institution", "reason": "Egészség."}]}),
    ("family_care/forms/review.json", {
        "review_date": "2025-04-15", "commitments_met": True, "goal_reached": False,
        "review_checks": [{"kind": "monthly_payment", "name": "Lakbér", "month": "2025-04", "shown": True,
                           "amount": 45000},
                          {"kind": "own_contribution", "name": "Önrész", "month": "2025.04", "shown": False}]}),
    ("family_care/forms/further_service.json", {"further_service_available": False}),
    ("family_care/forms/plan_amendment.json", {"needs_other_helpers": True, "other_helpers": "adósságkezelő",
                                               "action_plan": "Adósságkezelési tanácsadás bevonása.",
                                               "agreement_date": "2025-06-01"}),
    ("family_care/forms/closure.json", {"results_evaluation": "Rendeződött.", "commitments_evaluation": "Teljesültek.",
                                        "changes_recorded": "Rendszeres jövedelem.",
                                        "closure_date": "2025-09-30", "closure_reason": "successful",
                                        "follow_up": True, "follow_up_agreement": "Havonta, fél évig.",
                                        "follow_up_frequency": "monthly", "follow_up_months": 6}),
    ("family_care/forms/closure_no_cooperation.json", {"closure_date": "2025-09-30", "closure_reason": "other",
                                                       "closure_reason_other": "elköltözött"}),
    ("family_care/forms/closure_agreement.json", {"closure_agreed": False, "closure_agreement_note": "Még ne."}),
    ("family_care/forms/follow_up.json", {"follow_up_contacts": [{"date": "2025-10-30",
                                                                  "state_found": "Rendezett."}]}),
])
def test_sample_documents_validate(rel, doc):
    s = FORMS[rel]
    assert [e.message for e in validator(s).iter_errors(doc)] == []
    assert visibility_errors(s, doc) == []


def test_a_review_side_by_side_names_a_field_of_the_blocks_rows():
    from engine.forms import review

    rows = {"type": "array", "items": {"type": "object", "properties": {"reviewer": {"type": "string"},
                                                                          "score": {"enum": ["1", "2"]}}}}
    forms = {"scoring.json": {"properties": {"scores": rows}},
             "consensus.json": {"x-review": [{"label": {"hu": "P", "en": "S"}, "fields": ["scores"], "by": "who"}]}}
    assert [{k: p[k] for k in ("file", "message", "code")} for p in review.reference_problems(forms)] == [
        {"file": "consensus.json", "message": "x-review shows 'scores' side by side by 'who', which is not a field of "
         "its rows", "code": "form_review_by_unknown"}]
    forms["consensus.json"]["x-review"][0]["by"] = "reviewer"
    assert review.reference_problems(forms) == []
    assert review.shape_problems("c.json", {"x-review": [{"label": {"hu": "P", "en": "S"}, "fields": ["scores"],
                                                          "by": 3}]})
