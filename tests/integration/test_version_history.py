"""Version history (docs/services.md, "Versions"): every version of a process with author, time and the deployer's
note, and which version new cases start on; shown to designers and managers, given on the command line and API."""
from __future__ import annotations

import io
import json
import shutil

import pytest
from sqlalchemy import select

from engine import packages
from engine.definitions import definitions
from engine.errors import NotFound, ValidationFailed
from engine.store import audit, clock
from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent

from .test_api import conforms
from .test_cli import Segito
from .test_packages import _folder_files, _zip


def _changed_intake(tmp_path, word: str):
    folder = tmp_path / f"intake_{word}"
    shutil.copytree(BPMN_DIR / "intake", folder)
    (folder / "README.md").write_text(f"{word}\n", encoding="utf-8")
    return folder


def _history(runtime, key="intake") -> dict:
    with runtime.db.reading() as session:
        return definitions.history(session, key)


def test_a_deploy_keeps_its_note_and_the_history_lists_every_version_newest_first(runtime, tmp_path):
    [result] = packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "a"))], "dora", clock.now(),
                               "  Typo fixed in the referral step  \n")
    assert (result["version"], result["created"]) == (2, True)
    found = _history(runtime)
    assert found["starts_new_cases"] == 2
    assert [(v["version"], v["deployed_by"], v["note"], v["package"], v["package_version"], v["starts_new_cases"])
            for v in found["versions"]] == [(2, "dora", "Typo fixed in the referral step", "intake", 2, True),
                                            (1, "system", None, "intake", 1, False)]
    listed = {(p["package"], p["version"]): p["note"] for p in json.loads(json.dumps(_list(runtime)))}
    assert listed[("intake", 2)] == "Typo fixed in the referral step" and listed[("intake", 1)] is None
    with runtime.db.reading() as session:
        events = session.execute(select(AuditEvent.kind, AuditEvent.payload)
                                 .where(AuditEvent.kind.in_([audit.PACKAGE_DEPLOYED,
                                                                   audit.DEFINITION_DEPLOYED]))
                                 .order_by(AuditEvent.id.desc()).limit(2)).all()
    assert {e.payload.get("note") for e in events} == {"Typo fixed in the referral step"}


def _list(runtime):
    with runtime.db.reading() as session:
        return packages.list_versions(session)


def test_a_bad_note_or_unknown_process_is_refused_naming_it(runtime, tmp_path):
    with pytest.raises(ValidationFailed, match="'note' must be at most 2000"):
        packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "b"))], "dora", clock.now(),
                        "x" * 2001)
    with pytest.raises(ValidationFailed, match="'note' must be text"):
        definitions.version_note(3)
    assert _history(runtime)["starts_new_cases"] == 1, "nothing was deployed"
    with pytest.raises(NotFound, match="no process 'nosuch'"):
        _history(runtime, "nosuch")


def test_the_command_line_deploys_with_a_note_and_lists_the_versions(runtime, people, database_url, tmp_path):
    segito = Segito(database_url)
    [deployed] = segito.ok("deploy", _changed_intake(tmp_path, "c"), "--note", "New referral form", "--as", "dora")
    assert deployed["version"] == 2
    found = segito.ok("versions", "intake")
    assert (found["starts_new_cases"], found["versions"][0]["note"]) == (2, "New referral form")
    result = segito("versions", "nosuch")
    assert result.exit_code != 0 and "no process 'nosuch'" in result.output


