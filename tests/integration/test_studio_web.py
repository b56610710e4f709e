"""The studio's pages and JSON (web/studio_views.py): designers and administrators open a package version in the
modeler, read its files and save drafts; a refused draft answers 422 naming each problem's file, line and element;
bad input is a 4xx naming the field; caseworkers and managers get none of it."""
from __future__ import annotations

import json

import pytest

from engine.people import users
from engine.store import clock
from tests.conftest import _password_hash
from tests.integration.web_client import browser, make_app


def _post_json(b, path, body):
    b.get("/studio/intake/1")
    return b.client.post(path, data=json.dumps(body), content_type="application/json",
                         headers={"X-CSRFToken": b.token, "Accept": "application/json"})


def test_a_designer_opens_the_modeler_and_saves_a_draft(runtime, people):
    dora = browser(make_app(runtime), "dora")
    page = dora.get("/studio/intake/1/modeler?file=intake.bpmn").get_data(as_text=True)
    assert "viewer/modeler.js" in page and "data-bpmn-modeler" in page and "Modellező" in page
    config = page.split('data-config="', 1)[1].split('"', 1)[0]
    assert "&#34;lane&#34;: &#34;caseworker&#34;" in config and "register_client" in config
    source = dora.get("/studio/intake/1/files/intake.bpmn")
    assert source.mimetype == "application/xml"
    xml = source.get_data(as_text=True).replace('name="Esetfelvétel"', 'name="Esetfelvétel (új)"')
    saved = _post_json(dora, "/studio/intake/1/draft", {"file": "intake.bpmn", "xml": xml, "note": "új név"})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.json["version"] == 2 and saved.json["draft"] is True
    assert saved.json["next"] == "/studio/intake/2/modeler?file=intake.bpmn"
    assert "Esetfelvétel (új)" in dora.get("/studio/intake/2/files/intake.bpmn").get_data(as_text=True)


def test_a_refused_draft_answers_its_problems_as_json(runtime, people):
    dora = browser(make_app(runtime), "dora")
    xml = dora.get("/studio/intake/1/files/intake.bpmn").get_data(as_text=True)
    broken = xml.replace("<bpmn:flowNodeRef>intake_registration</bpmn:flowNodeRef>", "")
    refused = _post_json(dora, "/studio/intake/1/draft", {"file": "intake.bpmn", "xml": broken})
    assert refused.status_code == 422 and refused.json["error"] == "package_invalid"
    assert any(p["element"] == "intake_registration" and p["line"] for p in refused.json["details"])
    not_xml = _post_json(dora, "/studio/intake/1/draft", {"file": "intake.bpmn", "xml": "<bpmn:definitions"})
    assert not_xml.status_code == 422
    missing = _post_json(dora, "/studio/intake/1/draft", {"file": "intake.bpmn"})
    assert missing.status_code == 422 and missing.json["details"][1]["field"] == "xml"
    manifest = _post_json(dora, "/studio/intake/1/draft", {"file": "service.yaml", "xml": "key: x"})
    assert manifest.status_code == 422 and manifest.json["details"][0]["value"] == "service.yaml"
    assert _post_json(dora, "/studio/intake/9/draft", {"file": "intake.bpmn", "xml": xml}).status_code == 404
    assert dora.get("/studio/intake/1/modeler?file=nothing.bpmn").status_code == 404


@pytest.mark.parametrize("username", ["anna", "mark"])
def test_only_designers_and_administrators_see_the_studio(runtime, people, username):
    other = browser(make_app(runtime), username)
    assert other.get("/studio/intake/1/modeler?file=intake.bpmn").status_code == 403
    assert other.get("/studio/intake/1/files/intake.bpmn").status_code == 403
    assert other.get("/studio/intake/1").status_code == 403
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "root", "Root", [users.ADMINISTRATOR], None, "test", clock.now(),
                          password_hash=_password_hash("root"))
    assert browser(make_app(runtime), "root").get("/studio/intake/1").status_code == 200


