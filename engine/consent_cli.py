"""`segito consent …`: a person's data-processing statement recorded, shown, withdrawn, and the cases whose
consent expires soon; added to the `segito` group by engine/cli.py (docs/operations.md, "Consent and legal
basis")."""
from __future__ import annotations

import click

from .cases import consent
from .cli_support import _actor, _out, _runtime, as_option


@click.group("consent")
def consent_group():
    """Data-processing consent: record, show, withdraw; the consents expiring soon."""


@consent_group.command("show")
@click.argument("case_id", type=int)
@as_option
def consent_show(case_id, username):
    """The case's legal basis, its statement, and the consents on record that cover it."""
    runtime = _runtime()
    _out(consent.for_case(runtime, _actor(runtime, username), case_id))


@consent_group.command("give")
@click.argument("case_id", type=int)
@click.option("--given", "given_on", required=True, help="the day the person signed the statement (YYYY-MM-DD)")
@as_option
def consent_give(case_id, given_on, username):
    """Record that the case's client signed the statement its process declares."""
    runtime = _runtime()
    _out(consent.give(runtime, _actor(runtime, username), case_id, given_on))


@consent_group.command("withdraw")
@click.argument("consent_id", type=int)
@click.option("--on", "withdrawn_on", required=True, help="the day the person withdrew it (YYYY-MM-DD)")
@click.option("--reason", required=True, help="how the person withdrew it (e.g. their letter); kept in the audit")
@as_option
def consent_withdraw(consent_id, withdrawn_on, reason, username):
    """Record a withdrawal: every case the consent covered takes no further step from then."""
    runtime = _runtime()
    _out(consent.withdraw(runtime, _actor(runtime, username), consent_id, withdrawn_on, reason))


@consent_group.command("expiring")
@click.option("--days", type=int, default=consent.EXPIRING_DAYS, show_default=True,
              help="list consents that expire within this many days (and those no longer in force)")
@as_option
def consent_expiring(days, username):
    """Running cases whose consent expires soon, or was withdrawn, expired or never recorded."""
    runtime = _runtime()
    _out(consent.expiring(runtime, _actor(runtime, username), days))
