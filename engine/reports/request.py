"""What a report is asked for and who may ask: the period, the filters and bands, parsed from text with errors
that name the field; the authorisation a report's ``access`` declares; shares and ratios with "—" for 0."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from ..errors import Forbidden, ValidationFailed
from ..forms.input_check import is_id
from ..people.users import Actor

# Who reads a report that does not say (docs/reports.md, "access").
DEFAULT_ACCESS = {"read": ["caseworker", "professional_lead", "manager", "administrator"], "own": ["caseworker"],
                  "names": ["professional_lead", "manager"]}


@dataclass(frozen=True)
class Band:
    """A band of a number (``low <= x < high``; an open end is None), e.g. a per-capita income."""

    low: float | None
    high: float | None

    def label(self) -> str:
        fmt = lambda v: f"{v:,.0f}".replace(",", " ")  # noqa: E731
        return f"{fmt(self.low) if self.low is not None else ''}–{fmt(self.high) if self.high is not None else ''}"


@dataclass
class ReportRequest:
    date_from: dt.date
    date_to: dt.date
    caseworker_id: int | None = None
    process_key: str | None = None
    bands: list[Band] = field(default_factory=list)


def parse_bands(text: str | None) -> list[Band]:
    """'0-50000, 50000-100000, 100000-' → bands; any number of them, each 'low-high' with one end optional."""
    bands = []
    for n, part in enumerate(p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        low, sep, high = part.partition("-")
        try:
            band = Band(float(low) if low.strip() else None, float(high) if high.strip() else None)
        except ValueError:
            band = None
        if not sep or band is None or (band.low is None and band.high is None) \
                or (band.low is not None and band.high is not None and band.low >= band.high):
            raise ValidationFailed(f"band {n + 1} '{part}' must read 'low-high' with low < high "
                                   f"(one end may be left open, e.g. '100000-')",
                                   [{"field": "bands", "message": f"band {n + 1}: '{part}'"}])
        bands.append(band)
    return bands


# The days a period may name: the audit log's open ends. Beyond them a period's last day plus one, or the month
# after it, is past what Python's dates hold (year 9999), and no service's records are there.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
# A report's tables split by month or quarter compute every sub-period: 50 years is 600 months, about two seconds
# on the demo data; 8,000 years would keep a worker busy for hours.
MAX_PERIOD_YEARS = 50


def parse_request(date_from, date_to, caseworker_id=None, process_key=None, bands=None,
                  max_years: int | None = MAX_PERIOD_YEARS) -> ReportRequest:
    """A request from text (CLI, API, web form); a bad value is refused naming its field. ``max_years``: the
    longest period (None: any within ``FIRST_DAY``–``LAST_DAY``, for a filter that splits nothing)."""
    def day(name, value):
        if isinstance(value, dt.date):
            found = value
        else:
            try:
                found = dt.date.fromisoformat(str(value).replace(".", "-"))
            except ValueError:
                raise ValidationFailed(f"'{name}' must be a date YYYY-MM-DD, not '{str(value)[:40]}'",
                                       [{"field": name, "message": "not a date"}]) from None
        if not FIRST_DAY <= found <= LAST_DAY:
            raise ValidationFailed(f"'{name}' must be a day from {FIRST_DAY} to {LAST_DAY}, not {found}",
                                   [{"field": name, "message": f"not from {FIRST_DAY} to {LAST_DAY}"}])
        return found
    start, end = day("from", date_from), day("to", date_to)
    if start > end:
        raise ValidationFailed(f"the period starts ({start}) after it ends ({end})",
                               [{"field": "from", "message": "after 'to'"}])
    if max_years is not None and (end.year - start.year, end.month, end.day) >= (max_years, start.month, start.day):
        raise ValidationFailed(f"the period ({start} to {end}) is longer than {max_years} years",
                               [{"field": "to", "message": f"more than {max_years} years after 'from'"}])
    if caseworker_id in ("", None):
        caseworker_id = None
    elif not is_id(str(caseworker_id)):
        raise ValidationFailed(f"'caseworker' must be a user id, not '{caseworker_id}'",
                               [{"field": "caseworker", "message": "not a user id"}])
    band_list = bands if isinstance(bands, list) else parse_bands(bands)
    return ReportRequest(start, end, int(caseworker_id) if caseworker_id is not None else None,
                         process_key or None, band_list)


def report_key(typed: str) -> str:
    """A report's key as typed in an address or on the command line: a key has no hyphens (docs/reports.md), so
    ``a-report`` is read as ``a_report`` (a report's old address, written with hyphens, keeps working)."""
    return typed.strip().replace("-", "_")


def may_read(actor: Actor, access: dict) -> bool:
    return bool(actor.role_codes & set(access["read"]))


def authorise(actor: Actor, req: ReportRequest, access: dict) -> ReportRequest:
    """The roles of ``access.read`` may read the report; one whose only such roles are in ``access.own`` sees
    their own cases' figures only (asking for another's is refused)."""
    readers = actor.role_codes & set(access["read"])
    if not readers:
        raise Forbidden(f"this report is for the roles: {', '.join(access['read'])}")
    if readers - set(access["own"]):
        return req
    if req.caseworker_id not in (None, actor.id):
        raise Forbidden("a caseworker sees only their own figures")
    # A new request: the caller's may be asked again on behalf of someone who reads everyone's figures.
    return replace(req, caseworker_id=actor.id)


def may_see_names(actor: Actor, access: dict) -> bool:
    return bool(actor.role_codes & set(access["names"]))


def rounded(value: float | None, digits: int = 2) -> float | None:
    """Half away from zero on the decimal digits shown (binary floats round 0.xx5 either way), so equal amounts
    computed two ways show equal."""
    if value is None:
        return None
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def share(part, whole, digits: int = 2) -> float | None:
    return None if not whole else rounded(100.0 * float(part or 0) / float(whole), digits)


def ratio(part, whole, digits: int = 2) -> float | None:
    return None if not whole else rounded(float(part or 0) / float(whole), digits)


def service_zone() -> ZoneInfo:
    """The service's time zone: a day of the period is a day there (moments are stored as UTC instants)."""
    return ZoneInfo(os.environ.get("SEGITO_TIMEZONE", "Europe/Budapest"))


def period_instants(req: ReportRequest) -> tuple[dt.datetime, dt.datetime]:
    """The period's days in the service's time zone, as UTC instants [start, end)."""
    tz = service_zone()
    start = dt.datetime.combine(req.date_from, dt.time(), tz)
    end = dt.datetime.combine(req.date_to + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