def test_the_api_takes_a_note_with_a_package(runtime, people, tmp_path):
    from web.app import create_app

    from .test_api import Api

    api = Api(create_app(runtime, {"TESTING": True}).test_client())
    archive = _zip(_folder_files(_changed_intake(tmp_path, "d")))
    response = api.as_("dora").post("/api/packages", data={"package": (io.BytesIO(archive), "intake.zip"),
                                                           "note": "From the API"},
                                    content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    conforms(response, "/api/packages", "post")
    listed = conforms(api.as_("mark").get("/api/packages"), "/api/packages", "get")
    assert [p["note"] for p in listed if p["package"] == "intake"] == [None, "From the API"]
    response = api.as_("dora").post("/api/packages", data={"package": (io.BytesIO(archive), "intake.zip"),
                                                           "note": "y" * 2001},
                                    content_type="multipart/form-data")
    assert response.status_code == 422 and "'note'" in response.get_json()["message"]
    response = api.as_("dora").post("/api/packages", data={"package": (io.BytesIO(archive), "intake.zip"),
                                                           "draft": "maybe"}, content_type="multipart/form-data")
    assert response.status_code == 400 and "'draft'" in response.get_json()["message"]
    changed = _zip(_folder_files(_changed_intake(tmp_path, "k")))
    response = api.as_("dora").post("/api/packages", data={"package": (io.BytesIO(changed), "intake.zip"),
                                                           "draft": "true"}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    body = conforms(response, "/api/packages", "post")
    assert (body["version"], body["draft"], body["processes"]) == (3, True, [])
    assert _live(runtime) == (2, 2), "the draft is not live"


def test_the_process_page_shows_the_history_to_designers_and_managers_only(runtime, people, tmp_path):
    from .web_client import browser, make_app

    packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "e"))], "dora", clock.now(),
                    "Second <version>")
    app = make_app(runtime)
    page = browser(app, "dora").get("/processes/intake").get_data(as_text=True)
    assert "Verziótörténet" in page and "Az új esetek ezen a verzión indulnak: 2." in page
    assert "Second &lt;version&gt;" in page and "Esetfelvétel, 2. csomagverzió" in page
    assert page.count("új esetek ezen indulnak") == 2, "once in each card"
    mark = browser(app, "mark")
    mark.post("/language", {"locale": "en"})
    page = mark.get("/processes/intake").get_data(as_text=True)
    assert "Version history" in page and "New cases start on version 2." in page
    assert "Intake, package version 2" in page
    page = browser(app, "anna").get("/processes/intake").get_data(as_text=True)
    assert "Verziótörténet" not in page and "Second" not in page


def _zip_names(data: bytes) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def test_a_version_exports_as_the_zip_of_its_files_as_deployed_and_deploys_again(runtime, tmp_path):
    folder = _changed_intake(tmp_path, "f")
    packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    with runtime.db.unit_of_work() as session:
        name, data = packages.export(session, "intake", 2, "mark", clock.now())
    assert name == "intake-2.zip"
    files = _zip_names(data)
    assert files == {f"intake/{p}": b for p, b in _folder_files(folder).items()}
    with runtime.db.unit_of_work() as session:
        assert packages.export(session, "intake", 2, "mark", clock.now())[1] == data, "the same bytes each time"
        _, first = packages.export(session, "intake", 1, "mark", clock.now())
    assert "intake/README.md" not in _zip_names(first)
    # Rolling back by hand: the first version's zip deploys as a new version with the first version's files.
    [again] = packages.deploy(runtime, [packages.from_zip(first, "intake-1.zip")], "dora", clock.now(), "back to 1")
    assert (again["version"], again["created"]) == (3, True)
    with runtime.db.reading() as session:
        kinds = session.execute(select(AuditEvent.actor, AuditEvent.payload)
                                .where(AuditEvent.kind == audit.PACKAGE_EXPORTED).order_by(AuditEvent.id)).all()
        assert [(k.actor, k.payload["package"], k.payload["version"]) for k in kinds] == [
            ("mark", "intake", 2), ("mark", "intake", 2), ("mark", "intake", 1)]
    with pytest.raises(NotFound, match="package 'intake' has no version 9"), runtime.db.unit_of_work() as session:
        packages.export(session, "intake", 9, "mark", clock.now())


def test_a_version_deployed_before_files_were_kept_says_so(runtime):
    from engine.errors import Gone
    from engine.store.models import PackageFile, PackageVersion

    with runtime.db.unit_of_work() as session:
        pv = session.execute(select(PackageVersion.id).where(PackageVersion.package_key == "intake")).scalar_one()
        session.query(PackageFile).filter(PackageFile.package_version_id == pv).delete()
    with pytest.raises(Gone, match="deployed before package files were kept"), \
            runtime.db.unit_of_work() as session:
        packages.export(session, "intake", 1, "mark", clock.now())


