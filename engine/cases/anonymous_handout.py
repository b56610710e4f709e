"""Handing an anonymous questionnaire to the client, to answer on their own device (docs/forms.md, "Handing a
questionnaire to the client").

Instead of answering the step's anonymous questionnaire on the worker's device, the worker completes the step by
handing it out: the engine makes a one-time link with an unguessable token (256 random bits), shows it once, and
keeps only its SHA-256 — beside the package, the questionnaire, the form to show, the day it expires and whether
it was used. Nothing ties the link to the case: no case, client, task, user or exact time is kept with it, and the
answer given through it is stored as any anonymous answer (engine/cases/anonymous_answers.py), with nothing of the
link. How many links were handed out and how many used may be known; which answer came from which link may not.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy import func, select, update

from ..errors import Gone, NotFound
from ..forms.anonymous import Anonymous
from ..sandbox.calendar_helpers import local_date
from ..store import clock
from ..store.models import AnonymousInvitation
from . import anonymous_answers

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue(session, package_key: str, mark: Anonymous, definition_id: int, form_file: str, today: dt.date) -> dict:
    """A new one-time link's token (returned once, never stored) and the last day it may be used."""
    token = secrets.token_urlsafe(32)
    expires_on = today + dt.timedelta(days=mark.hand_out_days)
    session.add(AnonymousInvitation(token_hash=_hash(token), package_key=package_key,
                                    questionnaire=mark.questionnaire, definition_id=definition_id,
                                    form_file=form_file, expires_on=expires_on, used=False))
    return {"token": token, "expires_on": expires_on.isoformat()}


def _usable(session, token: str) -> AnonymousInvitation:
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise NotFound("no such questionnaire link")
    row = session.get(AnonymousInvitation, _hash(token))
    if row is None:
        raise NotFound("no such questionnaire link")
    if row.used:
        raise Gone("this questionnaire link has already been used: it can be used once")
    if row.expires_on < local_date(clock.now()):
        raise Gone(f"this questionnaire link expired on {row.expires_on.isoformat()}")
    return row


def open_link(runtime, token: str) -> dict:
    """The questionnaire a usable link shows: its form (the schema) and the last day it may be answered."""
    with runtime.db.reading() as session:
        row = _usable(session, token)
        view = runtime.definition(session, row.definition_id)
        form = view.forms[row.form_file]
        return {"form": form.schema, "expires_on": row.expires_on.isoformat(), "questionnaire": row.questionnaire}


def answer(runtime, token: str, data) -> None:
    """Store the answer given through a link and use the link up, in one transaction: of two submissions with
    the same link exactly one is stored (the other finds it used: Gone)."""
    with runtime.db.command() as session:
        row = _usable(session, token)
        view = runtime.definition(session, row.definition_id)
        form = view.forms[row.form_file]
        clean = form.validate(data, context={})
        used = session.execute(update(AnonymousInvitation).where(
            AnonymousInvitation.token_hash == row.token_hash, AnonymousInvitation.used.is_(False))
            .values(used=True)).rowcount
        if used != 1:
            raise Gone("this questionnaire link has already been used: it can be used once")
        anonymous_answers.record(session, row.package_key, form.anonymous, clean, local_date(clock.now()))


def counts(session, package_key: str, questionnaire: str) -> dict:
    """Links handed out and links used (answered) of a questionnaire: the only thing known about them."""
    rows = session.execute(select(AnonymousInvitation.used, func.count()).where(
        AnonymousInvitation.package_key == package_key, AnonymousInvitation.questionnaire == questionnaire)
        .group_by(AnonymousInvitation.used)).all()
    by = {bool(used): n for used, n in rows}
    return {"handed_out": sum(by.values()), "answered": by.get(True, 0)}
