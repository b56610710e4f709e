"""`segito privacy …` (a person's requests: export, correct, erase; legal holds) and `segito retention report|apply`;
added to the `segito` group by engine/cli.py (docs/operations.md)."""
from __future__ import annotations

import click

from .cli_support import _actor, _data, _out, _runtime, as_option
from .privacy import export, rectify, retention
from .store import private_files


@click.group("privacy")
def privacy_group():
    """A person's rights: their data handed out, rectified, erased; legal holds on cases."""


@privacy_group.command("export")
@click.argument("client_code")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), required=True,
              help="write the machine-readable file here (mode 0600)")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="also write the readable page here")
@click.option("--lang", type=click.Choice(["hu", "en"]), default="hu", show_default=True, help="the page's language")
@as_option
def privacy_export(client_code, json_path, html_path, lang, username):
    """Everything held about a client, as JSON (and an HTML page), readable by the file's owner only."""
    runtime = _runtime()
    found = export.collect(runtime, _actor(runtime, username), client_code)
    written = [str(private_files.write_private(json_path, export.to_json(found)))]
    if html_path:
        written.append(str(private_files.write_private(html_path, export.to_html(found, lang))))
    _out({"client": found["client"]["client_code"], "cases": len(found["cases"]), "written": written})


@privacy_group.command("correct")
@click.argument("client_code")
@click.option("--data", "raw", required=True, help='the corrected fields: JSON (e.g. {"family_name": "…"}), @file or -')
@click.option("--reason", required=True, help="why (e.g. the document shown); kept in the audit log")
@as_option
def privacy_correct(client_code, raw, reason, username):
    """Rectify the client register (names, birth data, mother's name, phone); the old values stay in the audit."""
    runtime = _runtime()
    _out(rectify.correct_client(runtime, _actor(runtime, username), client_code, _data(raw), reason))


@privacy_group.command("erase")
@click.argument("client_code")
@click.option("--apply", "do_it", is_flag=True, help="erase now (without it: only say what could be erased)")
@as_option
def privacy_erase(client_code, do_it, username):
    """A person's request to be erased: which of their cases the law lets go now (closed, past retention, no
    hold), and why the others are kept; with --apply, erase those."""
    runtime = _runtime()
    _out(retention.erase_for_client(runtime, _actor(runtime, username), client_code, dry_run=not do_it))


@privacy_group.command("hold")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="what the case is kept for (a court case, an authority's request)")
@as_option
def privacy_hold(case_id, reason, username):
    """Put a legal hold on a case: it is not erased, whatever its retention, until the hold is cleared."""
    runtime = _runtime()
    _out(retention.set_hold(runtime, _actor(runtime, username), case_id, reason))


@privacy_group.command("release")
@click.argument("case_id", type=int)
@click.option("--reason", required=True, help="why the hold ends")
@as_option
def privacy_release(case_id, reason, username):
    """Clear a case's legal hold: its retention applies again."""
    runtime = _runtime()
    _out(retention.clear_hold(runtime, _actor(runtime, username), case_id, reason))


@click.group("retention")
def retention_group():
    """Erasing closed cases past their retention period (the service manifests' `retention`)."""


@retention_group.command("report")
@click.option("--limit", type=click.IntRange(1, 100000), default=None, help="at most this many cases")
@as_option
def retention_report(limit, username):
    """The dry run: what `retention apply` would erase now, and the held cases it would skip."""
    runtime = _runtime()
    _out(retention.report(runtime, _actor(runtime, username), limit))


@retention_group.command("apply")
@click.option("--limit", type=click.IntRange(1, 100000), default=retention.DEFAULT_LIMIT, show_default=True,
              help="at most this many cases in this run")
@as_option
def retention_apply(limit, username):
    """Erase the personal data of every case past its retention (and of clients no case keeps), each audited."""
    runtime = _runtime()
    _out(retention.apply(runtime, _actor(runtime, username), limit))
