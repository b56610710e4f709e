"""Two people claiming one task from their role's queue: one gets it, the other 409 Conflict, never 403.

403 stays for a task that is not the actor's to take: another role's, or one assigned from the start (a
caseworker's task in her own case), which was never in the actor's queue.
"""
from __future__ import annotations

import base64
import threading

from engine.people import users
from engine.store import audit, clock
from engine.store.models import AuditEvent, HumanTask
from tests import demo_data
from tests.conftest import _password_hash
from tests.integration.helpers import new_family_case, task_of
from tests.integration.web_client import browser, make_app


def _second_lead(runtime):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "lili", "Lili", [users.PROFESSIONAL_LEAD], None, "test", clock.now(),
                          password_hash=_password_hash("lili"))


def _closure_waiting(runtime, people) -> int:
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.8 agree")
    return task_of(runtime, case_id, "agree_closure_success")


def _basic(username: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:pw-{username}".encode()).decode()}


def test_of_two_leads_claiming_at_once_one_wins_and_the_other_gets_409(runtime, people):
    _second_lead(runtime)
    task_id = _closure_waiting(runtime, people)
    app = make_app(runtime)
    start = threading.Barrier(2)
    answers = {}

    def claim(username):
        client = app.test_client()
        start.wait()
        answers[username] = client.post(f"/api/tasks/{task_id}/claim", headers=_basic(username))

    racers = [threading.Thread(target=claim, args=(name,)) for name in ("lea", "lili")]
    for t in racers:
        t.start()
    for t in racers:
        t.join(timeout=60)
    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [200, 409], {k: r.get_data(as_text=True) for k, r in answers.items()}
    [winner] = [name for name, r in answers.items() if r.status_code == 200]
    [loser] = [name for name, r in answers.items() if r.status_code == 409]
    body = answers[loser].get_json()
    assert body["error"] == "conflict" and "already claimed" in body["message"]
    with runtime.db.reading() as session:
        assert session.get(HumanTask, task_id).assignee_id == getattr(people, winner).id
        claims = session.query(AuditEvent).filter_by(task_id=task_id, kind=audit.TASK_CLAIMED).all()
        assert [e.actor for e in claims] == [winner]  # the loser left nothing behind


def test_claiming_a_task_another_lead_claimed_earlier_is_a_conflict_on_the_page_too(runtime, people):
    _second_lead(runtime)
    task_id = _closure_waiting(runtime, people)
    app = make_app(runtime)
    assert app.test_client().post(f"/api/tasks/{task_id}/claim", headers=_basic("lea")).status_code == 200
    lili = browser(app, "lili")
    refused = lili.post(f"/inbox/tasks/{task_id}/claim", {"next": "/inbox"})
    assert refused.status_code == 409
    assert "Valaki más előbb módosította" in refused.get_data(as_text=True)
    # Not the role's task: still 403, whoever holds it.
    anna = app.test_client().post(f"/api/tasks/{task_id}/claim", headers=_basic("anna"))
    assert anna.status_code == 403


def test_a_task_assigned_from_the_start_stays_forbidden_to_others_of_the_role(runtime, people):
    case_id = new_family_case(runtime, people)
    task_id = task_of(runtime, case_id, "step_3_1")  # anna's, as the case's caseworker: never in a queue
    response = make_app(runtime).test_client().post(f"/api/tasks/{task_id}/claim", headers=_basic("bela"))
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
