"""What the `segito` command's groups share (engine/cli.py, engine/report_cli.py): the runtime, the acting user,
the output, form data from the command line."""
from __future__ import annotations

import json
import sys

import click

from . import setup
from .people import users
from .runtime.runtime import Runtime


def _runtime() -> Runtime:
    setup.wire()  # what plugs into service packages (reports, documents), for `segito deploy`
    return Runtime()


def _actor(runtime: Runtime, username: str):
    with runtime.db.reading() as session:
        return users.actor(session, username)


def _out(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _data(raw: str):
    """Form data from a JSON string, @file, or - for standard input; malformed JSON is reported with its place."""
    if raw == "-":
        text = sys.stdin.read()
    elif raw.startswith("@"):
        with open(raw[1:], encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = raw
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                                 param_hint="--data") from e


as_option = click.option("--as", "username", envvar="SEGITO_USER", required=True,
                         help="the acting user (or SEGITO_USER)")
