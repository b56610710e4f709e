"""Rules a case record keeps whatever the entry point (engine, API, CLI): closure reasons that fit the closing
step, dates that are plausible and in order, the lead's agreement labelled with its own step, one open family-care
case per client unless confirmed, and I4 shown with one rounding.

See docs/forms.md (date rules) and docs/processes.md (closure reasons, one open case per client).
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from engine.cases import cases, tasks
from engine.errors import ConfirmationNeeded, ValidationFailed
from engine.reports import run
from engine.reports.request import parse_request
from engine.store import audit, clock
from engine.store.models import AuditEvent
from tests import demo_data

from . import indicator_data
from .helpers import (
    do,
    new_family_case,
    review,
    task_of,
    through_agreement,
    waiting,
    waiting_steps,
)

UTC = dt.UTC


def _refused(runtime, case_id, bpmn_id, data, actor) -> list[dict]:
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, bpmn_id, data, actor)
    return err.value.details


def _to_3_11(runtime, people, case_id):
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, False, people.anna)
    do(runtime, case_id, "step_3_9", {"further_service_available": False}, people.anna)
    assert waiting_steps(runtime, case_id) == ["3.11"]


# ----------------------------------------------------------------------------------------- closure reasons (53)
@pytest.mark.parametrize("reason", ["successful", "referred_service", "referred_institution"])
def test_a_closure_for_lack_of_cooperation_refuses_the_reasons_of_a_successful_one(runtime, people, reason):
    case_id = new_family_case(runtime, people)
    _to_3_11(runtime, people, case_id)
    details = _refused(runtime, case_id, "step_3_11", {"closure_date": "2026-04-01", "closure_reason": reason},
                       people.anna)
    assert [(d["field"], d["kind"], d["seed_field"]) for d in details] == [("closure_reason", "enum", 53)]
    assert waiting_steps(runtime, case_id) == ["3.11"]


@pytest.mark.parametrize("reason", ["lack_of_cooperation", "contact_broken"])
def test_a_successful_closure_refuses_the_reasons_of_a_failed_cooperation(runtime, people, reason):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    details = _refused(runtime, case_id, "step_3_8", dict(demo_data.closure_data(False), closure_reason=reason),
                       people.anna)
    assert [(d["field"], d["kind"]) for d in details] == [("closure_reason", "enum")]


def test_i13_never_counts_a_closure_for_lack_of_cooperation_as_successful(runtime, people):
    case_id = new_family_case(runtime, people)
    _to_3_11(runtime, people, case_id)
    _refused(runtime, case_id, "step_3_11", {"closure_date": "2026-04-01", "closure_reason": "successful"},
             people.anna)
    do(runtime, case_id, "step_3_11", {"closure_date": "2026-04-01", "closure_reason": "lack_of_cooperation"},
       people.anna)
    do(runtime, case_id, "agree_closure_no_cooperation", {"closure_agreed": True}, people.lea)
    result = run.report(runtime, people.mark, "family_care", parse_request("2026-01-01", "2026-12-31"))
    assert {r["key"]: r["closures"] for r in result["tables"]["closure_reasons"]} == {"lack_of_cooperation": 1}


def test_the_agreement_after_3_11_is_labelled_as_3_11s(runtime, people):
    case_id = new_family_case(runtime, people)
    _to_3_11(runtime, people, case_id)
    do(runtime, case_id, "step_3_11", {"closure_date": "2026-04-01", "closure_reason": "contact_broken"},
       people.anna)
    opened = tasks.get_task(runtime, task_of(runtime, case_id, "agree_closure_no_cooperation"), people.lea)
    assert opened["step"] == "3.11"
    assert {k: p["x-seed-step"] for k, p in opened["form"]["properties"].items()} == {
        "closure_agreed": "3.11", "closure_agreement_note": "3.11"}
    assert "együttműködés hiányában" in opened["form"]["x-label"]["hu"].lower()
    assert "lack of cooperation" in opened["form"]["x-label"]["en"]
    do(runtime, case_id, "agree_closure_no_cooperation", {"closure_agreed": True}, people.lea)
    history = cases.history(runtime, case_id, people.lea)
    decisions = [e["payload"] for e in history if e["kind"] == "decision_taken"]
    assert decisions[-1]["step"] == "3.11"


# ------------------------------------------------------------------------------------------------- date rules
def test_a_birth_date_in_the_future_or_more_than_120_years_back_is_refused_naming_both_dates(runtime, people):
    for birth, kind, limit in (("2026-03-03", "x-not-future", "2026-03-02"),
                               ("1906-03-01", "x-max-years-back", "2026-03-02")):
        case_id = cases.start_case(runtime, "intake", people.anna)["case_id"]
        with pytest.raises(ValidationFailed) as err:
            tasks.complete(runtime, waiting(runtime, case_id)[0].id, dict(demo_data.intake_data(0), birth_date=birth),
                           people.anna)
        (detail,) = err.value.details
        assert (detail["field"], detail["kind"], detail["value"], detail["limit"]) == ("birth_date", kind, birth,
                                                                                       limit)
        assert birth in detail["message"] and limit in detail["message"]
    # 120 years back to the day is still plausible
    case_id = cases.start_case(runtime, "intake", people.anna)["case_id"]
    tasks.complete(runtime, waiting(runtime, case_id)[0].id, dict(demo_data.intake_data(0), birth_date="1906-03-02"),
                   people.anna)


def test_the_agreement_is_not_before_the_day_taken_into_care(runtime, people):
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", dict(demo_data.assessment_data(), taken_into_care_date="2026.03.02"), people.anna)
    (detail,) = _refused(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-01",
                                                        "review_frequency": "monthly"}, people.anna)
    assert (detail["field"], detail["kind"], detail["value"], detail["limit"]) == (
        "agreement_date", "x-not-before", "2026-03-01", "2026-03-02")
    assert (detail["limit_field"], detail["limit_step"], detail["limit_seed_field"]) == ("taken_into_care_date",
                                                                                         "3.1", 1)
    assert detail["limit_labels"]["hu"] == "Gondozásba vétel dátuma"
    assert "2026-03-01" in detail["message"] and "2026-03-02" in detail["message"]
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-02",
                                      "review_frequency": "monthly"}, people.anna)  # the same day is fine


def _meeting(day: str) -> dict:
    return {"date": day, "place": "client_home", "log": "Családlátogatás."}


def test_meetings_actions_and_the_closure_are_not_before_taken_into_care_and_meetings_not_in_the_future(
        runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id, dict(demo_data.assessment_data(), taken_into_care_date="2026-02-10"))
    details = _refused(runtime, case_id, "step_3_3", {
        "meetings": [_meeting("2026-02-10"), _meeting("2026-02-09"), _meeting("2026-03-03")],
        "actions": [{"date": "2026-02-01", "log": "Korai."}], "casework_next": "review"}, people.anna)
    found = {(d["field"], d["kind"], d["value"], d["limit"]) for d in details}
    assert found == {("meetings/1/date", "x-not-before", "2026-02-09", "2026-02-10"),
                     ("meetings/2/date", "x-not-future", "2026-03-03", "2026-03-02"),
                     ("actions/0/date", "x-not-before", "2026-02-01", "2026-02-10")}
    # An action may be planned ahead; a meeting is recorded as held (today's is fine).
    do(runtime, case_id, "step_3_3", {"meetings": [_meeting("2026-03-02")],
                                      "actions": [{"date": "2026-03-20", "log": "Terv."}],
                                      "casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    (detail,) = _refused(runtime, case_id, "step_3_8", dict(demo_data.closure_data(False), closure_date="2026-02-09"),
                         people.anna)
    assert (detail["field"], detail["kind"], detail["value"]) == ("closure_date", "x-not-before", "2026-02-09")


def test_a_taken_into_care_date_later_than_recorded_rows_is_read_from_the_case(runtime, people):
    # The earlier step's date comes from the case data: after 3.1 recorded 2026-03-10, a 3.2 agreement on
    # 2026-03-05 is refused although 3.2's form has no taken-into-care field of its own.
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", dict(demo_data.assessment_data(), taken_into_care_date="2026-03-10"), people.anna)
    (detail,) = _refused(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05",
                                                        "review_frequency": "monthly"}, people.anna)
    assert detail["limit"] == "2026-03-10"


def test_a_job_retention_visit_is_not_before_the_first_day_of_work(runtime, people):
    from engine.timers import timers

    from .timer_helpers import VISIT, local, ready_tasks, start_follow_up

    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna, start="2026-01-31")
    clock.freeze(local("2026-02-07", 9))
    assert timers.fire_due(runtime, "worker-a") == 1
    [visit] = ready_tasks(runtime, case_id, "jr_visit")
    with pytest.raises(ValidationFailed) as err:
        tasks.complete(runtime, visit.id, dict(VISIT, visit_date="2026-01-30"), people.anna)
    (detail,) = err.value.details
    assert (detail["field"], detail["kind"], detail["value"], detail["limit"], detail["limit_field"]) == (
        "visit_date", "x-not-before", "2026-01-30", "2026-01-31", "employment_start")
    tasks.complete(runtime, visit.id, dict(VISIT, visit_date="2026-02-07"), people.anna)


def test_date_rules_are_checked_at_deploy():
    from engine.definitions.form_files import check_form_file

    schema = {"type": "object", "properties": {
        "day": {"type": "string", "format": "date", "x-label": {"hu": "Nap", "en": "Day"},
                "x-not-before": {"field": 3}, "x-not-future": "yes", "x-max-years-back": 0},
        "text": {"type": "string", "x-label": {"hu": "Szöveg", "en": "Text"}, "x-not-future": True}}}
    _, problems = check_form_file("f.json", json.dumps(schema))
    messages = " | ".join(p["message"] for p in problems)
    assert "x-not-future must be true" in messages and "x-max-years-back must be" in messages
    assert "x-not-before must be" in messages and "'text': x-not-future apply only to a date field" in messages


# --------------------------------------------------------------------------------------- one open case per client
def test_a_second_family_care_case_needs_confirmation_and_names_the_open_one(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    first = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    with pytest.raises(ConfirmationNeeded) as err:
        cases.start_case(runtime, "family_care", people.anna, code)
    assert err.value.status == 409 and f"case {first}" in err.value.message
    assert [c["case_id"] for c in err.value.details[0]["open_cases"]] == [first]
    second = cases.start_case(runtime, "family_care", people.anna, code, confirm=True)["case_id"]
    assert second != first
    with runtime.db.reading() as session:
        from sqlalchemy import select

        payload = session.execute(select(AuditEvent.payload).where(AuditEvent.case_id == second,
                                                                   AuditEvent.kind == "case_started")).scalar_one()
        payload = audit.readable(session, payload)
    assert payload["confirmed_with_open_cases"] == [first]
    # Another client, or an intake, is not affected; a process without the declaration neither.
    other = demo_data.run_intake(runtime, people.anna, 1)
    cases.start_case(runtime, "family_care", people.anna, other)
    cases.start_case(runtime, "job_retention", people.anna, code)
    cases.start_case(runtime, "job_retention", people.anna, code)


def test_the_api_answers_409_naming_the_open_case_unless_confirmed(runtime, people):
    from web.app import create_app

    from .test_api import conforms, creds

    code = demo_data.run_intake(runtime, people.anna, 0)
    first = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    client = create_app(runtime, {"TESTING": True}).test_client()

    def post(body):
        return client.post("/api/cases", json=body, auth=creds("anna"))

    body = conforms(post({"process_key": "family_care", "client_code": code}), "/api/cases", "post")
    assert body["error"] == "confirmation_needed" and f"case {first}" in body["message"]
    assert body["details"][0]["open_cases"][0]["case_id"] == first
    assert post({"process_key": "family_care", "client_code": code, "confirm": "yes"}).status_code == 400
    started = conforms(post({"process_key": "family_care", "client_code": code, "confirm": True}), "/api/cases",
                       "post")
    assert started["case_id"] > first


def test_the_cli_asks_for_confirm(runtime, people, database_url):
    from engine.cli import main

    code = demo_data.run_intake(runtime, people.anna, 0)
    first = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    env = {"DATABASE_URL": database_url, "SEGITO_USER": None}
    refused = CliRunner().invoke(main, ["case", "start", "family_care", "--client", code, "--as", "anna"], env=env)
    assert refused.exit_code == 2 and f"case {first}" in refused.output
    started = CliRunner().invoke(main, ["case", "start", "family_care", "--client", code, "--confirm", "--as",
                                        "anna"], env=env)
    assert started.exit_code == 0, started.output
    assert json.loads(started.stdout)["case_id"] > first


# ------------------------------------------------------------------------------------------------------ I4
def test_i4_and_the_mean_beside_it_round_alike(runtime, people):
    # Two households of 7 with 283,701 and 283,703 HUF: both the ratio of the sums and the mean of the per-capita
    # incomes are 40,528.857…; the mean of field 40 as stored (40,528.71 and 40,529.00) made 40,528.85.
    clock.freeze(dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    for i, total in enumerate((283701, 283703)):
        code = indicator_data.intake(runtime, people.anna, 40 + i, "2026-03-02T09:00:00")
        indicator_data.family_case(runtime, people, people.anna, code, "2026-03-02", 7, total, ["financial"],
                                   None)
    result = run.report(runtime, people.mark, "family_care", parse_request("2026-01-01", "2026-12-31"))
    i4 = next(i for i in result["indicators"] if i["id"] == "I4")
    assert i4["value"] == i4["mean_of_per_capita"] == 40528.86


def _family_upload(bpmn_change=None, form_change=None):
    from engine.definitions.definitions import Upload
    from engine.store.config import BPMN_DIR

    upload = Upload.from_path(BPMN_DIR / "family_care" / "family_care.bpmn")
    bpmn = upload.bpmn_bytes.decode("utf-8")
    forms = dict(upload.forms)
    if bpmn_change:
        bpmn = bpmn_change(bpmn)
    if form_change:
        name, change = form_change
        forms[name] = json.dumps(change(json.loads(forms[name]))).encode("utf-8")
    return Upload(upload.bpmn_name, bpmn.encode("utf-8"), forms)


def test_deploy_refuses_a_date_rule_naming_a_date_its_step_does_not_record():
    from engine.definitions.definitions import validate
    from engine.errors import DefinitionInvalid

    def wrong_field(schema):
        schema["properties"]["agreement_date"]["x-not-before"] = {"field": "closure_date", "step": "3.1"}
        return schema

    with pytest.raises(DefinitionInvalid) as err:
        validate(_family_upload(form_change=("agreement.json", wrong_field)))
    assert "x-not-before names 'closure_date', which the form of step 3.1 does not record as a date" in \
        err.value.message


def test_deploy_refuses_an_unknown_process_property():
    from engine.definitions.definitions import validate
    from engine.errors import DefinitionInvalid

    with pytest.raises(DefinitionInvalid) as err:
        validate(_family_upload(bpmn_change=lambda x: x.replace('name="oneOpenCasePerClient" value="true"',
                                                                'name="oneOpenCasePerClient" value="yes"')))
    assert "'oneOpenCasePerClient' must be 'true' or 'false'" in err.value.message
    with pytest.raises(DefinitionInvalid) as err:
        validate(_family_upload(bpmn_change=lambda x: x.replace('name="oneOpenCasePerClient"',
                                                                'name="oneOpenCase"')))
    assert "unknown process property 'oneOpenCase'" in err.value.message


def test_the_api_and_the_cli_refuse_a_date_out_of_order_naming_both_dates(runtime, people, database_url):
    from engine.cli import main
    from web.app import create_app

    from .test_api import conforms, creds

    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", dict(demo_data.assessment_data(), taken_into_care_date="2026-03-02"), people.anna)
    task_id = task_of(runtime, case_id, "step_3_2")
    client = create_app(runtime, {"TESTING": True}).test_client()
    answer = client.post(f"/api/tasks/{task_id}/complete", json={"data": {"agreement_date": "2026-02-27",
                                                                          "review_frequency": "monthly"}},
                         auth=creds("anna"))
    assert answer.status_code == 422
    (detail,) = conforms(answer, "/api/tasks/{task_id}/complete", "post")["details"]
    assert (detail["field"], detail["kind"], detail["value"], detail["limit"]) == (
        "agreement_date", "x-not-before", "2026-02-27", "2026-03-02")
    env = {"DATABASE_URL": database_url, "SEGITO_USER": None}
    refused = CliRunner().invoke(main, ["task", "complete", str(task_id), "--data",
                                        '{"agreement_date": "2026.02.27", "review_frequency": "monthly"}',
                                        "--as", "anna"], env=env)
    assert refused.exit_code == 2
    assert "agreement_date: 2026-02-27 is earlier than 2026-03-02, the Date taken into care (field 1, step 3.1)" \
        in refused.output
    assert waiting_steps(runtime, case_id) == ["3.2"]
