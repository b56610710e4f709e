"""`segito migrate dry-run|run|revert|batches`: moving running cases to another version of their process
(engine/cases/migration.py, docs/services.md "Moving running cases to another version"); added to the `segito`
group by engine/cli.py."""
from __future__ import annotations

import click

from .cases import migration
from .cli_support import _actor, _out, _runtime, as_option


@click.group("migrate")
def migrate_group():
    """Move running cases of a process to another version of it, in bulk; a dry run first."""


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(f"'{pair}' is not OLD_ID=NEW_ID", param_hint="--map")
        found[old] = new
    return found


def _selection(function):
    for option in reversed((
            click.argument("process_key"),
            click.option("--to", "to_version", type=int, default=None,
                         help="the target version (default: the one new cases start on)"),
            click.option("--from", "from_version", type=int, default=None, help="only cases on this version"),
            click.option("--step", default=None, help="only cases waiting at this user task (BPMN id)"),
            click.option("--status", type=click.Choice(migration.STATUSES), default="running", show_default=True),
            click.option("--map", "pairs", multiple=True, metavar="OLD_ID=NEW_ID",
                         help="where a step the target version lacks goes (repeatable)"))):
        function = option(function)
    return function


@migrate_group.command("dry-run")
@_selection
@as_option
def dry_run(process_key, to_version, from_version, step, status, pairs, username):
    """For each selected case: can it move, and why not (nothing changes)."""
    runtime = _runtime()
    _out(migration.dry_run(runtime, _actor(runtime, username), process_key, to_version=to_version,
                           from_version=from_version, step=step, status=status, mapping=_mapping(pairs)))


@migrate_group.command("run")
@_selection
@as_option
def run(process_key, to_version, from_version, step, status, pairs, username):
    """Move every selected case that can; each in its own transaction, with an audit event."""
    runtime = _runtime()
    _out(migration.migrate(runtime, _actor(runtime, username), process_key, to_version=to_version,
                           from_version=from_version, step=step, status=status, mapping=_mapping(pairs)))


@migrate_group.command("revert")
@click.argument("batch")
@as_option
def revert(batch, username):
    """Move the cases a batch moved back to their versions, where they still can."""
    runtime = _runtime()
    _out(migration.revert(runtime, _actor(runtime, username), batch))


@migrate_group.command("batches")
@click.argument("process_key")
@as_option
def batches(process_key, username):
    """The latest batches of moves of a process's cases."""
    runtime = _runtime()
    actor = _actor(runtime, username)
    migration.require_dry_run(actor)
    with runtime.db.reading() as session:
        _out(migration.batches(session, process_key))
