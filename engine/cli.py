"""The `segito` command. It calls the engine like the web app does; `--as` names the acting user."""
from __future__ import annotations

import click

from . import setup
from .audit import audit_log
from .cases import cases, entry_corrections, tasks
from .cli_support import _actor, _data, _out, _runtime, as_option
from .consent_cli import consent_group
from .definitions import definitions
from .errors import SegitoError
from .keys_cli import keys_group
from .migration_cli import migrate_group
from .people import users
from .privacy_cli import privacy_group, retention_group
from .report_cli import audit_group, rebuild_facts_command, report_command, reports_command
from .store import private_files
from .test_run_cli import test_run_command
from .token_cli import token_group


class SegitoGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SegitoError as e:
            click.echo(f"error: {e.message}", err=True)
            for d in e.details:
                where = d.get("field") or f"{d.get('file', '')}:{d.get('line', '')}"
                click.echo(f"  {where}: {d['message']}", err=True)
            ctx.exit(2)


@click.group(cls=SegitoGroup, invoke_without_command=True)
@click.pass_context
def main(ctx):
    """Segito: BPMN casework for family support and employment services."""
    # Whatever a command creates (a backup, an export, a database file, a log) is for its owner alone: the files
    # hold clients' personal data (engine/store/private_files.py).
    private_files.tighten_umask()
    if ctx.invoked_subcommand is None:
        # `segito` alone serves the app: its `run` command is added by web/cli.py (the engine knows no web app).
        default = main.get_command(ctx, "run")
        if default is None:
            click.echo(ctx.get_help())
            return
        ctx.invoke(default)


@main.command("init-db")
def init_db():
    """Migrate the schema and deploy the bundled processes."""
    _out(setup.initialise(_runtime()))


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--note", default=None, help="Why this version is deployed; kept with it in the version history.")
@click.option("--draft", is_flag=True, help="Store and check the package as a draft: not live until published.")
@as_option
def deploy(path, username, note, draft):
    """Deploy a service package (a folder with service.yaml, docs/services.md) as a new version.

    A BPMN file inside a package folder deploys its whole package, so the package stays one version; a BPMN
    file outside any package is deployed on its own (its forms are read from forms/ beside it)."""
    from pathlib import Path

    from . import packages
    from .people import access
    from .store import clock

    runtime = _runtime()
    actor = _actor(runtime, username)
    access.require_designer(actor)
    target = Path(path)
    folder = target if target.is_dir() else target.parent
    if (folder / packages.manifest.MANIFEST).is_file():
        if not target.is_dir():
            click.echo(f"{target.name} belongs to the package in {folder}: deploying the whole package", err=True)
        results = packages.deploy(runtime, [packages.from_folder(folder)], actor.username, clock.now(), note, draft)
        for result in results:
            for w in result.get("warnings") or ():
                click.echo(f"{w['file']}:{w['line']}: warning: {w['message']}" if w.get("line")
                           else f"{w['file']}: warning: {w['message']}", err=True)
        _out(results)
        return
    if draft:
        raise click.UsageError("--draft is for a package folder: a BPMN file deployed on its own is live at once")
    if target.is_dir():
        raise click.UsageError(f"{path} has no {packages.manifest.MANIFEST}: a package folder needs a manifest "
                               "(docs/services.md)")
    upload = definitions.Upload.from_path(target)
    definitions.version_note(note)
    definitions.prevalidate(upload)  # before the transaction: validation must not hold the writer lock
    with runtime.db.unit_of_work() as session:
        definition, created = definitions.deploy(session, upload, actor.username, clock.now(), note=note)
        _out({"process_key": definition.process_key, "version": definition.version, "created": created})


@main.command("packages")
def list_packages():
    """List deployed service packages and their versions."""
    from . import packages

    runtime = _runtime()
    with runtime.db.reading() as session:
        _out(packages.list_versions(session))


@main.command("definitions")
def list_definitions():
    """List deployed process definitions and their versions."""
    runtime = _runtime()
    with runtime.db.reading() as session:
        _out(definitions.list_definitions(session))


