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


def test_the_process_page_shows_the_history_to_designers_and_managers_only(runtime, people, tmp_path):
    from .web_client import browser, make_app

    packages.deploy(runtime, [packages.from_folder(_changed_intake(tmp_path, "e"))], "dora", clock.now(),
                    "Second <version>")
    app = make_app(runtime)
    page = browser(app, "dora").get("/processes/intake").get_data(as_text=True)
    assert "Verziótörténet" in page and "Az új esetek ezen a verzión indulnak: 2." in page
    assert "Second &lt;version&gt;" in page and "intake, 2. csomagverzió" in page
    assert page.count("új esetek ezen indulnak") == 1
    mark = browser(app, "mark")
    mark.post("/language", {"locale": "en"})
    page = mark.get("/processes/intake").get_data(as_text=True)
    assert "Version history" in page and "New cases start on version 2." in page
    assert "intake, package version 2" in page
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
