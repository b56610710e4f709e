"""The warnings a command returns (a limit a service sets, passed), worded in the reader's language.

The engine returns each warning as its code — the kind of the audit event that records it — and its figures
(engine/timers/caseload.py, engine/timers/time_limits.py); the caseload's label comes {hu, en} from the service's
manifest. The sentence is made here, so a page never shows the other language's half.
"""
from __future__ import annotations

from .formatting import date
from .i18n import gettext as translate
from .labels import text


def _capitalised(words: str) -> str:
    return words[:1].upper() + words[1:]


def say(warning) -> str:
    """One warning as a sentence in the reader's language."""
    if not isinstance(warning, dict):
        return str(warning)
    code = warning.get("code")
    label = text(warning.get("label"))
    if code == "caseload_limit_exceeded":
        return translate("%(count)d %(label)s: the service allows at most %(limit)d at a time.",
                         count=warning.get("active", 0), label=label or translate("clients"),
                         limit=warning.get("limit", 0))
    if code == "time_limit_exceeded":
        return translate("%(label)s: %(minutes)d minutes in the week %(first)s – %(last)s; the service allows at "
                         "most %(limit)d minutes a week.",
                         label=_capitalised(label or translate("time with one client")),
                         minutes=warning.get("minutes", 0), first=date(warning.get("week_start")),
                         last=date(warning.get("week_end")), limit=warning.get("limit", 0))
    return translate("A limit the service sets was passed.")
