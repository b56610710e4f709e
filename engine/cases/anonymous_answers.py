"""Storing the answer of an anonymous questionnaire (docs/forms.md, "Anonymous questionnaires").

The answer leaves the case here: the step that showed the questionnaire is completed with no data, and the answer
is written as a row with no case, client, task, user or exact time, only the package and questionnaire keys, a
coarse period and, when the questionnaire pairs a start with a close answer, a keyed hash of the respondent's own
code. The audit log says that an answer was given, at which step, never what it was.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select

from ..forms.anonymous import Anonymous, normalised_code, period_of
from ..store.models import AnonymousAnswer, AnonymousPairingKey


def _pairing_secret(session, package_key: str, group: str) -> str:
    row = session.get(AnonymousPairingKey, (package_key, group))
    if row is None:
        row = AnonymousPairingKey(package_key=package_key, pair_group=group, secret=secrets.token_hex(32))
        session.add(row)
        session.flush()
    return row.secret


def pair_hash(session, package_key: str, group: str, code: str) -> str:
    """The stored form of a pairing code: an HMAC with the group's secret, so the code itself is never stored."""
    secret = _pairing_secret(session, package_key, group)
    return hmac.new(bytes.fromhex(secret), normalised_code(code).encode("utf-8"), hashlib.sha256).hexdigest()


def record(session, package_key: str, mark: Anonymous, answers: dict, today: dt.date) -> None:
    """Write one answer. ``answers`` is the validated submission; the pairing code leaves it as its hash."""
    kept = dict(answers)
    code = kept.pop(mark.pair_field, None) if mark.pair_field else None
    first, last = period_of(today, mark.period)
    session.add(AnonymousAnswer(
        id=secrets.token_hex(16), package_key=package_key, questionnaire=mark.questionnaire,
        period_start=first, period_end=last,
        pair_group=mark.pair_group if code else None, pair_moment=mark.pair_moment if code else None,
        pair_hash=pair_hash(session, package_key, mark.pair_group, code) if code and mark.pair_group else None,
        answers=kept))


def count(session, package_key: str, questionnaire: str) -> int:
    """How many answers a questionnaire has (for tests and the catalogue; no content)."""
    return len(session.execute(select(AnonymousAnswer.id).where(
        AnonymousAnswer.package_key == package_key, AnonymousAnswer.questionnaire == questionnaire)).all())
