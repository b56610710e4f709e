"""Service packages (docs/services.md): a folder checked as a unit, every problem named with its file and line,
deployed in one transaction as a versioned package; the manifest's settings are what the engine runs by."""
from __future__ import annotations

import importlib
import io
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import packages, setup
from engine.cases import cases
from engine.errors import Forbidden, PackageInvalid, ValidationFailed
from engine.packages import PackagePart, PackageProblem
from engine.store import clock
from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent, PackageVersion, ProcessDefinition
from engine.timers import caseload
from tests import demo_data

from .test_api import conforms
from .test_cli import Segito

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "self_help_group"


def _copy(src: Path, tmp_path: Path, name: str | None = None) -> Path:
    target = tmp_path / (name or src.name)
    shutil.copytree(src, target)
    return target


def _counts(runtime) -> tuple[int, int, int]:
    with runtime.db.reading() as session:
        return (session.execute(select(func.count(PackageVersion.id))).scalar(),
                session.execute(select(func.count(ProcessDefinition.id))).scalar(),
                session.execute(select(func.count(AuditEvent.id))).scalar())


def _deploy(runtime, folder: Path) -> dict:
    [result] = packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    return result


def _refused(runtime, folder: Path) -> list[str]:
    before = _counts(runtime)
    with pytest.raises(PackageInvalid) as refused:
        _deploy(runtime, folder)
    assert _counts(runtime) == before, "a refused package stores nothing"
    return [f"{d['file']}:{d['line']}: {d['message']}" for d in refused.value.details]


def test_the_bundled_services_are_packages_each_process_linked_to_its_version(runtime):
    with runtime.db.reading() as session:
        listed = packages.list_versions(session)
    assert [(p["package"], p["version"], [x["process_key"] for x in p["processes"]]) for p in listed] == [
        ("case_management", 1, ["case_management"]), ("family_care", 1, ["family_care"]), ("intake", 1, ["intake"]),
        ("job_retention", 1, ["job_retention"]), ("self_help_groups", 1, ["self_help_follow_up", "self_help_groups"]),
        ("supported_employment", 1, ["ips", "ips_fidelity_review"])]
    listed = [p for p in listed if p["package"] != "case_management"]
    assert listed[0]["name"] == {"hu": "Családsegítés – családgondozás", "en": "Family support – family care"}
    before = _counts(runtime)
    again = setup.initialise(runtime)
    assert [(r["package"], r["created"]) for r in again] == [("case_management", False), ("family_care", False),
                                                             ("intake", False), ("job_retention", False),
                                                             ("self_help_groups", False),
                                                             ("supported_employment", False)]
    assert _counts(runtime) == before, "unchanged packages are not deployed again"


def test_an_unchanged_deploy_answers_as_checking_would_without_parsing(runtime, monkeypatch):
    deploying = importlib.import_module("engine.packages.deploy")  # the package names its function so
    with runtime.db.unit_of_work() as session:
        by_checking = deploying.store(session, deploying.check_all(packages.bundled(BPMN_DIR)), "system",
                                      clock.now())
    assert by_checking and not any(r["created"] for r in by_checking)
    monkeypatch.setattr(deploying, "check_all", lambda _packages: pytest.fail("an unchanged package was parsed"))
    before = _counts(runtime)
    bundled = packages.bundled(BPMN_DIR)
    assert packages.deploy(runtime, bundled, "system", clock.now()) == by_checking
    assert [(p.key, p.manifest["key"]) for p in bundled] == [(r["package"], r["package"]) for r in by_checking]
    assert _counts(runtime) == before


def _checked_spy(monkeypatch) -> list[str]:
    deploying = importlib.import_module("engine.packages.deploy")  # the package names its function so
    seen: list[str] = []
    check_all = deploying.check_all

    def spy(packages_):
        seen.extend(p.folder_name for p in packages_)
        return check_all(packages_)

    monkeypatch.setattr(deploying, "check_all", spy)
    return seen


