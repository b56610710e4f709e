"""What the pages show: the inbox (groups, counts, filters, paging, overdue), the case page (client, steps,
case log, timeline, diagram), the process catalogue, and the administrator's user management."""
from __future__ import annotations

import datetime as dt
import re

import lxml.html
from sqlalchemy import select, update

from engine.cases import cases
from engine.people import users
from engine.store import audit, clock
from engine.store.models import AuditEvent, HumanTask, User
from tests import demo_data
from tests.integration.helpers import task_of
from tests.integration.web_client import Browser, browser, make_app


def _rows(html: str) -> list[str]:
    return re.findall(r'data-task-id="(\d+)"', html)


def test_inbox_groups_counts_filters_and_overdue(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    at_3_1 = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.1")
    code2 = demo_data.run_intake(runtime, people.anna, 1)
    at_3_3 = demo_data.run_family_care(runtime, people.anna, people.lea, code2, stop_at="3.3")
    overdue_task = task_of(runtime, at_3_1, "step_3_1")
    with runtime.db.unit_of_work() as session:
        session.execute(update(HumanTask).where(HumanTask.id == overdue_task)
                        .values(due_at=clock.now() - dt.timedelta(days=2)))
    anna = browser(make_app(runtime), "anna")
    html = anna.get("/inbox").get_data(as_text=True)
    assert 'data-testid="count-mine">2<' in html and 'data-testid="count-overdue">1<' in html
    assert _rows(html)[0] == str(overdue_task)  # overdue first
    assert re.search(rf'<tr class="overdue" data-task-id="{overdue_task}"', html)
    assert "Lejárt" in html
    only_3_3 = anna.get("/inbox?step=3.3").get_data(as_text=True)
    assert _rows(only_3_3) == [str(task_of(runtime, at_3_3, "step_3_3"))]
    by_client = anna.get(f"/inbox?client={code}").get_data(as_text=True)
    assert _rows(by_client) == [str(overdue_task)]
    assert _rows(anna.get("/inbox?due=overdue").get_data(as_text=True)) == [str(overdue_task)]
    assert _rows(anna.get("/inbox?process=intake").get_data(as_text=True)) == []
    assert len(_rows(anna.get("/inbox?group=mine").get_data(as_text=True))) == 2
    assert _rows(anna.get("/inbox?group=unclaimed").get_data(as_text=True)) == []
    assert anna.get("/inbox?page=x").status_code == 400


def test_inbox_pages_through_many_tasks(runtime, people):
    for _ in range(27):
        cases.start_case(runtime, "intake", people.anna)
    anna = browser(make_app(runtime), "anna")
    first = anna.get("/inbox").get_data(as_text=True)
    second = anna.get("/inbox?page=2").get_data(as_text=True)
    assert len(_rows(first)) == 25 and len(_rows(second)) == 2
    assert not set(_rows(first)) & set(_rows(second))
    assert "2. oldal / 2" in second and 'rel="prev"' in second


def test_lead_sees_closures_waiting_for_agreement_and_claims_one(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.8 agree")
    agree = task_of(runtime, case_id, "agree_closure_success")
    lea = browser(make_app(runtime), "lea")
    html = lea.get("/inbox").get_data(as_text=True)
    closures = html[html.index('data-testid="closures"'):html.index('data-testid="count-mine"')]
    assert f"/cases/{case_id}" in closures and "Egyetértésére váró lezárások" in html
    assert lea.post(f"/inbox/tasks/{agree}/claim", {"next": "/inbox"}).status_code == 302
    with runtime.db.reading() as session:
        assert session.get(HumanTask, agree).assignee_id == people.lea.id
    # The case page says the step waits for her, and names her in the timeline's claim ("Assigned to": – → Lea);
    # to Anna, the case's caseworker, it says whose step it is.
    case_html = lea.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "– Önre vár</span>" in case_html
    assert "– Lea intézi</span>" in browser(make_app(runtime), "anna").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<td>Felelős</td><td>–</td><td>Lea</td>" in case_html
    assert lea.post(f"/inbox/tasks/{agree}/release").status_code == 302
    with runtime.db.reading() as session:
        assert session.get(HumanTask, agree).assignee_id is None
    # Anna (a caseworker) is not shown the lead's task.
    anna_html = browser(make_app(runtime), "anna").get("/inbox").get_data(as_text=True)
    assert str(agree) not in _rows(anna_html) and 'data-testid="closures"' not in anna_html


def test_case_page_shows_client_steps_log_timeline_and_diagram(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, loops=2, stop_at="3.6")
    anna = browser(make_app(runtime), "anna")
    html = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert code in html and "Kovács" in html  # the client
    assert "3.6" in html  # the current step
    # The diagram viewer is given the case's own BPMN and its marks (drawn in the browser: tests/e2e).
    viewer = lxml.html.fromstring(html).xpath("//*[@data-testid='case-diagram']")[0]
    assert viewer.get("data-src") == f"/cases/{case_id}/diagram.bpmn"
    assert viewer.get("data-current").split() == ["step_3_6"]
    assert "step_3_1" in viewer.get("data-done").split() and "step_3_8" not in viewer.get("data-done").split()
    assert "flow_step_3_1_step_3_2" in viewer.get("data-taken").split()
    # The same in words, for a screen reader.
    steps = {li.text_content() for li in lxml.html.fromstring(html).xpath("//ol[@data-testid='diagram-steps']/li")}
    assert {"3.1 Cselekvési terv kidolgozása: Megtett lépés", "3.8 Eset sikeres lezárása: Még nem érintett",
            "3.6 Teljesülnek az együttműködési megállapodásban vállaltak?: Aktuális lépés"} <= steps, steps
    # The case log: two meetings (47-49) and the action (50-51), with the form's labels and options.
    meetings = html[html.index('data-testid="log-meetings"'):]
    meetings = meetings[:meetings.index("</table>")]  # the timeline below shows the rows each step recorded too
    assert meetings.count("Családlátogatás") == 2 and "kliens otthonában" in meetings
    assert "2026.02.07" in meetings
    assert "Egyeztetés az iskolával." in html[html.index('data-testid="log-actions"'):]
    # The timeline: who and what changed, newest first, with field labels.
    timeline = html[html.index('data-testid="timeline"'):]
    assert "Lépés elvégezve" in timeline and "anna" in timeline and "Cselekvési terv" in timeline


def test_case_page_in_english_uses_english_names(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.3")
    anna = browser(make_app(runtime), "anna")
    anna.post("/language", {"locale": "en"})
    html = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Where the case stands" in html and "at the client&#39;s home" not in html
    assert "Draw up the action plan" in html  # step 3.1 in the timeline and the diagram
    assert "Cselekvési terv kidolgozása" not in html


def test_intake_case_offers_family_care_for_its_client(runtime, people):
    anna = browser(make_app(runtime), "anna")
    first = anna.post("/cases/start", {"process_key": "intake"})
    assert first.status_code == 302  # to the new intake's form
    code = demo_data.run_intake(runtime, people.anna, 3)
    with runtime.db.reading() as session:
        intake_case = session.execute(select(HumanTask.case_id).where(HumanTask.bpmn_id == "intake_registration",
                                                                       HumanTask.state == "completed")
                                      ).scalars().all()[-1]
    html = anna.get(f"/cases/{intake_case}").get_data(as_text=True)
    assert 'data-testid="start-family-care"' in html and code in html
    assert 'data-testid="start-job-retention"' in html  # every process a caseworker may start from a client
    # The button opens a page that asks first, with the client code filled in; nothing is started yet.
    ask = anna.get(f"/cases/new?process_key=family_care&client_code={code}").get_data(as_text=True)
    assert 'data-testid="start-confirm"' in ask and f'value="{code}"' in ask
    with runtime.db.reading() as session:
        assert session.execute(select(HumanTask).where(HumanTask.bpmn_id == "step_3_1")).first() is None
    response = anna.post("/cases/start", {"process_key": "family_care", "client_code": code})
    assert response.status_code == 302
    with runtime.db.reading() as session:
        assert session.execute(select(HumanTask).where(HumanTask.bpmn_id == "step_3_1")).scalar_one()


def test_catalogue_lists_processes_with_steps_roles_and_documents(runtime, people):
    anna = browser(make_app(runtime), "anna")
    listing = anna.get("/processes").get_data(as_text=True)
    assert "/processes/family_care" in listing and "/processes/intake" in listing
    page = anna.get("/processes/family_care").get_data(as_text=True)
    # The diagram: its viewer and the BPMN it loads (drawn in the browser: tests/e2e/test_diagram_viewer_e2e.py).
    assert 'data-bpmn-viewer' in page and 'data-src="/processes/family_care/diagram.bpmn"' in page
    assert 'id="step_3_8"' in anna.get("/processes/family_care/diagram.bpmn").get_data(as_text=True)
    for text in ("3.1", "3.11", "Cselekvési terv", "Esetnapló", "Szakmai vezető", "Családgondozó"):
        assert text in page, text
    assert page.index(">3.9<") < page.index(">3.10<")  # steps in their numeric order
    assert anna.get("/processes/nope").status_code == 404


def _admin(runtime):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "root", "Root", [users.ADMINISTRATOR], "pw-root", "test", clock.now())


def test_administrator_creates_changes_and_deactivates_users(runtime, people):
    _admin(runtime)
    app = make_app(runtime)
    root = browser(app, "root")
    bad = root.post("/admin/users", {"username": "", "display_name": "", "password": "short"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Felhasználónév megadása kötelező." in text and "Válasszon legalább egy szerepkört." in text
    assert "legalább 10 karakter" in text
    taken = root.post("/admin/users", {"username": "anna", "display_name": "A", "roles": "caseworker",
                                       "password": "long-enough-pw"})
    assert "Ez a felhasználónév már foglalt." in taken.get_data(as_text=True)
    ok = root.post("/admin/users", {"username": "cili", "display_name": "Cili", "roles": ["caseworker"],
                                    "password": "long-enough-pw"})
    assert ok.status_code == 302
    cili = Browser(app)
    assert cili.login("cili", "long-enough-pw").status_code == 302
    with runtime.db.reading() as session:
        cili_id = session.execute(select(User.id).where(User.username == "cili")).scalar()
    root.get("/admin/users")
    changed = root.post(f"/admin/users/{cili_id}", {"display_name": "Cili Kiss",
                                                     "roles": ["caseworker", "professional_lead"], "active": "1"})
    assert changed.status_code == 302
    with runtime.db.reading() as session:
        user = session.get(User, cili_id)
        assert user.display_name == "Cili Kiss" and user.role_codes == {"caseworker", "professional_lead"}
    root.get("/admin/users")
    assert root.post(f"/admin/users/{cili_id}", {"display_name": "Cili Kiss", "roles": ["caseworker"]}
                     ).status_code == 302  # no "active": deactivated
    assert cili.get("/inbox").status_code == 302  # her session ends at once
    with runtime.db.reading() as session:
        changes = session.execute(select(AuditEvent).where(AuditEvent.kind == audit.USER_CHANGED)
                                  ).scalars().all()
    assert [c.payload["after"] for c in changes] == [
        {"display_name": "Cili Kiss", "roles": ["caseworker", "professional_lead"]},
        {"roles": ["caseworker"], "active": False}]
    assert all(c.actor == "root" for c in changes)


def test_administrator_cannot_lock_themselves_out(runtime, people):
    _admin(runtime)
    root = browser(make_app(runtime), "root")
    with runtime.db.reading() as session:
        root_id = session.execute(select(User.id).where(User.username == "root")).scalar()
    refused = root.post(f"/admin/users/{root_id}", {"display_name": "Root", "roles": ["caseworker"], "active": "1"})
    assert refused.status_code == 422
    assert "A saját adminisztrátori szerepkörét nem veheti el." in refused.get_data(as_text=True)
    root.get("/admin/users")
    refused = root.post(f"/admin/users/{root_id}", {"display_name": "Root", "roles": ["administrator"]})
    assert "Saját magát nem tilthatja le." in refused.get_data(as_text=True)
    with runtime.db.reading() as session:
        assert session.get(User, root_id).active and session.get(User, root_id).role_codes == {"administrator"}
