"""What each role needs to see or do: the lead's review of the closure she agrees to (x-review), what a case
with no waiting step waits for, and starting every process one's roles may start (from the definitions)."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from engine.cases import cases
from engine.definitions import definitions
from engine.errors import DefinitionInvalid, Forbidden
from engine.sandbox import calendar_helpers
from engine.store.models import Case
from engine.store.timer_models import Timer
from engine.timers import timers
from tests import demo_data
from tests.integration.helpers import do, new_family_case, review, task_of, through_agreement
from tests.integration.web_client import browser, make_app


def _review(html: str) -> str:
    found = re.findall(r'<section class="card review".*?</section>', html, re.S)
    assert found, "the task page shows no review panel"
    return "\n".join(found)


# ---------------------------------------------------------------------------------------------- x-review
def test_the_lead_sees_the_closure_and_the_case_she_agrees_to_in_her_language(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.8 agree")
    agree = task_of(runtime, case_id, "agree_closure_success")
    lea = browser(make_app(runtime), "lea")
    panel = _review(lea.get(f"/tasks/{agree}").get_data(as_text=True))
    # The closure, labelled as closure.json labels it, values as option labels and dates as the user reads them.
    for text in ("Lezárás dátuma", "2026.06.30", "Lezárás indoka", "sikeres együttműködés, újabb probléma nem",
                 "Részt vesz-e az utánkövetésben?", "Nem",
                 # The case's key facts: client, caseworker, taken into care, problems, the newest meetings.
                 "Kliens kód", code, "Családgondozó", "Anna", "Gondozásba vétel dátuma", "Probléma típusa",
                 "anyagi"):
        assert text in panel, text
    assert "successful" not in panel and "financial" not in panel and "2026-06-30" not in panel
    assert 'data-testid="review-meetings"' in panel and 'data-testid="review-closure_reason_other"' not in panel
    lea.post("/language", {"locale": "en", "next": "/inbox"})
    panel = _review(lea.get(f"/tasks/{agree}").get_data(as_text=True))
    for text in ("Date of closure", "2026-06-30", "successful cooperation, no new problem arose",
                 "Takes part in follow-up?",
                 "Client code", "Caseworker", "Problem type", "The closure you decide on"):
        assert text in panel, text
    assert "Lezárás" not in panel and "Nem" not in panel


def test_a_step_without_x_review_shows_no_review_panel(runtime, people):
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, demo_data.run_intake(runtime, people.anna, 0),
                                   stop_at="3.1")
    html = browser(make_app(runtime), "anna").get(f"/tasks/{task_of(runtime, case_id, 'step_3_1')}")
    assert 'class="card review"' not in html.get_data(as_text=True)


def _upload_with(form_name: str, change) -> definitions.Upload:
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "bpmn" / "family_care"
    upload = definitions.Upload.from_path(folder / "family_care.bpmn")
    forms = dict(upload.forms)
    schema = json.loads(forms[form_name])
    change(schema)
    forms[form_name] = json.dumps(schema).encode()
    return definitions.Upload(upload.bpmn_name, upload.bpmn_bytes, forms)


def test_deploy_refuses_a_review_of_a_key_no_form_records_and_a_malformed_one(runtime):
    def unknown(schema):
        schema["x-review"][0]["fields"].append("closure_mood")

    def malformed(schema):
        schema["x-review"] = {"fields": ["closure_date"]}

    with pytest.raises(DefinitionInvalid) as err:
        definitions.prevalidate(_upload_with("closure_agreement.json", unknown))
    assert "closure_mood" in str(err.value.details)
    with pytest.raises(DefinitionInvalid) as err:
        definitions.prevalidate(_upload_with("closure_agreement.json", malformed))
    assert "x-review must be a list" in str(err.value.details)


# --------------------------------------------------------------------------------------- what a case waits for
def test_a_case_with_no_waiting_step_says_what_it_waits_for_and_when_and_a_timer_in_trouble(runtime, people,
                                                                                             monkeypatch):
    # A family-care case closed with monthly follow-up, agreed by the lead: it waits for its contacts' days.
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"meetings": [demo_data.meeting(6)], "casework_next": "review"}, people.anna)
    review(runtime, case_id, True, people.anna)
    do(runtime, case_id, "step_3_8", {**demo_data.closure_data(True), "follow_up_months": 2}, people.anna)
    do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, people.lea)
    with runtime.db.reading() as session:
        rows = session.execute(select(Timer).where(Timer.case_id == case_id, Timer.state == "scheduled")
                               .order_by(Timer.due_at)).scalars().all()
    # In follow-up only the step for an extra contact or ending waits; the page says what is scheduled next.
    assert rows and [t["bpmn_id"] for t in cases.get_case(runtime, case_id, people.anna, with_data=False)[
        "current_tasks"]] == ["step_3_10_manage"]
    soonest = calendar_helpers.local_date(rows[0].due_at)
    anna = browser(make_app(runtime), "anna")
    html = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    waits = html[html.index('data-testid="case-waits"'):]
    waits = waits[:waits.index("</p>")]
    assert "Következő ütemezett esemény" in waits and soonest.strftime("%Y.%m.%d") in waits \
        and "utánkövetés" in waits
    assert "follow-up contact" not in waits and 'data-testid="timer-trouble"' not in html
    # The visit's timer fails for good: the case page says so, as the inbox does.
    monkeypatch.setattr(timers, "MAX_ATTEMPTS", 1)
    timers._record_failure(runtime, rows[0].id, "w", ConnectionError("register down"))
    html = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    trouble = html[html.index('data-testid="timer-trouble"'):]
    assert "rendszergazda" in trouble[:trouble.index("</div>")]
    anna.post("/language", {"locale": "en", "next": "/inbox"})
    html = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "waits for the administrator" in html and soonest.isoformat() in html and "follow-up contact" in html


# ------------------------------------------------------------------------------------------- starting a case
def test_the_start_actions_come_from_the_definitions_and_the_users_roles(runtime, people):
    assert [p["process_key"] for p in cases.startable(runtime, people.anna)] == \
        ["case_management", "family_care", "intake", "ips", "job_retention", "self_help_groups"]
    assert [p["process_key"] for p in cases.startable(runtime, people.lea)] == ["ips_fidelity_review"]
    assert cases.startable(runtime, people.mark) == []
    code = demo_data.run_intake(runtime, people.anna, 0)
    with pytest.raises(Forbidden):
        cases.start_case(runtime, "job_retention", people.lea, code)
    app = make_app(runtime)
    anna = browser(app, "anna")
    page = anna.get("/cases").get_data(as_text=True)
    for key in ("intake", "family-care", "job-retention"):
        assert f'data-testid="start-{key}"' in page
    lead_page = browser(app, "lea").get("/cases").get_data(as_text=True)
    assert 'data-testid="start-ips-fidelity-review"' in lead_page  # the lead's one: a review, no client
    assert 'data-testid="start-job-retention"' not in lead_page and 'data-testid="start-intake"' not in lead_page
    assert browser(app, "lea").get("/cases/new?process_key=job_retention").status_code == 400
    # The start page asks first; nothing is started by opening it.
    before = _case_count(runtime)
    ask = anna.get("/cases/new?process_key=job_retention").get_data(as_text=True)
    assert 'data-testid="start-client-code"' in ask and _case_count(runtime) == before
    done = anna.post("/cases/start", {"process_key": "job_retention", "client_code": code})
    assert done.status_code == 302 and "/tasks/" in done.headers["Location"]


def _case_count(runtime) -> int:
    with runtime.db.reading() as session:
        return session.execute(select(func.count()).select_from(Case)).scalar()


def test_started_by_names_the_roles_and_deploy_refuses_an_unknown_one(runtime, people):
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "bpmn" / "job_retention"
    upload = definitions.Upload.from_path(folder / "job_retention.bpmn")
    text = upload.bpmn_bytes.decode()
    head = '<bpmn:extensionElements><spiff:properties><spiff:property name="startedBy" value="{}" />' \
           '</spiff:properties></bpmn:extensionElements>'
    at = text.index(">", text.index("<bpmn:process ")) + 1
    # The documentation comes first in a process; the properties after it.
    doc_end = text.find("</bpmn:documentation>", at)
    cut = doc_end + len("</bpmn:documentation>") if doc_end != -1 and doc_end < text.find("<bpmn:laneSet", at) \
        else at

    def with_roles(roles: str) -> definitions.Upload:
        return definitions.Upload(upload.bpmn_name, (text[:cut] + head.format(roles) + text[cut:]).encode(),
                                  upload.forms)

    with pytest.raises(DefinitionInvalid) as err:
        definitions.prevalidate(with_roles("caseworker, janitor"))
    assert "janitor" in str(err.value.details)
    assert definitions.starter_roles(with_roles("professional_lead,caseworker").bpmn_bytes.decode()) == \
        ("professional_lead", "caseworker")
    assert definitions.starter_roles(text) == ("caseworker",)  # the start event's lane


def test_a_case_with_no_waiting_step_says_so_and_what_comes_next(runtime, people):
    from .timer_helpers import TIMER_ONLY, deploy

    deploy(runtime, TIMER_ONLY, "timer_only.bpmn")
    code = demo_data.run_intake(runtime, people.anna)
    case_id = cases.start_case(runtime, "timer_only", people.anna, code)["case_id"]
    assert not cases.get_case(runtime, case_id, people.anna, with_data=False)["current_tasks"]
    html = browser(make_app(runtime), "anna").get(f"/cases/{case_id}").get_data(as_text=True)
    waits = html[html.index('data-testid="case-waits"'):]
    assert "Most nem vár lépés" in waits[:waits.index("</p>")]