def test_one_changed_package_sends_all_of_them_through_checking(runtime, tmp_path, monkeypatch):
    bpmn = _copy(BPMN_DIR, tmp_path, "bpmn")
    (bpmn / "intake" / "README.md").write_text("notes\n", encoding="utf-8")
    checked = _checked_spy(monkeypatch)
    results = packages.deploy(runtime, packages.bundled(bpmn), "system", clock.now())
    assert checked == [p["package"] for p in results] and len(checked) == 6
    assert [(r["package"], r["version"], r["created"]) for r in results if r["created"]] == [("intake", 2, True)]
    (bpmn / "family_care" / "service.yaml").write_text("format: 2\n", encoding="utf-8")
    with pytest.raises(PackageInvalid, match=r"family_care/service\.yaml"):
        packages.deploy(runtime, packages.bundled(bpmn), "system", clock.now())


def test_an_unchanged_package_whose_link_to_another_no_longer_holds_is_checked(runtime, monkeypatch):
    # What is stored for intake says it registers no client any more, so family_care (starting from intake)
    # cannot be taken as deployable on what is stored: checking decides, on the files.
    with runtime.db.unit_of_work() as session:
        row = session.execute(select(PackageVersion).where(PackageVersion.package_key == "intake")).scalar_one()
        manifest = dict(row.manifest)
        manifest["processes"] = {k: {x: v for x, v in spec.items() if x != "registers_client"}
                                 for k, spec in manifest["processes"].items()}
        row.manifest = manifest
    checked = _checked_spy(monkeypatch)
    results = packages.deploy(runtime, packages.bundled(BPMN_DIR), "system", clock.now())
    assert len(checked) == 6 and not any(r["created"] for r in results)


def test_a_changed_manifest_is_a_new_package_version_and_its_caseload_limit_applies(runtime, people, tmp_path):
    folder = _copy(BPMN_DIR / "job_retention", tmp_path)
    manifest = folder / "service.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("limit: 30", "limit: 1"), encoding="utf-8")
    result = _deploy(runtime, folder)
    assert (result["version"], result["created"]) == (2, True)
    assert result["processes"] == [{"process_key": "job_retention", "version": 2, "created": True}]
    first = cases.start_case(runtime, "job_retention", people.anna, demo_data.run_intake(runtime, people.anna, 0))
    assert "warnings" not in first
    second = cases.start_case(runtime, "job_retention", people.anna, demo_data.run_intake(runtime, people.anna, 1))
    assert [(w["code"], w["active"], w["limit"]) for w in second["warnings"]] == [("caseload_limit_exceeded", 2, 1)]
    [found] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "follow_up"]
    assert (found["caseload"], found["role"], found["limit"]) == ("follow_up", "caseworker", 1)
    assert found["limit"] == 1 and {r["username"]: r["over"] for r in found["rows"]}["anna"] is True


def test_who_starts_and_from_where_is_the_manifests(runtime, people):
    with pytest.raises(ValidationFailed, match="register the client at 'intake' first"):
        cases.start_case(runtime, "family_care", people.anna)
    with pytest.raises(Forbidden):
        cases.start_case(runtime, "intake", people.lea)
    startable = {p["process_key"]: p for p in cases.startable(runtime, people.anna)}
    assert (startable["intake"]["needs_client"], startable["intake"]["starts_from"]) == (False, None)
    assert (startable["family_care"]["needs_client"], startable["family_care"]["starts_from"]) == (True, "intake")


def test_every_problem_is_named_with_its_file_and_line_and_nothing_is_stored(runtime, tmp_path):
    folder = _copy(BPMN_DIR / "family_care", tmp_path)
    manifest = folder / "service.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("lane: professional_lead", "lane: lead")  # the BPMN's lane is left without a role
    text = text.replace("tasks: [step_3_10]", "tasks: [step_3_99]")
    text = text.replace("      from: intake", "      from: intake\n      colour: blue")
    manifest.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    problems = _refused(runtime, folder)
    colour = next(i for i, line in enumerate(lines, 1) if "colour" in line)
    start = next(i for i, line in enumerate(lines, 1) if line.strip() == "start:")
    assert problems == [f"service.yaml:{start}: processes.family_care.start: unknown field(s) ('colour' was "
                        "unexpected)"], "the schema is checked first"
    manifest.write_text(text.replace("\n      colour: blue", ""), encoding="utf-8")
    lines = manifest.read_text(encoding="utf-8").splitlines()
    tasks = next(i for i, line in enumerate(lines, 1) if "step_3_99" in line)
    process = next(i for i, line in enumerate(lines, 1) if line == "  family_care:")
    assert colour != tasks
    assert sorted(_refused(runtime, folder)) == sorted([
        f"service.yaml:{process}: processes.family_care: lane 'professional_lead' of family_care.bpmn is no "
        "role's lane (add a role with 'lane: professional_lead' under 'roles')",
        f"service.yaml:{tasks}: caseloads.family_follow_up.counts.tasks.0: no process of this package has a user task "
        "'step_3_99'"])


