"""How dates, times and names are shown: YYYY.MM.DD in Hungarian, ISO in English, times in Budapest time."""
from __future__ import annotations

import datetime as dt

from .i18n import N_
from .i18n import gettext as translate

LOCAL_ZONE: dt.tzinfo
try:
    from zoneinfo import ZoneInfo

    LOCAL_ZONE = ZoneInfo("Europe/Budapest")
except Exception:  # no time-zone database on this machine: show UTC rather than fail
    LOCAL_ZONE = dt.timezone.utc

ROLE_NAMES = {
    "caseworker": N_("Caseworker"),
    "professional_lead": N_("Professional lead"),
    "process_designer": N_("Process designer"),
    "manager": N_("Manager"),
    "administrator": N_("Administrator"),
    "data_protection_officer": N_("Data protection officer"),
}


def _lang() -> str:
    from .labels import lang

    return lang()


def _parse(value):
    if value is None or value == "":
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    text = str(value)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None


def local(value) -> dt.datetime | None:
    parsed = _parse(value)
    if not isinstance(parsed, dt.datetime):
        return None
    return _in_local_zone(parsed)


def _in_local_zone(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(LOCAL_ZONE)


def date(value) -> str:
    parsed = _parse(value)
    if parsed is None:
        return "" if value is None else str(value)
    if isinstance(parsed, dt.datetime):
        parsed = _in_local_zone(parsed).date()
    return parsed.strftime("%Y.%m.%d") if _lang() == "hu" else parsed.isoformat()


def datetime_(value) -> str:
    moment = local(value)
    if moment is None:
        return date(value)
    return moment.strftime("%Y.%m.%d %H:%M") if _lang() == "hu" else moment.strftime("%Y-%m-%d %H:%M")


def role_name(code: str) -> str:
    return translate(ROLE_NAMES[code]) if code in ROLE_NAMES else code


NBSP = "\u00a0"


def number(value) -> str:
    """A whole number as the page's language writes it: in Hungarian, numbers of five digits or more grouped by
    threes with a (no-break) space, as Hungarian typography has it (12 345; 1234 stays whole); in English with
    commas (12,345)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return "" if value is None else str(value)
    if _lang() == "hu":
        return f"{value:,}".replace(",", NBSP) if abs(value) >= 10000 else str(value)
    return f"{value:,}"
