"""Every visible string has its Hungarian and English text; the diagram viewer gets the deployed BPMN in the
reader's language, from addresses only those who may see the page can read."""
from __future__ import annotations

from lxml import etree

from engine.store.config import BPMN_DIR
from tests import demo_data
from tests.integration.web_client import browser, make_app
from web import i18n


def test_every_message_of_the_pages_is_translated_into_hungarian():
    found = i18n.extract_messages()
    assert len(found) > 100
    hu = i18n.merged_catalog("hu")
    missing = [f"{msgid!r} ({', '.join(where[:2])})" for msgid, where in found.items()
               if msgid not in hu or not hu[msgid].string
               or (isinstance(hu[msgid].string, tuple) and not all(hu[msgid].string))]
    assert not missing, "untranslated:\n" + "\n".join(missing)


def test_catalogues_compile_into_a_cache_keyed_by_content(tmp_path, monkeypatch):
    first = i18n.compile_catalogues()
    assert (first / "hu" / "LC_MESSAGES" / "messages.mo").stat().st_size > 1000
    assert i18n.compile_catalogues() == first  # unchanged catalogues: the same compiled files


def _names(response) -> dict[str, str]:
    root = etree.fromstring(response.get_data())
    return {el.get("id"): el.get("name") for el in root.iter() if isinstance(el.tag, str) and el.get("name")}


def test_the_catalogue_diagram_is_the_deployed_bpmn_with_names_in_the_readers_language(runtime, people):
    anna = browser(make_app(runtime), "anna")
    page = anna.get("/processes/family_care").get_data(as_text=True)
    assert 'data-src="/processes/family_care/diagram.bpmn"' in page and "viewer/viewer.js" in page
    hu = anna.get("/processes/family_care/diagram.bpmn")
    assert hu.status_code == 200 and hu.mimetype == "application/xml"
    names = _names(hu)
    assert names["step_3_1"] == "3.1 Cselekvési terv kidolgozása"
    assert names["caseworker"] == "Családgondozó"  # a lane's "magyar / English" name, its Hungarian half
    source = etree.fromstring((BPMN_DIR / "family_care" / "family_care.bpmn").read_bytes())
    # Nothing but the names changes: every element and its diagram interchange stay for the viewer.
    assert len(list(etree.fromstring(hu.get_data()).iter())) == len(list(source.iter()))
    anna.post("/language", {"locale": "en"})
    names = _names(anna.get("/processes/family_care/diagram.bpmn"))
    assert names["step_3_1"] == "Draw up the action plan" and names["caseworker"] == "Family caseworker"
    assert anna.get("/processes/no_such/diagram.bpmn").status_code == 404
    # Not logged in: no diagram, as no catalogue.
    assert make_app(runtime).test_client().get("/processes/family_care/diagram.bpmn").status_code in (302, 401)


def test_the_case_diagram_follows_the_case_pages_access(runtime, people):
    code = demo_data.run_intake(runtime, people.anna, 0)
    case_id = demo_data.run_family_care(runtime, people.anna, people.lea, code, stop_at="3.3")
    app = make_app(runtime)
    mine = browser(app, "anna").get(f"/cases/{case_id}/diagram.bpmn")
    assert mine.status_code == 200 and "step_3_3" in _names(mine)
    assert browser(app, "bela").get(f"/cases/{case_id}/diagram.bpmn").status_code == 403
    assert browser(app, "anna").get("/cases/999999/diagram.bpmn").status_code == 404