def test_a_broken_bpmn_or_form_fails_the_whole_package_naming_the_file_and_line(runtime, tmp_path):
    folder = _copy(BPMN_DIR / "intake", tmp_path)
    form = folder / "forms" / "intake.json"
    form.write_text(form.read_text(encoding="utf-8").replace('"type": "object"', '"type": "object",,', 1),
                    encoding="utf-8")
    [problem] = _refused(runtime, folder)
    assert problem.startswith("forms/intake.json:") and "not valid JSON" in problem
    shutil.copy(BPMN_DIR / "intake" / "forms" / "intake.json", form)
    (folder / "stray.bpmn").write_bytes(b"<not-bpmn")
    problems = _refused(runtime, folder)
    assert "stray.bpmn:None: not declared in service.yaml (add it under 'processes')" in problems
    assert any(p.startswith("stray.bpmn:1: malformed XML") for p in problems), problems


def test_bad_yaml_is_named_with_its_line(runtime, tmp_path):
    folder = _copy(BPMN_DIR / "intake", tmp_path)
    (folder / "service.yaml").write_text("format: 1\nkey: intake\nname: [unclosed\nroles: {}\n", encoding="utf-8")
    [problem] = _refused(runtime, folder)
    assert problem.startswith("service.yaml:4: not valid YAML"), problem
    (folder / "service.yaml").write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
    [problem] = _refused(runtime, folder)
    assert "anchors and aliases" in problem


def test_a_process_not_started_by_hand_must_start_from_a_client(runtime, tmp_path):
    # The engine starts a case from another case for that case's client; from nothing, nothing could start it.
    folder = _copy(BPMN_DIR / "self_help_groups", tmp_path)
    manifest = folder / "service.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("      from: nothing          # a group has members, not one client (members below)\n",
                        "      from: nothing\n      manual: false\n")
    manifest.write_text(text, encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row == "      manual: false")
    # The package's demo script, which starts a group by hand, is refused too.
    assert sorted(_refused(runtime, folder)) == [
        "demo/groups.yaml:13: process 'self_help_groups' is not started by hand (start.manual: false): play the case "
        "that starts it",
        f"service.yaml:{line}: processes.self_help_groups.start.manual: a case that starts from nothing and not by "
        "hand could never start: the engine starts cases for a client"]


def test_a_start_from_a_process_that_is_not_deployed_is_refused(runtime, tmp_path):
    folder = _copy(EXAMPLE, tmp_path)
    manifest = folder / "service.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("from: intake", "from: no_such_process"),
                        encoding="utf-8")
    [problem] = _refused(runtime, folder)
    assert problem.endswith("processes.self_help_group.start.from: process 'no_such_process' is not deployed")


def test_a_process_belongs_to_one_package(runtime, tmp_path):
    folder = _copy(BPMN_DIR / "intake", tmp_path, "other")
    manifest = folder / "service.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("key: intake", "key: other"), encoding="utf-8")
    [problem] = _refused(runtime, folder)
    assert problem.endswith("processes.intake: process 'intake' belongs to package 'intake'")


def test_a_registered_part_checks_and_stores_within_the_deploy(runtime, tmp_path):
    stored = []

    def check(package):
        return [PackageProblem(path, 1, "no reports allowed here") for path in package.under("reports")
                if path.endswith("bad.yaml")]

    def store(session, package, version_id):
        stored.append((package.key, version_id, sorted(package.under("reports"))))

    packages.register_part(PackagePart("reports", check, store))
    try:
        folder = _copy(EXAMPLE, tmp_path)
        (folder / "reports" / "bad.yaml").write_text("x: 1\n", encoding="utf-8")
        assert "reports/bad.yaml:1: no reports allowed here" in _refused(runtime, folder)
        assert stored == []
        (folder / "reports" / "bad.yaml").unlink()
        result = _deploy(runtime, folder)
        assert stored == [("self_help_group", result["package_version_id"], sorted(
            f"reports/{p.name}" for p in (folder / "reports").iterdir()))]
    finally:
        packages.PARTS[:] = [p for p in packages.PARTS if p.store is not store]