def test_the_command_line_exports_a_version_for_designers_and_managers(runtime, people, database_url, tmp_path):
    segito = Segito(database_url)
    out = tmp_path / "out.zip"
    done = segito.ok("export", "intake", "1", "--out", out, "--as", "dora")
    assert done["file"] == str(out) and "intake/service.yaml" in _zip_names(out.read_bytes())
    result = segito("export", "intake", "1", "--out", out, "--as", "anna")
    assert result.exit_code != 0 and "roles" in result.output
    result = segito("export", "intake", "7", "--out", out, "--as", "mark")
    assert result.exit_code != 0 and "no version 7" in result.output


def test_the_process_page_offers_each_version_s_zip_to_designers_and_managers(runtime, people):
    from .web_client import browser, make_app

    app = make_app(runtime)
    dora = browser(app, "dora")
    page = dora.get("/processes/intake").get_data(as_text=True)
    assert 'href="/packages/intake/1.zip"' in page and "Letöltés (zip)" in page
    response = dora.client.get("/packages/intake/1.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert 'filename="intake-1.zip"' in response.headers["Content-Disposition"]
    assert "intake/intake.bpmn" in _zip_names(response.get_data())
    assert browser(app, "mark").client.get("/packages/intake/1.zip").status_code == 200
    assert browser(app, "anna").get("/packages/intake/1.zip").status_code == 403
    assert dora.get("/packages/intake/5.zip").status_code == 404
    assert dora.get("/packages/nosuch/1.zip").status_code == 404


def _live(runtime, key="intake") -> tuple[int, int | None]:
    """(process version new cases start on, its package version)."""
    found = _history(runtime, key)
    top = found["versions"][0]
    assert top["starts_new_cases"] and top["version"] == found["starts_new_cases"]
    with runtime.db.reading() as session:
        assert definitions.latest_definition(session, key).version == top["version"]
    return top["version"], top["package_version"]


def test_a_draft_is_not_live_until_published_and_an_earlier_version_can_be_published_again(runtime, tmp_path):
    from engine.errors import Conflict

    [saved] = packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "g"))], "dora", clock.now(),
                              "Try the new referral", draft=True)
    assert (saved["version"], saved["created"], saved["draft"], saved["processes"]) == (2, True, True, [])
    assert _live(runtime) == (1, 1), "new cases keep starting on the published version"
    published = packages.publish(runtime, "intake", 2, "dora", clock.now(), "Agreed with the team")
    assert (published["previous"], published["roll_back"], published["processes"]) == (
        1, False, [{"process_key": "intake", "version": 2, "created": True}])
    assert _live(runtime) == (2, 2)
    with pytest.raises(Conflict, match="version 2 of package 'intake' is already the one new cases start on"):
        packages.publish(runtime, "intake", 2, "dora", clock.now())
    back = packages.publish(runtime, "intake", 1, "dora", clock.now(), "Roll back")
    assert (back["previous"], back["roll_back"]) == (2, True)
    assert _live(runtime) == (3, 1)
    with pytest.raises(NotFound, match="package 'intake' has no version 9"):
        packages.publish(runtime, "intake", 9, "dora", clock.now())
    with pytest.raises(NotFound, match="package 'nosuch' has no version 1"):
        packages.publish(runtime, "nosuch", 1, "dora", clock.now())
    with runtime.db.reading() as session:
        events = session.execute(select(AuditEvent.kind, AuditEvent.actor, AuditEvent.payload)
                                 .where(AuditEvent.kind.in_([audit.PACKAGE_DRAFT_SAVED, audit.PACKAGE_PUBLISHED]))
                                 .order_by(AuditEvent.id)).all()
    assert [(e.kind, e.actor, e.payload["version"], e.payload.get("note")) for e in events] == [
        ("package_draft_saved", "dora", 2, "Try the new referral"),
        ("package_published", "dora", 2, "Agreed with the team"), ("package_published", "dora", 1, "Roll back")]