@main.command("versions")
@click.argument("process_key")
def version_history(process_key):
    """A process's version history: author, time and note of each version, and which one new cases start on."""
    runtime = _runtime()
    with runtime.db.reading() as session:
        _out(definitions.history(session, process_key))


@main.command("diff")
@click.argument("process_key")
@click.argument("old_version", type=int)
@click.argument("new_version", type=int)
@as_option
def diff_versions(process_key, old_version, new_version, username):
    """What changed from one version of a process to another: elements added, removed and changed, form fields."""
    from .definitions import version_diff
    from .people import access

    runtime = _runtime()
    access.require_version_reader(_actor(runtime, username))
    with runtime.db.reading() as session:
        _out(version_diff.diff(session, process_key, old_version, new_version))


@main.command("publish")
@click.argument("package_key")
@click.argument("version", type=int)
@click.option("--note", default=None, help="Why this version goes live; kept in the audit log.")
@as_option
def publish_package(package_key, version, note, username):
    """Make a package version the one new cases start on: a draft, or an earlier version again (a roll-back)."""
    from . import packages
    from .people import access
    from .store import clock

    runtime = _runtime()
    actor = _actor(runtime, username)
    access.require_designer(actor)
    _out(packages.publish(runtime, package_key, version, actor.username, clock.now(), note))


@main.command("export")
@click.argument("package_key")
@click.argument("version", type=int)
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="The zip file to write (default: PACKAGE-VERSION.zip in the current folder).")
@as_option
def export_package(package_key, version, out, username):
    """Export a package version as a zip of its files as deployed (audited)."""
    from pathlib import Path

    from . import packages
    from .people import access
    from .store import clock

    runtime = _runtime()
    actor = _actor(runtime, username)
    access.require_version_reader(actor)
    with runtime.db.unit_of_work() as session:
        name, data = packages.export(session, package_key, version, actor.username, clock.now())
    target = Path(out or name)
    target.write_bytes(data)
    _out({"package": package_key, "version": version, "file": str(target), "bytes": len(data)})


@main.group()
def case():
    """Start and inspect cases."""


@case.command("startable")
@as_option
def case_startable(username):
    """The processes this user may start (docs/processes.md, "Who starts a case")."""
    runtime = _runtime()
    _out(cases.startable(runtime, _actor(runtime, username)))


@case.command("start")
@click.argument("process_key")
@click.option("--client", "client_code", help="the client's code (given when the client was registered)")
@click.option("--confirm", is_flag=True,
              help="start it even though the client already has an open case of a process that expects one")
@as_option
def case_start(process_key, client_code, confirm, username):
    runtime = _runtime()
    _out(cases.start_case(runtime, process_key, _actor(runtime, username), client_code, confirm=confirm))


@case.command("show")
@click.argument("case_id", type=int)
@as_option
def case_show(case_id, username):
    runtime = _runtime()
    actor = _actor(runtime, username)
    found = cases.get_case(runtime, case_id, actor)
    audit_log.record_view(runtime, actor, case_id, via="cli")  # a look at a client's file, as on the web
    _out(found)


@case.command("history")
@click.argument("case_id", type=int)
@as_option
def case_history(case_id, username):
    runtime = _runtime()
    actor = _actor(runtime, username)
    found = cases.history(runtime, case_id, actor)
    audit_log.record_view(runtime, actor, case_id, via="cli", what="history")
    _out(found)


@case.command("list")
@click.option("--status")
@as_option
def case_list(status, username):
    runtime = _runtime()
    _out(cases.list_cases(runtime, _actor(runtime, username), status=status))


@case.command("correct-entry")
@click.argument("case_id", type=int)
@click.argument("field")
@click.argument("row", type=int)
@click.option("--data", "raw", required=True, help="the corrected row: JSON, @file or - for stdin")
@click.option("--reason", default=None, help="why the entry is corrected (kept in the audit)")
@as_option
def case_correct_entry(case_id, field, row, raw, reason, username):
    """Correct row ROW (from 0) of an append-only block FIELD recorded at an earlier step; the old value is kept."""
    runtime = _runtime()
    _out(entry_corrections.correct(runtime, case_id, field, row, _data(raw), _actor(runtime, username), reason))


