"""Diff of two versions of a process: elements added, removed and changed with what changed, and form fields
(docs/services.md, "Comparing versions")."""
from __future__ import annotations

import pytest

from engine.definitions import version_diff
from engine.errors import NotFound, ValidationFailed

from . import family_care_v2


def _diff(runtime, old, new):
    with runtime.db.reading() as session:
        return version_diff.diff(session, "family_care", old, new)


def test_two_versions_differ_in_exactly_what_was_changed(runtime):
    new = family_care_v2.deploy(runtime)
    found = _diff(runtime, new - 1, new)
    assert (found["from"]["version"], found["to"]["version"], found["to"]["note"]) == (new - 1, new, "3.4 renamed")
    assert [e["id"] for e in found["elements"]["added"]] == ["step_3_4_discussion"]
    assert [e["id"] for e in found["elements"]["removed"]] == ["step_3_4"]
    changed = {e["id"]: {c["what"]: (c["before"], c["after"]) for c in e["changes"]}
               for e in found["elements"]["changed"]}
    assert changed["step_3_3"] == {"name": ("3.3 Esetmunka", "3.3 Esetmunka (folyamatos)")}
    review_flow = next(i for i, c in changed.items() if "condition" in c)
    assert changed[review_flow]["condition"] == ("casework_next == 'review'", "casework_next in ('review', 'check')")
    # The flows into and out of the renamed task changed their ends; nothing else changed.
    assert all(set(c) <= {"flow"} for i, c in changed.items() if i not in ("step_3_3", review_flow))
    assert found["forms"] == [{"file": "casework.json", "status": "changed",
                               "fields": {"added": ["casework_note"], "removed": [], "changed": []}}]
    back = _diff(runtime, new, new - 1)
    assert [e["id"] for e in back["elements"]["added"]] == ["step_3_4"]
    assert back["forms"][0]["fields"]["removed"] == ["casework_note"]


def test_a_version_with_itself_has_no_differences(runtime):
    found = _diff(runtime, 1, 1)
    assert found["elements"] == {"added": [], "removed": [], "changed": []} and found["forms"] == []


@pytest.mark.parametrize("old, new, error", [(1, 99, NotFound), (0, 1, ValidationFailed),
                                             ("1", 1, ValidationFailed), (True, 1, ValidationFailed)])
def test_a_missing_or_malformed_version_is_refused(runtime, old, new, error):
    with pytest.raises(error):
        _diff(runtime, old, new)


def test_form_field_changes_name_the_field_and_what_changed():
    before = {"f.json": {"type": "object", "required": ["a"], "properties": {
        "a": {"type": "string"}, "rows": {"type": "array", "items": {"type": "object", "properties": {
            "day": {"type": "string"}}}}}}}
    after = {"f.json": {"type": "object", "properties": {
        "a": {"type": "string", "enum": ["x"]}, "rows": {"type": "array", "items": {"type": "object", "properties": {
            "day": {"type": "string", "format": "date"}, "n": {"type": "integer"}}}}}},
             "g.json": {"type": "object", "properties": {}}}
    assert version_diff.form_changes(before, after) == [
        {"file": "f.json", "status": "changed", "fields": {
            "added": ["rows[]/n"], "removed": [],
            "changed": [{"field": "a", "what": ["enum", "required"]}, {"field": "rows[]/day", "what": ["format"]}]}},
        {"file": "g.json", "status": "added", "fields": {"added": [], "removed": [], "changed": []}}]


def test_the_command_line_the_api_and_the_page_give_the_diff_to_version_readers_only(runtime, people, database_url):
    from base64 import b64encode

    from .test_api import conforms
    from .test_cli import Segito
    from .web_client import browser, make_app

    new = family_care_v2.deploy(runtime)
    segito = Segito(database_url)
    found = segito.ok("diff", "family_care", new - 1, new, "--as", "dora")
    assert [e["id"] for e in found["elements"]["removed"]] == ["step_3_4"]
    refused = segito("diff", "family_care", new - 1, new, "--as", "anna")
    assert refused.exit_code != 0 and "process_designer" in refused.output

    app = make_app(runtime)
    client = app.test_client()

    def api(user, query):
        auth = b64encode(f"{user}:pw-{user}".encode()).decode()
        return client.get(f"/api/definitions/family_care/diff?{query}", headers={"Authorization": f"Basic {auth}"})

    body = conforms(api("mark", f"from={new - 1}&to={new}"), "/api/definitions/{key}/diff", "get")
    assert body == found
    assert api("anna", f"from={new - 1}&to={new}").status_code == 403
    refused_body = conforms(api("mark", f"from=x&to={new}"), "/api/definitions/{key}/diff", "get")
    assert refused_body["details"][0]["field"] == "from"
    assert api("mark", f"from=1&to={new + 5}").status_code == 404

    for lang, words in (("hu", ("Verziók összehasonlítása", "Törölve", "3.3 Esetmunka (folyamatos)", "új mező")),
                        ("en", ("Compare versions", "Removed", "field added"))):
        dora = browser(app, "dora")
        dora.post("/language", {"locale": lang})
        page = dora.get(f"/processes/family_care/diff?from={new - 1}&to={new}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200, html[:300]
        assert all(w in html for w in words), (lang, [w for w in words if w not in html])
        assert 'data-testid="diff-removed-step_3_4"' in html and 'data-testid="diff-added-step_3_4_discussion"' in html
        assert 'data-added="step_3_4_discussion"' in html and 'data-removed="step_3_4"' in html
        assert "casework_note" in html
        diagram = dora.get(f"/processes/family_care/versions/{new - 1}/diagram.bpmn")
        assert diagram.status_code == 200 and b'id="step_3_4"' in diagram.data
    anna = browser(app, "anna")
    assert anna.get("/processes/family_care/diff").status_code == 403
    assert anna.get("/processes/family_care/versions/1/diagram.bpmn").status_code == 403
    assert browser(app, "mark").get("/processes/family_care/diff?from=99").status_code == 404