def test_the_test_runs_page_reports_paths_and_marks_the_diagram(runtime, people):
    dora = browser(make_app(runtime), "dora")
    page = dora.get("/studio/family_care/1/test-runs").get_data(as_text=True)
    assert "13 út: 13 véget ért, 0 elakadt; bejárt elágazási ágak: 17 / 17." in page
    assert 'data-taken="' in page and "flow_gw_3_9_step_3_11" in page
    dora.post("/language", {"locale": "en"})
    english = dora.get("/studio/family_care/1/test-runs").get_data(as_text=True)
    assert "13 paths: 13 ended, 0 stuck; gateway flows taken: 17 of 17." in english and "Passed" in english
    # The diagram speaks the reader's language, as the catalogue's does.
    assert 'name="Draw up the action plan"' in dora.get("/studio/family_care/1/diagram/family_care.bpmn").get_data(
        as_text=True)
    assert browser(make_app(runtime), "anna").get("/studio/family_care/1/test-runs").status_code == 403


def test_sample_data_is_saved_as_a_draft_or_refused_as_typed(runtime, people):
    dora = browser(make_app(runtime), "dora")
    page = dora.get("/studio/intake/1/tests/paths.yaml")
    assert page.status_code == 200 and "intake_registration" in page.get_data(as_text=True)
    refused = dora.post("/studio/intake/1/tests/paths.yaml", {"content": "format: 2\nprocess: intake\ntasks: {}\n"})
    assert refused.status_code == 422
    assert "format: 2" in refused.get_data(as_text=True) and "Nem történt mentés" in refused.get_data(as_text=True)
    text = dora.get("/studio/intake/1/files/tests/paths.yaml").get_data(as_text=True)
    saved = dora.post("/studio/intake/1/tests/paths.yaml", {"content": text + "max_steps: 10\n"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/studio/intake/2/test-runs")
    assert dora.get("/studio/intake/1/tests/../service.yaml").status_code == 404


def test_the_test_runs_page_makes_a_new_sample_data_file(runtime, people):
    dora = browser(make_app(runtime), "dora")
    for page in (dora.get("/studio/intake/1/test-runs"), dora.get("/studio/intake/1")):
        text = page.get_data(as_text=True)
        assert 'data-testid="new-test-file"' in text and "Új mintaadat-fájl" in text
        assert 'action="/studio/intake/1/tests-new"' in text and '<option value="intake">' in text
    opened = dora.get("/studio/intake/1/tests-new", query_string={"process": "intake", "name": "returning"})
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/studio/intake/1/tests/returning.yaml?process=intake")
    editor = dora.get(opened.headers["Location"]).get_data(as_text=True)
    assert "format: 1\nprocess: intake\nstart: {}\ntasks: {}\n" in editor and "tests/returning.yaml" in editor
    # Nothing is kept until the editor saves it; bad choices are refused naming the field, in the reader's language.
    assert dora.get("/studio/intake/1/files/tests/returning.yaml").status_code == 404
    for query, words in (({"process": "intake", "name": "paths"}, "A tests/paths.yaml már létezik"),
                         ({"process": "intake", "name": "../service"}, "„../service” nem lehet fájlnév"),
                         ({"process": "intake", "name": ""}, "nem lehet fájlnév"),
                         ({"process": "family_care", "name": "x"}, "Válassza ki a csomag egyik folyamatát")):
        refused = dora.get("/studio/intake/1/tests-new", query_string=query)
        assert refused.status_code == 422 and words in refused.get_data(as_text=True), query
    dora.post("/language", {"locale": "en"})
    english = dora.get("/studio/intake/1/test-runs").get_data(as_text=True)
    assert "New sample-data file" in english and "Új mintaadat-fájl" not in english
    refused = dora.get("/studio/intake/1/tests-new", query_string={"process": "intake", "name": "paths"})
    assert "tests/paths.yaml exists already" in refused.get_data(as_text=True)
    assert browser(make_app(runtime), "anna").get("/studio/intake/1/tests-new",
                                                  query_string={"process": "intake", "name": "x"}).status_code == 403
