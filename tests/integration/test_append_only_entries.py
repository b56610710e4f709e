"""Append-only blocks (x-append-only, docs/forms.md): the case log's meetings (47–49), actions (50–51) and
follow-up contacts (55) recorded at one step are never changed or dropped by a later step's submission — on the
engine, the JSON API and the CLI — and a correction is its own command that keeps the old value."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.cases import cases, entry_corrections, tasks
from engine.definitions.form_files import append_only_agreement, check_form_file
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.reports.models import ReportEntry
from engine.store import audit, clock
from engine.store.models import AuditEvent
from engine.timers import timers
from tests import demo_data
from web.app import create_app

from .helpers import do, new_family_case, review, snapshot, task_of, through_agreement
from .test_api import Api, conforms
from .test_cli import Segito
from .timer_helpers import local, ready_tasks

ACTION_33 = {"date": "2026-03-06", "log": "Egyeztetés az iskolával."}
ACTION_34 = {"date": "2026-03-07", "log": "Esetmegbeszélés a védőnővel."}
MEETING = {"date": "2026-02-06", "place": "client_home", "log": "Családlátogatás."}


def _at_case_discussion(runtime, people) -> int:
    """A case whose 3.3 recorded a meeting and an action and sent it to a case discussion (3.4)."""
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"meetings": [MEETING], "actions": [ACTION_33],
                                      "casework_next": "case_discussion"}, people.anna)
    return case_id


def _data(runtime, case_id, people):
    return cases.get_case(runtime, case_id, people.anna)["data"]


def _events(runtime, case_id, kind):
    with runtime.db.reading() as session:
        return [audit.readable(session, e.payload) for e in session.execute(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == kind).order_by(AuditEvent.seq)).scalars()]


def test_the_next_step_shows_earlier_rows_as_carried_with_who_recorded_them(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    opened = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_4"), people.anna)
    [carried] = opened["carried"]["actions"]
    assert carried["row"] == ACTION_33 and carried["index"] == 0
    assert (carried["step"], carried["recorded_by"], carried["recorded_at"]) == ("3.3", "anna",
                                                                               "2026-03-02T09:00:00+00:00")
    assert carried["corrections"] == []
    assert opened["values"]["actions"] == [ACTION_33]  # carried first; the step adds after them


def test_typing_the_new_action_over_the_carried_one_is_refused_and_nothing_is_saved(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    before = snapshot(runtime, case_id)
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_4", {"actions": [ACTION_34]}, people.anna)
    [detail] = err.value.details
    assert detail["field"] == "actions/0" and detail["kind"] == "x-append-only"
    assert "recorded at step 3.3 by anna" in detail["message"] and "correction" in detail["message"]
    assert snapshot(runtime, case_id) == before
    assert _data(runtime, case_id, people)["actions"] == [ACTION_33]


def test_a_later_step_cannot_drop_earlier_rows(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    do(runtime, case_id, "step_3_4", {"actions": [ACTION_33, ACTION_34]}, people.anna)
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_3", {"meetings": [], "actions": [ACTION_34], "casework_next": "continue"},
           people.anna)
    fields = {d["field"]: d["message"] for d in err.value.details}
    assert set(fields) == {"meetings", "actions/0"}
    assert "row 1 recorded at earlier steps left out" in fields["meetings"]
    data = _data(runtime, case_id, people)
    assert data["meetings"] == [MEETING] and data["actions"] == [ACTION_33, ACTION_34]


def test_a_step_appends_and_a_left_out_block_keeps_its_rows(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    twin = dict(ACTION_33)  # a new row equal to an earlier one is still a new row
    do(runtime, case_id, "step_3_4", {"actions": [ACTION_33, ACTION_34, twin]}, people.anna)
    do(runtime, case_id, "step_3_3", {"casework_next": "continue"}, people.anna)
    data = _data(runtime, case_id, people)
    assert data["actions"] == [ACTION_33, ACTION_34, twin] and data["meetings"] == [MEETING]
    completed = [p for p in _events(runtime, case_id, "task_completed") if p["step"] == "3.4"]
    assert completed[0]["after"]["actions"] == [ACTION_34, twin] and completed[0]["before"]["actions"] == []
    opened = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_3"), people.anna)
    assert [(e["step"], e["row"]) for e in opened["carried"]["actions"]] == [("3.3", ACTION_33), ("3.4", ACTION_34),
                                                                            ("3.4", twin)]


def test_a_case_discussion_must_add_its_own_action(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    with pytest.raises(ValidationFailed) as err:
        do(runtime, case_id, "step_3_4", {"actions": [ACTION_33]}, people.anna)
    assert [(d["field"], d["kind"]) for d in err.value.details] == [("actions", "x-min-new-rows")]


def test_a_correction_keeps_the_old_value_in_the_entry_the_audit_and_the_history(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    clock.freeze(clock.now().replace(hour=11))
    fixed = {**MEETING, "date": "2026-02-05", "log": "Családlátogatás (pontosítva)."}
    result = entry_corrections.correct(runtime, case_id, "meetings", 0, fixed, people.anna, "rossz dátum")
    assert (result["before"], result["after"], result["corrected_by"]) == (MEETING, fixed, "anna")
    assert _data(runtime, case_id, people)["meetings"] == [fixed]
    [event] = _events(runtime, case_id, "entry_corrected")
    assert event["before"] == {"meetings": [MEETING]} and event["after"] == {"meetings": [fixed]}
    assert (event["field"], event["row"], event["recorded_by"], event["reason"]) == ("meetings", 0, "anna",
                                                                                     "rossz dátum")
    # The history still shows the value first recorded (the completion of 3.3), then the correction.
    history = cases.history(runtime, case_id, people.anna)
    recorded = [e for e in history if e["kind"] == "task_completed" and e["payload"]["step"] == "3.3"]
    assert recorded[0]["payload"]["after"]["meetings"] == [MEETING]
    assert [e["kind"] for e in history][-1] == "entry_corrected"
    # The step goes on; the next casework form shows the row corrected, by whom and when, with the old value.
    do(runtime, case_id, "step_3_4", {"actions": [ACTION_33, ACTION_34]}, people.anna)
    opened = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_3"), people.anna)
    [entry] = opened["carried"]["meetings"]
    assert entry["row"] == fixed and entry["recorded_by"] == "anna"
    assert entry["corrections"] == [{"by": "anna", "at": "2026-03-02T11:00:00+00:00", "before": MEETING,
                                     "reason": "rossz dátum"}]
    # The indicator rows follow the corrected date, in the same command.
    with runtime.db.reading() as session:
        days = session.execute(select(ReportEntry.day).where(ReportEntry.case_id == case_id,
                                                             ReportEntry.collection == "meetings")).scalars().all()
    assert [d.isoformat() for d in days] == ["2026-02-05"]


def test_a_correction_obeys_the_date_rules_of_the_step(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    # A meeting is recorded as held (not in the future) and not before the day taken into care (3.1).
    for day, kind in (("2026-03-05", "x-not-future"), ("2025-01-01", "x-not-before")):
        with pytest.raises(ValidationFailed) as err:
            entry_corrections.correct(runtime, case_id, "meetings", 0, {**MEETING, "date": day}, people.anna)
        assert [(d["field"], d["kind"]) for d in err.value.details] == [("meetings/0/date", kind)]
    assert _data(runtime, case_id, people)["meetings"] == [MEETING]


def test_corrections_are_checked_and_only_the_case_log_keepers_may_correct(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    before = snapshot(runtime, case_id)
    with pytest.raises(Forbidden):
        entry_corrections.correct(runtime, case_id, "actions", 0, ACTION_34, people.bela)
    with pytest.raises(ValidationFailed) as err:
        entry_corrections.correct(runtime, case_id, "actions", 0, {"date": "2026-02-30", "log": "x"}, people.anna)
    assert [d["field"] for d in err.value.details] == ["actions/0/date"]
    with pytest.raises(NotFound):
        entry_corrections.correct(runtime, case_id, "actions", 5, ACTION_34, people.anna)
    with pytest.raises(NotFound):
        entry_corrections.correct(runtime, case_id, "agreement_date", 0, {}, people.anna)
    with pytest.raises(ValidationFailed):
        entry_corrections.correct(runtime, case_id, "actions", 0, ACTION_33, people.anna)  # nothing changes
    assert snapshot(runtime, case_id) == before
    entry_corrections.correct(runtime, case_id, "actions", 0, ACTION_34, people.lea)  # the professional lead
    assert _data(runtime, case_id, people)["actions"] == [ACTION_34]
    with runtime.db.reading() as session:
        days = session.execute(select(ReportEntry.day).where(ReportEntry.case_id == case_id,
                                                             ReportEntry.collection == "actions")).scalars().all()
    assert [d.isoformat() for d in days] == ["2026-03-07"]


def test_the_api_refuses_to_alter_a_carried_row_and_corrects_through_its_own_route(runtime, people):
    api = Api(create_app(runtime, {"TESTING": True}).test_client())
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    opened = conforms(api.as_("anna").get(f"/api/tasks/{task_id}"), "/api/tasks/{task_id}", "get")
    assert opened["carried"]["actions"][0]["recorded_by"] == "anna"
    changed = [{**ACTION_33, "log": "átírva"}, ACTION_34]
    response = api.as_("anna").post(f"/api/tasks/{task_id}/complete", json={"data": {"actions": changed}})
    body = conforms(response, "/api/tasks/{task_id}/complete", "post")
    assert response.status_code == 422 and [d["field"] for d in body["details"]] == ["actions/0"]
    response = api.as_("anna").post(f"/api/tasks/{task_id}/complete", json={"data": {"actions": []}})
    assert response.status_code == 422 and conforms(response, "/api/tasks/{task_id}/complete", "post")
    path = "/api/cases/{case_id}/entries/{field}/{row}/correction"
    response = api.as_("anna").post(f"/api/cases/{case_id}/entries/actions/0/correction",
                                    json={"data": changed[0], "reason": "elírás"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert conforms(response, path, "post")["before"] == ACTION_33
    response = api.as_("bela").post(f"/api/cases/{case_id}/entries/actions/0/correction", json={"data": ACTION_34})
    assert response.status_code == 403 and conforms(response, path, "post")
    response = api.as_("anna").post(f"/api/cases/{case_id}/entries/actions/0/correction", json={"row": ACTION_34})
    assert response.status_code == 400 and conforms(response, path, "post")
    response = api.as_("anna").post(f"/api/tasks/{task_id}/complete",
                                    json={"data": {"actions": [changed[0], ACTION_34]}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _data(runtime, case_id, people)["actions"] == [changed[0], ACTION_34]


def test_the_cli_refuses_to_alter_a_carried_row_and_corrects_an_entry(runtime, people, database_url):
    segito = Segito(database_url)
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    result = segito("task", "complete", task_id, "--as", "anna", "--data",
                    json.dumps({"actions": [ACTION_34]}))
    assert result.exit_code != 0 and "actions/0" in result.output and "3.3" in result.output
    out = segito.ok("case", "correct-entry", case_id, "actions", 0, "--as", "anna", "--data",
                    json.dumps({**ACTION_33, "log": "pontosítva"}), "--reason", "pontosítás")
    assert out["after"]["log"] == "pontosítva"
    assert _events(runtime, case_id, "entry_corrected")[0]["before"] == {"actions": [ACTION_33]}


def test_a_draft_keeps_only_the_new_rows(runtime, people):
    case_id = _at_case_discussion(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_4")
    tasks.save_draft(runtime, task_id, {"actions": [ACTION_33, ACTION_34]}, people.anna)
    opened = tasks.get_task(runtime, task_id, people.anna)
    assert opened["values"]["actions"] == [ACTION_33, ACTION_34] and len(opened["carried"]["actions"]) == 1
    entry_corrections.correct(runtime, case_id, "actions", 0, {**ACTION_33, "log": "új"}, people.anna)
    opened = tasks.get_task(runtime, task_id, people.anna)
    assert opened["values"]["actions"] == [{**ACTION_33, "log": "új"}, ACTION_34]


def test_parallel_follow_up_contacts_all_stay_in_the_case_log(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    do(runtime, case_id, "step_3_8", {**demo_data.closure_data(True), "closure_date": "2026-06-30",
                                      "follow_up_frequency": "monthly", "follow_up_months": 2}, people.anna)
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    clock.freeze(local("2026-09-01", 8))
    timers.fire_due(runtime, "w")
    first, second = ready_tasks(runtime, case_id, "step_3_10")
    contact_a = {"date": "2026-07-30", "state_found": "Rendben."}
    contact_b = {"date": "2026-08-30", "state_found": "Stabil."}
    tasks.complete(runtime, first.id, {"follow_up_contacts": [contact_a]}, people.anna)
    opened = tasks.get_task(runtime, second.id, people.anna)
    assert [e["row"] for e in opened["carried"]["follow_up_contacts"]] == [contact_a]
    with pytest.raises(ValidationFailed):  # each contact records its own row
        tasks.complete(runtime, second.id, {}, people.anna)
    tasks.complete(runtime, second.id, {"follow_up_contacts": [contact_a, contact_b]}, people.anna)
    case = cases.get_case(runtime, case_id, people.anna)
    assert case["status"] == "completed" and case["data"]["follow_up_contacts"] == [contact_a, contact_b]


def test_the_form_format_checks_the_append_only_keywords():
    base = {"type": "object", "properties": {"rows": {
        "type": "array", "x-label": {"hu": "s", "en": "r"}, "x-append-only": True, "x-min-new-rows": 1,
        "items": {"type": "object", "properties": {"note": {"type": "string", "x-label": {"hu": "m", "en": "n"},
                                                            "x-append-only": True}}}}}}
    _, problems = check_form_file("f.json", json.dumps(base))
    assert [p["message"].split(":")[0] for p in problems] == ["field 'note'"]
    base["properties"]["rows"]["x-append-only"] = "yes"
    _, problems = check_form_file("f.json", json.dumps(base))
    assert {p["message"].split(":")[0] for p in problems} == {"field 'note'", "field 'rows'"}


def test_a_block_is_append_only_in_every_form_of_a_process_or_in_none():
    block = {"type": "array", "items": {"type": "object"}}
    forms = {"a.json": {"properties": {"log": {**block, "x-append-only": True}}},
             "b.json": {"properties": {"log": block}}, "c.json": {"properties": {"other": block}}}
    assert [p["file"] for p in append_only_agreement(forms)] == ["b.json"]
    forms["b.json"]["properties"]["log"]["x-append-only"] = True
    assert append_only_agreement(forms) == []
