"""Validating a package as a unit: the manifest, every BPMN file and form, the manifest's references into them,
and every registered part. Nothing here touches the database; every problem names a file of the package and,
when there is one, its line (docs/services.md, "What is checked")."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ..definitions import definitions
from ..definitions.form_files import check_form_file
from ..definitions.static_conditions import WARNING
from ..errors import DefinitionInvalid
from ..forms.forms import _object_nodes
from ..forms.member_blocks import DATA_KEYS as MEMBERS_DATA
from ..people.users import DEMO_USERS, ROLES
from . import demo_scripts, test_files
from . import manifest as manifest_format
from .manifest import MANIFEST, NOTHING, Lines
from .parts import PARTS, Package, PackageProblem

# Folders a package may hold (docs/services.md, "A package folder"): forms/ and demo/ are checked here, tests/ by
# the test runs (test_runs.py), reports/
# and documents/ by the parts registered for them.
OWN_FOLDERS = ("forms", "demo", "reports", "documents", "tests")
REGISTER_CLIENT = "register_client"  # the engine operation a registering process calls (engine/cases/clients.py)


@dataclass
class CheckedProcess:
    """What deploying needs of one checked process, and what the manifest's references are checked against."""

    key: str
    upload: definitions.Upload
    user_tasks: set[str] = field(default_factory=set)
    lanes: set[str] = field(default_factory=set)
    timer_purposes: set[str] = field(default_factory=set)
    operations: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    forms: set[str] = field(default_factory=set)
    tasks: dict[str, demo_scripts.TaskFacts] = field(default_factory=dict)
    row_fields: set[str] = field(default_factory=set)  # fields of the rows of the forms' repeatable blocks


@dataclass
class Checked:
    package: Package
    lines: Lines
    processes: dict[str, CheckedProcess]
    problems: list[PackageProblem]
    warnings: list[PackageProblem] = field(default_factory=list)  # shown, but the package may deploy