@main.command()
@click.option("--mine", is_flag=True, help="only tasks assigned to me")
@click.option("--process")
@click.option("--step")
@click.option("--client", "client_code")
@as_option
def inbox(mine, process, step, client_code, username):
    """Tasks waiting for me or my roles."""
    runtime = _runtime()
    _out(tasks.inbox(runtime, _actor(runtime, username), mine_only=mine, process_key=process, step=step,
                     client_code=client_code))


@main.group()
def task():
    """Open, draft, claim, release and complete tasks."""


@task.command("show")
@click.argument("task_id", type=int)
@as_option
def task_show(task_id, username):
    runtime = _runtime()
    actor = _actor(runtime, username)
    found = tasks.get_task(runtime, task_id, actor)
    audit_log.record_view(runtime, actor, found["case_id"], task_id=task_id, via="cli")
    _out(found)


@task.command("complete")
@click.argument("task_id", type=int)
@click.option("--data", "raw", default="{}", help="form data: JSON, @file or - for stdin")
@as_option
def task_complete(task_id, raw, username):
    runtime = _runtime()
    _out(tasks.complete(runtime, task_id, _data(raw), _actor(runtime, username)))


@task.command("draft")
@click.argument("task_id", type=int)
@click.option("--data", "raw", required=True, help="form data: JSON, @file or - for stdin")
@as_option
def task_draft(task_id, raw, username):
    runtime = _runtime()
    _out(tasks.save_draft(runtime, task_id, _data(raw), _actor(runtime, username)))


@task.command("claim")
@click.argument("task_id", type=int)
@as_option
def task_claim(task_id, username):
    runtime = _runtime()
    _out(tasks.claim(runtime, task_id, _actor(runtime, username)))


@task.command("release")
@click.argument("task_id", type=int)
@as_option
def task_release(task_id, username):
    runtime = _runtime()
    _out(tasks.release(runtime, task_id, _actor(runtime, username)))


@main.group()
def user():
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(users.ROLES))
@click.password_option()
def user_add(username, display_name, roles, password):
    runtime = _runtime()
    from .store import clock

    with runtime.db.unit_of_work() as session:
        created = users.create_user(session, username, display_name, list(roles), password, "cli", clock.now())
        _out({"username": created.username, "roles": sorted(created.role_codes)})


@main.group()
def scheduler():
    """The timers, for an administrator: what is due, failing and in incident; retrying an incident."""


@scheduler.command("show")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="rows per list")
@as_option
def scheduler_show(limit, username):
    from .timers import timers

    runtime = _runtime()
    _out(timers.overview(runtime, _actor(runtime, username), limit=limit))


@scheduler.command("retry")
@click.argument("timer_id", type=int)
@as_option
def scheduler_retry(timer_id, username):
    """Send a timer in incident (or failing) back to the queue, due now; recorded in the case's audit."""
    from .timers import timers

    runtime = _runtime()
    _out(timers.retry_incident(runtime, timer_id, _actor(runtime, username)))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="replace the file if it exists")
def backup(path, overwrite):
    """Copy the database into PATH, readable by its owner only (SQLite: a consistent snapshot; PostgreSQL:
    pg_dump's custom format, restored with pg_restore)."""
    from .store import backup as backups
    from .store import config

    _out(backups.backup(config.database_url(), path, overwrite))


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--overwrite", is_flag=True, help="replace what the database holds (refused otherwise)")
def restore(path, overwrite):
    """Make the database the backup in PATH (made by `segito backup`), then verify its audit chains; exit status
    1 when they do not verify. Stop the app and its workers first (docs/operations.md)."""
    import sys

    from .audit import audit_verify
    from .store import config
    from .store import restore as restores
    from .store.db import Database, dispose

    url = config.database_url()
    dispose(url)  # connections this process may hold would see the old tables
    restored = restores.restore(url, path, overwrite)
    database = Database(url)
    try:
        with database.reading() as session:
            verified = audit_verify.verify(session)
    finally:
        database.close()
    restored["audit"] = {k: v for k, v in verified.items() if k != "anchor"}
    restored["audit"]["anchor_digest"] = verified["anchor"]["digest"]
    _out(restored)
    if not verified["ok"]:
        sys.exit(1)