def test_the_command_line_saves_a_draft_and_publishes_it(runtime, people, database_url, tmp_path):
    segito = Segito(database_url)
    [saved] = segito.ok("deploy", _changed_intake(tmp_path, "h"), "--draft", "--as", "dora")
    assert (saved["version"], saved["draft"]) == (2, True)
    assert segito.ok("versions", "intake")["starts_new_cases"] == 1
    result = segito("publish", "intake", "2", "--as", "anna")
    assert result.exit_code != 0 and "roles" in result.output
    done = segito.ok("publish", "intake", "2", "--note", "Live now", "--as", "dora")
    assert done["previous"] == 1 and segito.ok("versions", "intake")["starts_new_cases"] == 2
    result = segito("publish", "intake", "2", "--as", "dora")
    assert result.exit_code != 0 and "already the one new cases start on" in result.output


def test_a_designer_publishes_a_draft_and_rolls_back_on_the_process_page(runtime, people, tmp_path):
    from .web_client import browser, make_app

    packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "i"))], "dora", clock.now(),
                    "Draft note", draft=True)
    app = make_app(runtime)
    dora = browser(app, "dora")
    page = dora.get("/processes/intake").get_data(as_text=True)
    assert "A szolgáltatáscsomag verziói" in page and "Vázlat, ellenőrizve: nincs hiba" in page
    assert 'data-testid="publish-2"' in page and 'data-testid="publish-1"' not in page
    assert "Az új esetek ezen a verzión indulnak: 1." in page
    mark = browser(app, "mark")
    page = mark.get("/processes/intake").get_data(as_text=True)
    assert "A szolgáltatáscsomag verziói" in page and 'data-testid="publish-2"' not in page, "managers only read"
    assert mark.post("/packages/intake/2/publish", {"process": "intake"}).status_code == 403
    assert browser(app, "anna").post("/packages/intake/2/publish", {"process": "intake"}).status_code == 403
    assert "A szolgáltatáscsomag verziói" not in browser(app, "anna").get("/processes/intake").get_data(as_text=True)
    response = dora.post("/packages/intake/2/publish", {"process": "intake", "note": "Go"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/processes/intake")
    assert _live(runtime) == (2, 2)
    page = dora.get("/processes/intake").get_data(as_text=True)
    assert "Az új esetek ezen a verzión indulnak: 2." in page and "Újra közzététel (visszaállítás)" in page
    assert dora.post("/packages/intake/2/publish", {"process": "intake"}).status_code == 409
    assert dora.post("/packages/intake/8/publish", {"process": "intake"}).status_code == 404
    assert dora.post("/packages/intake/1/publish", {"process": "intake", "note": "x" * 2001}).status_code == 422
    assert dora.post("/packages/intake/1/publish", {"process": "intake"}).status_code == 302
    assert _live(runtime) == (3, 1)
    dora.post("/language", {"locale": "en"})
    page = dora.get("/processes/intake").get_data(as_text=True)
    assert "Service package versions" in page and "Publish again (roll back)" in page
    assert "New cases start on version 3." in page


def test_a_drafts_parts_store_when_it_is_published_not_when_it_is_saved(runtime, tmp_path):
    from engine.packages import PackagePart

    stored = []
    part = PackagePart("reports", lambda package: [], lambda session, package, version_id: stored.append(
        (package.key, version_id)))
    packages.register_part(part)
    try:
        [saved] = packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "j"))], "dora",
                                  clock.now(), draft=True)
        assert stored == []
        packages.publish(runtime, "intake", 2, "dora", clock.now())
        assert stored == [("intake", saved["package_version_id"])]
        packages.publish(runtime, "intake", 1, "dora", clock.now())
        assert len(stored) == 1, "an earlier version going live again has its parts already"
    finally:
        packages.PARTS[:] = [p for p in packages.PARTS if p is not part]


def test_the_designer_reads_versions_but_never_a_clients_case(runtime, people):
    from .helpers import new_family_case
    from .web_client import browser, make_app

    case_id = new_family_case(runtime, people)
    dora = browser(make_app(runtime), "dora")
    assert dora.get("/processes/family_care").status_code == 200
    assert dora.get(f"/cases/{case_id}").status_code == 403
    assert f"/cases/{case_id}" not in dora.get("/cases").get_data(as_text=True)