def _bpmn_facts(data: bytes) -> tuple[set[str], set[str], set[str]]:
    """Lane ids, timer purposes and service-task operations of a BPMN file already validated."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    ns = definitions.NS
    lanes = {lane.get("id") for lane in root.iter(f"{{{definitions.BPMN_NS}}}lane")}
    purposes = {p.get("value") for p in root.xpath("//spiff:property[@name='purpose']", namespaces=ns)}
    operations = {o.get("id") for o in root.xpath("//spiff:serviceTaskOperator", namespaces=ns)}
    return ({x for x in lanes if x}, {x for x in purposes if x}, {x for x in operations if x})


def _form_name(file: str, forms: dict[str, bytes]) -> str:
    return f"forms/{file}" if file in forms else file


def check_files(package: Package) -> list[PackageProblem]:
    """Every file belongs somewhere: the manifest, a top-level BPMN file, or a known folder."""
    folders = set(OWN_FOLDERS) | {part.folder for part in PARTS}
    problems = []
    for path in sorted(package.files):
        top = path.split("/", 1)[0]
        if "/" in path:
            if top not in folders:
                problems.append(PackageProblem(path, None, f"folder '{top}/' is not part of a package (known: "
                                                           f"{', '.join(sorted(folders))})", "folder_unknown",
                                               {"folder": top, "known": ", ".join(sorted(folders))}))
        elif path != MANIFEST and not path.endswith((".bpmn", ".md")):
            problems.append(PackageProblem(path, None, "a package holds service.yaml, BPMN files, README/*.md and "
                                                       "the known folders only", "file_not_allowed"))
    if MANIFEST not in package.files:
        problems.append(PackageProblem(MANIFEST, None, "missing: every package has a manifest (docs/services.md)",
                                       "manifest_missing"))
    return problems


def check(package: Package) -> Checked:
    """Everything that can be checked without the database; ``problems`` is empty when the package may deploy."""
    problems = check_files(package)
    manifest, lines, manifest_problems = (manifest_format.parse(package.files[MANIFEST]) if MANIFEST in package.files
                                          else (None, Lines(), []))
    problems += manifest_problems
    forms = {path[len("forms/"):]: data for path, data in package.under("forms").items()
             if path.endswith(".json") and path.count("/") == 1}
    for path in package.under("forms"):
        if not path.endswith(".json") or path.count("/") != 1:
            problems.append(PackageProblem(path, None, "forms/ holds form files (*.json) only, no subfolders",
                                           "forms_folder_file"))
    processes: dict[str, CheckedProcess] = {}
    warnings: list[PackageProblem] = []
    declared_files = {}
    if manifest is not None:
        package.manifest = manifest
        package.key = manifest["key"]
        declared_files = {spec["file"]: key for key, spec in manifest["processes"].items()}
        for key, spec in manifest["processes"].items():
            if spec["file"] not in package.files:
                problems.append(PackageProblem(MANIFEST, lines.of("processes", key, "file"),
                                               f"processes.{key}: file '{spec['file']}' is not in the package",
                                               "process_file_missing", {"process": key, "file": spec["file"]}))
    for path in sorted(p for p in package.files if "/" not in p and p.endswith(".bpmn")):
        if manifest is not None and path not in declared_files:
            problems.append(PackageProblem(path, None, f"not declared in {MANIFEST} (add it under 'processes')",
                                           "process_not_declared"))
        upload = definitions.Upload(path, package.files[path], forms)
        try:
            key, _name, _spec, forms_used, catalogue = definitions.validated(upload)
        except DefinitionInvalid as e:
            problems += [PackageProblem.of(d, _form_name(d.get("file") or path, forms))
                         for d in e.details] or [PackageProblem(path, None, e.message)]
            continue
        lanes, purposes, operations = _bpmn_facts(package.files[path])
        fields = {name for schema in forms_used.values() for name in (schema.get("properties") or {})}
        tasks = {task: demo_scripts.TaskFacts(meta["role"], set((forms_used.get(meta["form"]) or {}).get(
                     "properties") or ()) if meta["form"] else None) for task, meta in catalogue.items()}
        row_fields = {name for schema in forms_used.values() for node in _object_nodes(schema) if node is not schema
                      for name in (node.get("properties") or {})}
        processes[key] = CheckedProcess(key, upload, set(catalogue), lanes, purposes, operations, fields,
                                        set(forms_used), tasks, row_fields)
        if path in declared_files and declared_files[path] != key:
            problems.append(PackageProblem(MANIFEST, lines.of("processes", declared_files[path], "file"),
                                           f"processes.{declared_files[path]}: {path} holds process '{key}', so "
                                           f"its key here must be '{key}'", "process_key_mismatch",
                                           {"declared": declared_files[path], "file": path, "key": key}))
    if manifest is not None:
        for key, proc in processes.items():
            if key in manifest["processes"]:
                problems += [PackageProblem.of(d) for d in
                             definitions.unknown_name_problems(proc.upload, engine_data(manifest, key, processes))]
                for d in definitions.condition_problems(proc.upload, engine_data(manifest, key, processes)):
                    found = PackageProblem.of(d)
                    (warnings if d["severity"] == WARNING else problems).append(found)
    used_forms = {name for p in processes.values() for name in p.forms}
    for name in sorted(set(forms) - used_forms):
        _schema, form_problems = check_form_file(name, forms[name].decode("utf-8", "replace"))
        problems += [PackageProblem.of(d, _form_name(d["file"], forms)) for d in form_problems]
    if manifest is not None:
        problems += _manifest_references(manifest, lines, processes)
        problems += demo_scripts.check(package, {key: p.tasks for key, p in processes.items()},
                                       {name: set(roles) for name, _display, roles in DEMO_USERS})
    samples, sample_problems = test_files.read(package)
    problems += sample_problems
    problems += [PackageProblem(sample.file, None, f"process: '{sample.process}' is not a process of this package",
                                "process_not_in_package", {"path": "process", "process": sample.process})
                 for sample in samples if manifest is not None and sample.process not in manifest["processes"]]
    if manifest is not None:  # a part may read the manifest, so it runs only on a valid one
        for part in PARTS:
            problems += part.check(package)
    # A form a BPMN file names is checked with it, and again as a form file when that BPMN file was refused.
    unique = list({(p.file, p.line, p.message): p for p in problems}.values())
    return Checked(package, lines, processes, unique, list({(w.file, w.line, w.message): w for w in warnings}.values()))


def engine_data(manifest: dict, key: str, processes: dict[str, CheckedProcess]) -> set[str]:
    """The names the engine puts into the data of a case of process ``key`` (docs/services.md): the manifest's
    ``start.data``; a group's membership; for a case started for a member who left, the fields of the group's
    joining and leaving rows and the days."""
    spec = manifest["processes"][key]
    names = set(spec["start"].get("data") or {})
    if spec.get("members"):
        names |= set(MEMBERS_DATA)
    for other, other_spec in manifest["processes"].items():
        if (other_spec.get("members") or {}).get("leaving_starts") == key and other in processes:
            names |= {"joined_on", "left_on", "members_case_id"} | processes[other].row_fields
    return names


def _manifest_references(manifest: dict, lines: Lines, processes: dict[str, CheckedProcess]) -> list[PackageProblem]:
    """What the manifest names must exist: roles, lanes, processes, tasks, timer purposes, form fields."""
    problems = []

    def refuse(path: tuple, message: str, code: str = "", **params) -> None:
        where = ".".join(map(str, path))
        problems.append(PackageProblem(MANIFEST, lines.of(*path), f"{where}: {message}", code,
                                       {"path": where, **params} if code else {}))

    roles = manifest["roles"]
    for role in roles:
        if role not in ROLES:
            refuse(("roles", role), f"unknown role '{role}' (the engine's roles: {', '.join(ROLES)})",
                   "role_unknown", role=role, known=", ".join(ROLES))
    by_lane = {spec["lane"] for spec in roles.values()}
    for key, proc in processes.items():
        for lane in sorted(proc.lanes - by_lane):
            refuse(("processes", key), f"lane '{lane}' of {proc.upload.bpmn_name} is no role's lane (add a role "
                                       f"with 'lane: {lane}' under 'roles')", "lane_without_role", lane=lane,
                   file=proc.upload.bpmn_name)
    registering = {k for k, spec in manifest["processes"].items() if spec.get("registers_client")}
    for key, spec in manifest["processes"].items():
        start = spec["start"]
        for i, role in enumerate(start.get("roles") or ()):
            if role not in roles:
                refuse(("processes", key, "start", "roles", i), f"'{role}' is not one of this package's roles",
                       "role_not_in_package", role=role)
        if start.get("manual") is False and start["from"] == NOTHING:
            # The engine starts a case from another one for that case's client (a member leaving, a form choice).
            refuse(("processes", key, "start", "manual"), "a case that starts from nothing and not by hand could "
                                                          "never start: the engine starts cases for a client",
                   "start_never")
        if start.get("data") and start["from"] == NOTHING:
            refuse(("processes", key, "start", "data"), "a case that starts from nothing has no client to take "
                                                        "data from", "start_data_without_client")
        # A registering process of another package is checked when the package deploys (engine/packages/deploy).
        if start["from"] in manifest["processes"] and start["from"] not in registering:
            refuse(("processes", key, "start", "from"), f"process '{start['from']}' registers no client "
                                                        "(it has no 'registers_client')",
                   "start_from_registers_none", process=start["from"])
        found = processes.get(key)
        registration = spec.get("registers_client")
        if found is not None and registration:
            for group, named in registration.items():
                for column, form_field in named.items():
                    if form_field not in found.fields:
                        refuse(("processes", key, "registers_client", group, column),
                               f"no form of process '{key}' has a field '{form_field}'", "form_field_unknown",
                               process=key, field=form_field)
        _legal_basis_problems(key, spec, found, refuse)
        if found is not None and REGISTER_CLIENT in found.operations and not registration:
            refuse(("processes", key), f"{found.upload.bpmn_name} calls '{REGISTER_CLIENT}', so the process needs "
                                       "'registers_client' (which form fields feed the client register)",
                   "registers_client_missing", file=found.upload.bpmn_name, operation=REGISTER_CLIENT)
    for name, spec in (manifest.get("caseloads") or {}).items():
        if spec["role"] not in roles:
            refuse(("caseloads", name, "role"), f"'{spec['role']}' is not one of this package's roles",
                   "role_not_in_package", role=spec["role"])
        counts = spec["counts"]
        for i, key in enumerate(counts.get("processes") or ()):
            if key not in manifest["processes"]:
                refuse(("caseloads", name, "counts", "processes", i), f"'{key}' is not a process of this package",
                       "process_not_in_package", process=key)
        tasks = {t for p in processes.values() for t in p.user_tasks}
        for i, task in enumerate(counts.get("tasks") or ()):
            if task not in tasks:
                refuse(("caseloads", name, "counts", "tasks", i), f"no process of this package has a user task "
                                                                 f"'{task}'", "user_task_unknown", task=task)
        purposes = {t for p in processes.values() for t in p.timer_purposes}
        for i, purpose in enumerate(counts.get("timers") or ()):
            if purpose not in purposes:
                refuse(("caseloads", name, "counts", "timers", i), f"no timer of this package has purpose "
                                                                  f"'{purpose}'", "timer_purpose_unknown",
                       purpose=purpose)
    return problems


def _legal_basis_problems(key: str, spec: dict, found: CheckedProcess | None, refuse) -> None:
    """A process that holds a person's data says why (GDPR Art. 6, and Art. 9 for special categories); one that
    relies on consent names the statement, and a step that takes the signature names fields its forms have."""
    basis = spec.get("legal_basis")
    about_a_person = spec["start"]["from"] != NOTHING or spec.get("registers_client")
    if not basis:
        if about_a_person:
            refuse(("processes", key), "a process that holds a person's data needs 'legal_basis' (article_6, "
                                       "article_9 for special categories, the law; docs/services.md)",
                   "legal_basis_missing")
        return
    relies_on_consent = manifest_format.CONSENT in (basis.get("article_6"), basis.get("article_9"))
    if relies_on_consent and not basis.get("consent"):
        refuse(("processes", key, "legal_basis"), "a basis of consent (point a) needs 'consent': the statement, "
                                                  "its version and text the person signs", "consent_missing")
    if basis.get("consent") and not relies_on_consent:
        refuse(("processes", key, "legal_basis", "consent"), "a consent statement is declared but neither "
                                                             "article_6 nor article_9 is 'a' (consent)",
                   "consent_without_basis")
    seeded = set(spec["start"].get("data") or {})  # what a case starts with from the register counts too
    for group in ("identifying", "financial"):
        for i, name in enumerate(basis.get(group) or ()):
            if found is not None and name not in found.fields | seeded:
                refuse(("processes", key, "legal_basis", group, i), f"no form of process '{key}' has a field "
                                                                    f"'{name}'", "form_field_unknown",
                       process=key, field=name)
    taken_at = (basis.get("consent") or {}).get("taken_at")
    if found is not None and taken_at:
        if taken_at["task"] not in found.user_tasks:
            refuse(("processes", key, "legal_basis", "consent", "taken_at", "task"),
                   f"no user task '{taken_at['task']}' in {found.upload.bpmn_name}", "consent_task_unknown",
                   task=taken_at["task"], file=found.upload.bpmn_name)
        for name in ("given", "date"):
            if taken_at.get(name) and taken_at[name] not in found.fields:
                refuse(("processes", key, "legal_basis", "consent", "taken_at", name),
                       f"no form of process '{key}' has a field '{taken_at[name]}'", "form_field_unknown",
                       process=key, field=taken_at[name])
