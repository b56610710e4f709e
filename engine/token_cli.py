"""`segito token issue|list|revoke`: API tokens (engine/people/api_tokens.py) from the command line; added to the
`segito` group by engine/cli.py. The acting user (`--as`) manages her own tokens, an administrator anyone's."""
from __future__ import annotations

import datetime as dt

import click

from .cli_support import _actor, _out, _runtime, as_option
from .people import api_tokens
from .store import clock


@click.group("token")
def token_group():
    """API tokens: credentials for the JSON API (Authorization: Bearer), scoped and revocable."""


def _expiry(days: int | None, on: dt.datetime | None) -> dt.datetime | None:
    if days is not None and on is not None:
        raise click.UsageError("give --expires-in-days or --expires, not both")
    if days is not None:
        return clock.now() + dt.timedelta(days=days)
    if on is not None:  # the end of that day, UTC
        return dt.datetime.combine(on.date(), dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
    return None


@token_group.command("issue")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(api_tokens.SCOPES), default=("read",),
              show_default=True, help="what the token may do (repeat: --scope read --scope work)")
@click.option("--for", "for_user", help="the user the token acts as (an administrator's choice; default: --as)")
@click.option("--expires-in-days", "days", type=click.IntRange(1, 3650), help="the token stops working after this")
@click.option("--expires", "on", type=click.DateTime(["%Y-%m-%d"]), help="the last day the token works (UTC)")
@as_option
def token_issue(name, scopes, for_user, days, on, username):
    """Issue a token named NAME; its secret is printed once and never again."""
    runtime = _runtime()
    actor = _actor(runtime, username)
    with runtime.db.unit_of_work() as session:
        described, secret = api_tokens.issue(session, actor, name, list(scopes), clock.now(),
                                             expires_at=_expiry(days, on), username=for_user)
    click.echo("The token is shown only now; keep it where the client reads it.", err=True)
    _out({**described, "token": secret})


@token_group.command("list")
@click.option("--for", "for_user", help="another user's tokens (an administrator's choice)")
@click.option("--all", "everyone", is_flag=True, help="every user's tokens (administrator)")
@as_option
def token_list(for_user, everyone, username):
    """List tokens (never their secrets): name, scopes, status, expiry, last use."""
    runtime = _runtime()
    actor = _actor(runtime, username)
    with runtime.db.unit_of_work() as session:  # the listing is itself an audit event
        _out(api_tokens.list_tokens(session, actor, clock.now(), username=for_user, everyone=everyone))


@token_group.command("revoke")
@click.argument("token_id", type=int)
@as_option
def token_revoke(token_id, username):
    """Revoke token TOKEN_ID at once: the next call with it is refused."""
    runtime = _runtime()
    actor = _actor(runtime, username)
    with runtime.db.unit_of_work() as session:
        _out(api_tokens.revoke(session, actor, token_id, clock.now()))