def _zip(files: dict[str, bytes], top: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(top + name, data)
    return buffer.getvalue()


def _folder_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["../evil.bpmn", "/etc/passwd", "a/../../b", "C:\\x.bpmn", "forms\\x.json"])
def test_an_archive_name_that_could_leave_the_package_is_refused(name):
    with pytest.raises(PackageInvalid, match="path"):
        packages.from_zip(_zip({name: b"x"}))


def test_a_zip_bomb_and_a_link_are_refused():
    bomb = _zip({"service.yaml": b"0" * (packages.load.MAX_FILE_BYTES + 10)})
    assert len(bomb) < 100_000
    with pytest.raises(PackageInvalid, match="unpacks to more than"):
        packages.from_zip(bomb)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("forms/link.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(PackageInvalid, match="symbolic link"):
        packages.from_zip(buffer.getvalue())
    with pytest.raises(PackageInvalid, match="not a zip archive"):
        packages.from_zip(b"PK not really")


def test_a_package_is_uploaded_as_a_zip_over_the_api(runtime, people, tmp_path):
    from web.app import create_app

    from .test_api import Api

    api = Api(create_app(runtime, {"TESTING": True}).test_client())

    def upload(username, data, name="self_help_group.zip"):
        return api.as_(username).post("/api/packages", data={"package": (io.BytesIO(data), name)},
                                      content_type="multipart/form-data")

    files = _folder_files(EXAMPLE)
    response = upload("anna", _zip(files, "self_help_group/"))
    assert response.status_code == 403 and conforms(response, "/api/packages", "post")["error"] == "forbidden"
    response = upload("dora", _zip(files, "self_help_group/"))
    assert response.status_code == 201, response.get_json()
    body = conforms(response, "/api/packages", "post")
    assert (body["package"], body["version"], body["processes"]) == (
        "self_help_group", 1, [{"process_key": "self_help_group", "version": 1, "created": True}])
    response = upload("dora", _zip(files))  # the same files at the archive's root
    assert response.status_code == 200 and response.get_json()["created"] is False
    broken = {**files, "forms/session.json": b"{"}
    response = upload("dora", _zip(broken))
    assert response.status_code == 422
    body = conforms(response, "/api/packages", "post")
    assert body["error"] == "package_invalid" and body["details"][0]["file"] == "forms/session.json"
    response = upload("dora", _zip({"../x.bpmn": b"x"}))
    assert response.status_code == 422 and response.get_json()["details"][0]["file"] == "../x.bpmn"
    response = api.as_("dora").post("/api/packages", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "'package'" in response.get_json()["message"]
    listed = conforms(api.as_("mark").get("/api/packages"), "/api/packages", "get")
    assert [p["package"] for p in listed] == ["case_management", "family_care", "intake", "job_retention",
                                              "self_help_group", "self_help_groups", "supported_employment"]


def test_the_command_line_deploys_a_folder_and_a_bpmn_file_deploys_its_package(runtime, people, database_url,
                                                                                tmp_path):
    segito = Segito(database_url)
    folder = _copy(EXAMPLE, tmp_path)
    [deployed] = segito.ok("deploy", folder, "--as", "dora")
    assert (deployed["package"], deployed["version"], deployed["created"]) == ("self_help_group", 1, True)
    bpmn = folder / "self_help_group.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace("Csoportalkalom", "Csoportfoglalkozás"),
                    encoding="utf-8")
    result = segito("deploy", bpmn, "--as", "dora")
    assert result.exit_code == 0 and "deploying the whole package" in result.stderr
    assert [(r["version"], r["processes"]) for r in __import__("json").loads(result.stdout)] == [
        (2, [{"process_key": "self_help_group", "version": 2, "created": True}])]
    (folder / "service.yaml").write_text("format: 2\n", encoding="utf-8")
    result = segito("deploy", folder, "--as", "dora")
    assert result.exit_code == 2 and "service.yaml:1: format" in result.stderr


def test_the_catalogue_shows_each_process_s_service_and_package_version(runtime, people, tmp_path):
    from .web_client import browser, make_app

    folder = _copy(BPMN_DIR / "intake", tmp_path)
    (folder / "README.md").write_text("notes\n", encoding="utf-8")
    assert _deploy(runtime, folder)["version"] == 2
    page = browser(make_app(runtime), "anna").get("/processes").get_data(as_text=True)
    assert "Szolgáltatás: Esetfelvétel (2. csomagverzió)" in page
    assert "Szolgáltatás: Családsegítés – családgondozás (1. csomagverzió)" in page


def test_one_bpmn_file_deployed_alone_stays_in_its_package_and_its_lanes_must_be_roles(runtime):
    from engine.definitions import definitions
    from engine.errors import DefinitionInvalid

    upload = definitions.Upload.from_path(BPMN_DIR / "intake" / "intake.bpmn")
    renamed = definitions.Upload(upload.bpmn_name, upload.bpmn_bytes.replace(
        'name="Esetfelvétel"'.encode(), 'name="Esetfelvétel (javított)"'.encode(), 1), upload.forms)
    assert renamed.bpmn_bytes != upload.bpmn_bytes
    with runtime.db.unit_of_work() as session:
        definition, created = definitions.deploy(session, renamed, "dora", clock.now())
        package_version_id = session.execute(select(PackageVersion.id)
                                             .where(PackageVersion.package_key == "intake")).scalar_one()
        assert created and (definition.version, definition.package_version_id) == (2, package_version_id)
    stray = definitions.Upload(upload.bpmn_name, upload.bpmn_bytes.replace(b'lane id="caseworker"',
                                                                           b'lane id="reception"', 1), upload.forms)
    before = _counts(runtime)
    with pytest.raises(DefinitionInvalid, match="reception"), runtime.db.unit_of_work() as session:
        definitions.deploy(session, stray, "dora", clock.now())
    assert _counts(runtime) == before


def test_the_process_page_names_roles_as_the_service_does(runtime, people):
    from .web_client import browser, make_app

    page = browser(make_app(runtime), "anna").get("/processes/job_retention").get_data(as_text=True)
    assert "Szerepkörök: Mentor, Szakmai vezető</p>" in page
    assert 'data-label="Szerepkör">Mentor<' in page
    page = browser(make_app(runtime), "anna").get("/processes/family_care").get_data(as_text=True)
    assert "Szerepkörök: Családgondozó, Szakmai vezető</p>" in page


def test_a_figures_plan_is_checked_naming_file_and_line(runtime, tmp_path):
    """A plan per week is not one of the spans (docs/reports.md, "Plans")."""
    folder = _copy(BPMN_DIR / "job_retention", tmp_path)
    path = folder / "reports" / "job_retention.yaml"
    text = path.read_text(encoding="utf-8").replace("plan: {value: 70}", "plan: {value: 70, per: week}")
    path.write_text(text, encoding="utf-8")
    at = next(i for i, t in enumerate(text.splitlines(), 1) if "per: week" in t)
    assert _refused(runtime, folder) == [
        f"reports/job_retention.yaml:{at}: indicators.9.plan.per: 'week' is not one of ['month', 'quarter', 'year']"]


def test_the_job_retention_report_grammar_is_checked_naming_file_and_line(runtime, tmp_path):
    """The grammar the job-retention figures brought (docs/reports.md): a person's fact read from a field, the
    values of a completed step's list field, a per-case largest value of a sum or mean."""
    folder = _copy(BPMN_DIR / "job_retention", tmp_path)
    path = folder / "reports" / "job_retention.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("  birth_date: {client: birth_date}", "  birth_date: {client: birth_date, person: latest}")
    text = text.replace("values: institution_kinds}", "values: visit_date}")
    text = text.replace("    per_case: max\n    sum: lay_helpers\n", "    per_case: max\n    count: visits\n")
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()

    def line(fragment: str) -> int:
        return next(i for i, t in enumerate(lines, 1) if fragment in t)

    problems = _refused(runtime, folder)
    assert f"reports/job_retention.yaml:{line('birth_date: {client')}: facts.birth_date.person: 'person: latest' " \
           "goes with a fact of one value read from a field" in problems
    assert f"reports/job_retention.yaml:{line('values: visit_date')}: facts.institutions.values: 'visit_date' is " \
           "not a list field of visit.json" in problems
    per_case = line("per_case: max")
    assert any(p.startswith(f"reports/job_retention.yaml:{per_case}: indicators.4.per_case: 'per_case' goes with "
                            "'sum' or 'mean'") for p in problems), problems