@main.command()
@click.option("--interval", type=float, default=None, help="seconds between ticks (SEGITO_TICK_SECONDS, default 5)")
@click.option("--once", is_flag=True, help="fire what is due now and exit (prints how many fired)")
def worker(interval, once):
    """Fire due timers: the same ticker as in the web app, in a process of its own (run as many as you like)."""
    from .observability import logs
    from .timers import ticker, timers

    # Text or JSON lines (SEGITO_LOG_FORMAT); SpiffWorkflow's INFO messages on every task are left out.
    logs.configure()
    runtime = _runtime()
    setup.initialise(runtime)
    runtime.settle()
    if once:
        _out({"fired": timers.fire_due(runtime, f"worker:{timers.worker_name()}")})
        return
    ticker.run_worker(runtime, interval or ticker.DEFAULT_INTERVAL)


@main.group()
def document():
    """Step documents (docs/documents.md): produce a PDF, upload a signed copy, list, fetch a version."""


def _write(out: str, content: bytes) -> None:
    with open(out, "wb") as fh:  # the umask keeps it the owner's (private_files.tighten_umask)
        fh.write(content)


@document.command("list")
@click.argument("case_id", type=int)
@as_option
def document_list(case_id, username):
    """Every document of the case: produced and signed, every version, newest first."""
    from .documents import documents

    runtime = _runtime()
    _out(documents.list_documents(runtime, case_id, _actor(runtime, username)))


@document.command("produce")
@click.argument("case_id", type=int)
@click.argument("document_key")
@click.option("--lang", "lang", default="hu", show_default=True, help="hu or en (as the document offers)")
@click.option("--task", "task_id", type=int, default=None, help="the step (task id) it is produced at")
@click.option("--out", default=None, help="also write the PDF to this file (a download, audited)")
@as_option
def document_produce(case_id, document_key, lang, task_id, out, username):
    """The document filled from the case as PDF, kept as its next version (or the latest, when unchanged)."""
    from .documents import documents

    runtime = _runtime()
    actor = _actor(runtime, username)
    made = documents.produce(runtime, case_id, document_key, actor, lang, task_id=task_id)
    if out:
        _write(out, documents.download(runtime, case_id, made["document_id"], actor, via="cli")[1])
    _out(made)


@document.command("upload")
@click.argument("case_id", type=int)
@click.argument("document_key")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--task", "task_id", type=int, default=None, help="the step (task id) it is attached to")
@as_option
def document_upload(case_id, document_key, path, task_id, username):
    """A signed copy (PDF, PNG or JPEG, read by its content) kept as the document's next signed version."""
    from .documents import documents

    runtime = _runtime()
    with open(path, "rb") as fh:
        content = fh.read(documents.MAX_UPLOAD_BYTES + 1)
    _out(documents.upload(runtime, case_id, document_key, content, _actor(runtime, username), path,
                          task_id=task_id))


@document.command("get")
@click.argument("case_id", type=int)
@click.argument("document_id", type=int)
@click.option("--out", required=True, help="the file to write")
@as_option
def document_get(case_id, document_id, out, username):
    """One stored version's bytes into a file (audited)."""
    from .documents import documents

    runtime = _runtime()
    described, content = documents.download(runtime, case_id, document_id, _actor(runtime, username), via="cli")
    _write(out, content)
    _out(described)


# The report and audit commands (engine/report_cli.py), the API tokens' (engine/token_cli.py), a person's
# requests and retention (engine/privacy_cli.py), consent (engine/consent_cli.py), moving cases between versions
# (engine/migration_cli.py), test runs (engine/test_run_cli.py) and the master keys (engine/keys_cli.py),
# registered here: they take their helpers from engine/cli_support.py, so the import runs one way.
for _command in (report_command, reports_command, audit_group, rebuild_facts_command, token_group, privacy_group,
                 retention_group, consent_group, migrate_group, test_run_command, keys_group):
    main.add_command(_command)


if __name__ == "__main__":
    main()
