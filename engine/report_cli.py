"""`segito report <key>` (any declared report: figures, tables, drill-down, CSV/XLSX), `segito reports`,
`segito rebuild-facts` and `segito audit verify|log`; added to the `segito` group by engine/cli.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .audit import audit_log, audit_verify
from .cli_support import _actor, _runtime
from .errors import NotFound
from .reports import export, facts, run
from .reports.request import parse_request, report_key
from .store import private_files


def _cli():
    from . import cli_support as cli  # the group's helpers (runtime, actor, output)

    return cli


def _user_id(runtime, username: str | None) -> int | None:
    if not username:
        return None
    from .people import users

    with runtime.db.reading() as session:
        try:
            return users.by_username(session, username).id
        except NotFound:
            raise click.BadParameter(f"no active user '{username}'", param_hint="--caseworker") from None


@click.group("audit")
def audit_group():
    """Check and read the audit log."""


@audit_group.command("verify")
@click.option("--case", "case_ids", type=int, multiple=True, help="only these cases (default: every chain)")
@click.option("--anchor", "anchor_in", type=click.Path(exists=True, dir_okay=False),
              help="an anchor written earlier: every chain must still pass through its heads")
@click.option("--anchor-out", type=click.Path(dir_okay=False), help="write the heads of all chains here")
@click.option("--json", "as_json", is_flag=True)
def audit_verify_command(case_ids, anchor_in, anchor_out, as_json):
    """Recompute the hash chains; exit status 1 when anything was edited, deleted, inserted or reordered."""
    runtime = _cli()._runtime()
    anchor = json.loads(Path(anchor_in).read_text(encoding="utf-8")) if anchor_in else None
    with runtime.db.reading() as session:
        result = audit_verify.verify(session, list(case_ids) or None, anchor)
    if anchor_out:
        private_files.write_private(anchor_out, json.dumps(result["anchor"], indent=1))
    if as_json:
        click.echo(json.dumps(result if anchor_out else {k: v for k, v in result.items() if k != "anchor"},
                              indent=2))
    else:
        summary = (f"{result['events_checked']} events in {result['cases_checked']} cases and "
                   f"{result['streams_checked']} streams")
        if result["ok"]:
            click.echo(f"audit log intact: {summary}; anchor digest {result['anchor']['digest']}")
        else:
            click.echo(f"audit log TAMPERED: {len(result['problems'])} problem(s) in {summary}")
            for p in result["problems"]:
                click.echo(f"  [{p['kind']}] {p['message']}")
    sys.exit(0 if result["ok"] else 1)


@audit_group.command("log")
@click.option("--user", help="only events by this user")
@click.option("--case", "case_id", type=int)
@click.option("--kind", help="e.g. task_completed, case_viewed")
@click.option("--from", "date_from")
@click.option("--to", "date_to")
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--as", "username", envvar="SEGITO_USER", required=True, help="the acting user (or SEGITO_USER)")
def audit_log_command(user, case_id, kind, date_from, date_to, page, username):
    """The whole log, newest first, filtered (managers)."""
    cli = _cli()
    runtime = cli._runtime()
    cli._out(audit_log.search(runtime, cli._actor(runtime, username), user=user, case_id=case_id, kind=kind,
                              date_from=date_from, date_to=date_to, page=page))


@click.command("report")
@click.argument("key", required=False)
@click.option("--from", "date_from", required=True, help="first day of the period, YYYY-MM-DD")
@click.option("--to", "date_to", required=True, help="last day of the period, YYYY-MM-DD (inclusive)")
@click.option("--caseworker", help="only this caseworker's cases (username)")
@click.option("--process", "process_key", help="only this process's cases")
@click.option("--bands", default="", help="bands a table asks for, e.g. '0-50000,50000-100000,100000-'")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False), help="also write the workbook here")
@click.option("--drill", "indicator", help="list the cases behind this indicator (or table.column)")
@click.option("--key", "row_key", help="the table row to drill into (its key)")
@click.option("--names", is_flag=True, help="with --drill: the clients' names (roles of access.names)")
@click.option("--lang", type=click.Choice(["hu", "en"]), default="en", show_default=True)
@click.option("--as", "username", envvar="SEGITO_USER", required=True, help="the acting user (or SEGITO_USER)")
def report_command(key, date_from, date_to, caseworker, process_key, bands, fmt, xlsx_path, indicator, row_key,
                   names, lang, username):
    """A declared report for a period (docs/reports.md); KEY is the report's key (`segito reports` lists them)."""
    runtime = _runtime()
    actor = _actor(runtime, username)
    if not key:
        raise click.UsageError("name the report: segito report KEY (segito reports lists them)")
    key = report_key(key)
    req = parse_request(date_from, date_to, _user_id(runtime, caseworker), process_key, bands)
    if indicator:
        listing = run.cases_behind(runtime, actor, key, req, indicator, row_key, with_names=names, limit=1000)
        click.echo(export.cases_to_csv(listing) if fmt == "csv"
                   else json.dumps(listing, ensure_ascii=False, indent=2))
        return
    result = run.report(runtime, actor, key, req)
    if xlsx_path:
        private_files.write_private(xlsx_path, export.to_xlsx(result, lang))
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        sys.stdout.write(export.to_csv(result, lang))
    else:
        click.echo(export.to_text(result, lang), nl=False)


@click.command("reports")
@click.option("--as", "username", envvar="SEGITO_USER", required=True, help="the acting user (or SEGITO_USER)")
def reports_command(username):
    """The deployed reports the user may read."""
    runtime = _runtime()
    for item in run.available(runtime, _actor(runtime, username)):
        click.echo(f"{item['key']:<24} {item['title']['en']} ({item['package']})")


@click.command("rebuild-facts")
def rebuild_facts_command():
    """Recompute the report rows of every case from its stored state (after an upgrade or a changed report)."""
    click.echo(json.dumps({"cases": facts.rebuild(_runtime())}))
