"""Moving running cases to another version in bulk (docs/services.md, "Moving running cases to another version"):
a dry run says for each case whether it can move and why not; moving keeps each waiting step (its inbox row, its
deadline), writes one audit event per case and goes on past a case that fails; a batch is reverted."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from engine.cases import migration, tasks
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.store import audit
from engine.store.models import AuditEvent, Case, HumanTask, ProcessDefinition
from engine.store.timer_models import Timer

from . import family_care_v2
from .helpers import do, new_family_case, task_of, through_agreement, waiting

MEETING = {"date": "2026-02-06", "place": "client_home", "log": "Családlátogatás."}


def _cases(runtime, people):
    at_3_1 = new_family_case(runtime, people, 0)
    at_3_3 = new_family_case(runtime, people, 1)
    through_agreement(runtime, people, at_3_3)
    at_3_4 = new_family_case(runtime, people, 2)
    through_agreement(runtime, people, at_3_4)
    do(runtime, at_3_4, "step_3_3", {"meetings": [MEETING], "casework_next": "case_discussion"}, people.anna)
    return at_3_1, at_3_3, at_3_4


def _version(runtime, case_id) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(ProcessDefinition.version).join(Case, Case.definition_id == ProcessDefinition.id)
                               .where(Case.id == case_id)).scalar_one()


def _timers(runtime, case_id):
    with runtime.db.reading() as session:
        return session.execute(select(Timer.spiff_task_id, Timer.bpmn_id, Timer.due_at, Timer.state)
                               .where(Timer.case_id == case_id, Timer.state == "scheduled")
                               .order_by(Timer.id)).all()


def test_dry_run_move_and_revert(runtime, people):
    at_3_1, at_3_3, at_3_4 = _cases(runtime, people)
    timers_before = _timers(runtime, at_3_3)
    assert timers_before, "3.3 waits with its review deadline"
    rows_before = {t.bpmn_id: t.id for t in waiting(runtime, at_3_3)}
    new = family_care_v2.deploy(runtime)
    old = new - 1

    designer = migration.dry_run(runtime, people.dora, "family_care", from_version=old)
    assert designer["counts"] == {"cases": 3, "can_move": 2, "cannot_move": 1}
    assert designer["can_move"] == [at_3_1, at_3_3] and designer["cannot_move"] == [at_3_4]
    assert "cases" not in designer, "a designer never sees where one client's case stands"
    (reason,) = designer["reasons"]
    assert reason["cases"] == 1 and "'step_3_4'" in reason["message"] and "step_3_4_discussion" in reason["message"]
    assert (reason["code"], reason["element"], reason["suggest"]) == ("missing", "step_3_4", "step_3_4_discussion")
    manager = migration.dry_run(runtime, people.mark, "family_care", from_version=old)
    by_case = {c["case_id"]: c for c in manager["cases"]}
    assert {"bpmn_id": "step_3_3", "state": "ready", "to": "step_3_3"} in by_case[at_3_3]["waiting"]
    assert by_case[at_3_4]["can_move"] is False
    only_3_3 = migration.dry_run(runtime, people.mark, "family_care", step="step_3_3")
    assert only_3_3["can_move"] == [at_3_3]

    with pytest.raises(Forbidden):
        migration.migrate(runtime, people.dora, "family_care", from_version=old)
    with pytest.raises(Forbidden):
        migration.dry_run(runtime, people.anna, "family_care")

    moved = migration.migrate(runtime, people.mark, "family_care", from_version=old)
    assert moved["moved"] == [at_3_1, at_3_3] and moved["to_version"] == new
    assert moved["not_moved"][0]["case_id"] == at_3_4 and moved["not_moved"][0]["why"][0]["element"] == "step_3_4"
    assert (_version(runtime, at_3_1), _version(runtime, at_3_3), _version(runtime, at_3_4)) == (new, new, old)
    # The waiting step kept its inbox row (and id) and took the new version's name; its deadline did not move.
    after = waiting(runtime, at_3_3)
    assert {t.bpmn_id: t.id for t in after} == rows_before
    assert next(t for t in after if t.bpmn_id == "step_3_3").name == "3.3 Esetmunka (folyamatos)"
    assert _timers(runtime, at_3_3) == timers_before
    with runtime.db.reading() as session:
        events = [SimpleNamespace(case_id=e.case_id, payload=audit.readable(session, e.payload))  # sealed: opened
                  for e in session.execute(select(AuditEvent.case_id, AuditEvent.payload)
                                           .where(AuditEvent.kind == migration.CASE_MIGRATED)).all()]
        batch_event = session.execute(select(AuditEvent.payload).where(AuditEvent.kind == migration.CASES_MIGRATED)
                                      ).scalar_one()
    assert sorted(e.case_id for e in events) == [at_3_1, at_3_3]
    assert all(e.payload["before"]["version"] == old and e.payload["after"]["version"] == new
               and e.payload["batch"] == moved["batch"] for e in events)
    assert batch_event["moved"] == [at_3_1, at_3_3] and batch_event["not_moved"][0]["case_id"] == at_3_4

    # The moved case runs on the new version: 3.3 → review goes to 3.6 by the new condition.
    do(runtime, at_3_3, "step_3_3", {"meetings": [MEETING], "casework_next": "review"}, people.anna)
    assert [t.bpmn_id for t in waiting(runtime, at_3_3)] == ["step_3_6"]

    # Mapped, the case waiting at the removed step moves too, and waits at the mapped one.
    mapped = migration.migrate(runtime, people.mark, "family_care", from_version=old,
                               mapping={"step_3_4": "step_3_4_discussion"})
    assert mapped["moved"] == [at_3_4]
    assert [t.bpmn_id for t in waiting(runtime, at_3_4)] == ["step_3_4_discussion"]
    task_of(runtime, at_3_4, "step_3_4_discussion")

    # Reverting the first batch: the untouched case goes back; the one that moved on (3.6 is the same element in
    # both versions) goes back too and keeps waiting at 3.6.
    back = migration.revert(runtime, people.mark, moved["batch"])
    assert back["reverts"] == moved["batch"] and sorted(back["moved"]) == [at_3_1, at_3_3]
    assert (_version(runtime, at_3_1), _version(runtime, at_3_3)) == (old, old)
    assert [t.bpmn_id for t in waiting(runtime, at_3_3)] == ["step_3_6"]
    # The mapped batch reverts with the mapping inverted.
    assert migration.revert(runtime, people.mark, mapped["batch"])["moved"] == [at_3_4]
    assert [t.bpmn_id for t in waiting(runtime, at_3_4)] == ["step_3_4"]
    with runtime.db.reading() as session:
        assert [b["batch"] for b in migration.batches(session, "family_care")][:1] != [moved["batch"]]


def test_a_case_that_fails_is_reported_and_the_batch_goes_on(runtime, people):
    first, second = new_family_case(runtime, people, 0), new_family_case(runtime, people, 1)
    new = family_care_v2.deploy(runtime)
    with runtime.db.unit_of_work() as session:
        session.execute(update(Case).where(Case.id == first).values(state=b'{"broken": true}'))
    runtime.workflows.evict(first)
    result = migration.migrate(runtime, people.mark, "family_care", from_version=new - 1)
    assert result["moved"] == [second]
    failed = next(r for r in result["results"] if r["case_id"] == first)
    assert failed["moved"] is False and failed["reasons"][0]["code"] == "failed"
    assert _version(runtime, first) == new - 1


@pytest.mark.parametrize("request_, error", [
    ({"status": "completed"}, ValidationFailed), ({"to_version": 99}, NotFound),
    ({"from_version": "x"}, ValidationFailed),
    ({"mapping": {"a": 1}}, ValidationFailed), ({"mapping": ["a"]}, ValidationFailed)])
def test_a_bad_request_is_refused_naming_the_field(runtime, people, request_, error):
    with pytest.raises(error):
        migration.dry_run(runtime, people.mark, "family_care", **request_)


def test_an_unknown_batch_cannot_be_reverted(runtime, people):
    with pytest.raises(NotFound):
        migration.revert(runtime, people.mark, "abc123")
    with pytest.raises(ValidationFailed):
        migration.revert(runtime, people.mark, "../x")


def test_a_moved_step_opens_with_the_new_versions_form_and_history_stays(runtime, people):
    case_id = new_family_case(runtime, people, 0)
    through_agreement(runtime, people, case_id)
    new = family_care_v2.deploy(runtime)
    migration.migrate(runtime, people.mark, "family_care", from_version=new - 1)
    task = tasks.get_task(runtime, task_of(runtime, case_id, "step_3_3"), people.anna)
    assert "casework_note" in task["form"]["properties"], "the waiting step now shows the new version's form"
    with runtime.db.reading() as session:
        assert session.execute(select(HumanTask.state).where(HumanTask.case_id == case_id,
                                                             HumanTask.bpmn_id == "step_3_2")).scalar() == "completed"


def test_the_page_lets_a_designer_dry_run_by_counts_and_a_manager_move_and_revert(runtime, people, database_url):
    from .test_cli import Segito
    from .web_client import browser, make_app

    at_3_1, at_3_3, at_3_4 = _cases(runtime, people)
    new = family_care_v2.deploy(runtime)
    old = new - 1
    app = make_app(runtime)
    dora = browser(app, "dora")
    page = dora.get(f"/processes/family_care/migrate?dry=1&from={old}&to={new}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:400]
    assert "3 eset kiválasztva: 2 áthelyezhető, 1 nem." in html and 'data-testid="migrate-cases"' not in html
    assert "step_3_4_discussion" in html and 'data-testid="migrate-run"' not in html
    assert dora.post("/processes/family_care/migrate", {"from": old, "to": new}).status_code == 403

    mark = browser(app, "mark")
    mark.post("/language", {"locale": "en"})
    html = mark.get(f"/processes/family_care/migrate?dry=1&from={old}&to={new}").get_data(as_text=True)
    assert "3 cases chosen: 2 can move, 1 cannot." in html and f'data-testid="migrate-case-{at_3_4}"' in html
    assert "It waits at step_3_4, which version" in html and "eset" not in html
    done = mark.post("/processes/family_care/migrate", {"from": old, "to": new, "status": "running", "map": ""})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "2 cases moved, 1 not." in html
    assert (_version(runtime, at_3_1), _version(runtime, at_3_3), _version(runtime, at_3_4)) == (new, new, old)
    bad = mark.post("/processes/family_care/migrate", {"from": old, "map": "step_3_4"})
    assert bad.status_code == 422

    segito = Segito(database_url)
    batches = segito.ok("migrate", "batches", "family_care", "--as", "dora")
    assert batches[0]["moved"] == 2
    reverted = mark.post(f"/migrations/{batches[0]['batch']}/revert")
    assert reverted.status_code == 200 and "Move reverted" in reverted.get_data(as_text=True)
    assert (_version(runtime, at_3_1), _version(runtime, at_3_3)) == (old, old)
    dry = segito.ok("migrate", "dry-run", "family_care", "--from", old, "--map", "step_3_4=step_3_4_discussion",
                    "--as", "dora")
    assert dry["counts"]["can_move"] == 3
    moved = segito.ok("migrate", "run", "family_care", "--from", old, "--map", "step_3_4=step_3_4_discussion",
                      "--as", "mark")
    assert sorted(moved["moved"]) == [at_3_1, at_3_3, at_3_4]
    assert segito("migrate", "run", "family_care", "--as", "dora").exit_code != 0
    assert browser(app, "anna").get("/processes/family_care/migrate").status_code == 403


def test_the_api_moves_and_reverts_conforming_to_its_description(runtime, people):
    from base64 import b64encode

    from .test_api import conforms
    from .web_client import make_app

    at_3_1, _at_3_3, _at_3_4 = _cases(runtime, people)
    new = family_care_v2.deploy(runtime)
    client = make_app(runtime).test_client()

    def call(method, user, path, body=None):
        auth = b64encode(f"{user}:pw-{user}".encode()).decode()
        return client.open(path, method=method, json=body, headers={"Authorization": f"Basic {auth}"})

    body = conforms(call("POST", "dora", "/api/migrations/dry-run", {"process_key": "family_care"}),
                    "/api/migrations/dry-run", "post")
    assert body["counts"]["can_move"] == 2 and "cases" not in body
    assert call("POST", "dora", "/api/migrations", {"process_key": "family_care"}).status_code == 403
    refused = conforms(call("POST", "mark", "/api/migrations", {"process_key": "family_care", "status": "done"}),
                       "/api/migrations", "post")
    assert refused["details"][0]["field"] == "status"
    assert call("POST", "mark", "/api/migrations", {"process_key": "family_care", "oops": 1}).status_code == 400
    moved = conforms(call("POST", "mark", "/api/migrations", {"process_key": "family_care", "to_version": new}),
                     "/api/migrations", "post")
    assert at_3_1 in moved["moved"]
    listed = conforms(call("GET", "dora", "/api/migrations?process_key=family_care"), "/api/migrations", "get")
    assert listed[0]["batch"] == moved["batch"]
    back = conforms(call("POST", "mark", f"/api/migrations/{moved['batch']}/revert"),
                    "/api/migrations/{batch}/revert", "post")
    assert back["reverts"] == moved["batch"] and _version(runtime, at_3_1) == new - 1
    assert call("POST", "mark", "/api/migrations/nosuchbatch/revert").status_code == 404


def test_a_case_in_follow_up_moves_with_its_subprocesses_and_keeps_every_contact(runtime, people):
    """3.10: a multi-instance subprocess, each contact a waiting date timer inside it."""
    from engine.store import clock
    from engine.timers import timers

    from .test_family_care_follow_up import _closed
    from .timer_helpers import local

    case_id = _closed(runtime, people, "monthly", 3)
    timers_before = _timers(runtime, case_id)
    rows_before = sorted((t.bpmn_id, t.id) for t in waiting(runtime, case_id))
    assert len(timers_before) >= 3
    new = family_care_v2.deploy(runtime)
    dry = migration.dry_run(runtime, people.mark, "family_care", from_version=new - 1)
    assert dry["can_move"] == [case_id], dry
    moved = migration.migrate(runtime, people.mark, "family_care", from_version=new - 1)
    assert moved["moved"] == [case_id], moved
    assert _timers(runtime, case_id) == timers_before
    assert sorted((t.bpmn_id, t.id) for t in waiting(runtime, case_id)) == rows_before
    # The follow-up goes on on the new version: the first contact's timer fires inside the moved subprocess, then
    # the caseworker ends the follow-up early.
    clock.freeze(local("2026-07-30", 8))
    assert timers.fire_due(runtime, "w") == 1
    assert "step_3_10" in [t.bpmn_id for t in waiting(runtime, case_id)]
    do(runtime, case_id, "step_3_10_manage", {"follow_up_action": "end", "follow_up_end_date": "2026-07-30",
                                              "follow_up_end_reason": "A helyzet rendeződött."}, people.anna)
    with runtime.db.reading() as session:
        assert session.get_one(Case, case_id).status == "completed"
