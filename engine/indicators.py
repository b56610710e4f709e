"""The indicators of seed 003 (I1–I17 of DOMAIN.md section 4), as queries over the case-fact rows.

Every figure is an aggregate over indexed rows (``report_models``), never a walk over workflows; a handful of
grouped queries give the whole report with its breakdowns. Definitions and every interpretation are in
docs/indicators.md, next to the seed's Hungarian wording. A share whose denominator is 0 is ``None`` (shown "—").
"""
from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, distinct, func, literal_column, or_, select, text, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from . import access, clock
from .errors import Forbidden, ValidationFailed
from .models import Case, Intake, ProcessDefinition, User
from .report_models import CaseAction, CaseFact, CaseMeeting, CaseProblemType
from .users import ADMINISTRATOR, CASEWORKER, MANAGER, PROFESSIONAL_LEAD, Actor

REPORT_ROLES = {CASEWORKER, PROFESSIONAL_LEAD, MANAGER, ADMINISTRATOR}
# Who may list clients by name (I5's "a list by name is recommended"); a caseworker sees codes only.
NAME_ROLES = {PROFESSIONAL_LEAD, MANAGER}

# id → (unit, Hungarian name as in the seed, English); the order is the seed's row order.
DEFINITIONS = {
    "I1": ("pcs", "Családgondozási folyamatok száma adott időintervallumban",
           "Family-care processes in the interval"),
    "I2": ("persons", "Családgondozói szolgáltatást igénybe vevő kliensek száma adott időintervallumban",
           "Clients using family care in the interval"),
    "I3": ("persons", "Új kliensek száma (esetfelvétel 3. Új/Régi)", "New clients among them (intake 3)"),
    "I4": ("HUF", "Családgondozói tevékenységben résztvevő kliensek családjában egy főre jutó havi átlagjövedelem",
           "Average monthly per-capita family income of participants"),
    "I5": ("pcs, %", "Adott jövedelemhatárok között élő családok száma és aránya",
           "Families within the given income bands, and their share"),
    "I6": ("persons", "Családgondozói szolgáltatást igénybe vevők száma megállapodás és probléma szerinti bontásban",
           "Users by agreement and problem type"),
    "I7": ("%", "Családgondozói szolgáltatást igénybe vevők aránya megállapodás és probléma szerinti bontásban",
           "Share of users by agreement and problem type"),
    "I8": ("%", "Családgondozói szolgáltatást igénybe vevő új kliensek aránya", "Share of new clients"),
    "I17": ("%", "Családgondozói szolgáltatást felkeresők aránya probléma szerinti bontásban",
            "Share of those seeking family care, by problem type"),
    "I9": ("%", "Családgondozási folyamatok aránya a szolgálatot felkeresők számához képest",
           "Family-care processes relative to all who sought the service"),
    "I10": ("pcs", "Találkozások száma a kliensekkel adott időintervallumban", "Meetings with clients in the interval"),
    "I11": ("pcs", "Intézkedések száma a kliensekkel adott időintervallumban", "Actions in the interval"),
    "I12": ("days/process", "Családgondozási folyamatok átlagos hossza (családgondozónként is)",
            "Average length of family-care processes (also per caseworker)"),
    "I13": ("pcs", "Lezárt esetek száma a lezárás indoka szerint", "Closed cases by closure reason"),
    "I14": ("%", "Lezárt esetek aránya a lezárás indoka szerint", "Share of closures by reason"),
    "I15": ("persons", "Utánkövetésben részt vevők száma", "Clients taking part in follow-up"),
    "I16": ("%", "Utánkövetésben részt vevők aránya a lezárt esetekhez viszonyítva",
            "Share of follow-up among closed cases"),
}
# Indicators whose figure is a table: the breakdown that holds it.
BREAKDOWN_OF = {"I5": "income_bands", "I6": "problem_types", "I7": "problem_types", "I17": "problem_types",
                "I13": "closure_reasons", "I14": "closure_reasons"}


@dataclass(frozen=True)
class Band:
    """An income band for I5: per-capita income ``low <= x < high`` (an open end is None)."""

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
            raise ValidationFailed(f"income band {n + 1} '{part}' must read 'low-high' in HUF with low < high "
                                   f"(one end may be left open, e.g. '100000-')",
                                   [{"field": "bands", "message": f"band {n + 1}: '{part}'"}])
        bands.append(band)
    return bands


def parse_request(date_from, date_to, caseworker_id=None, process_key=None, bands=None) -> ReportRequest:
    """A request from text (CLI, API, web form); a bad value is refused naming its field."""
    def day(name, value):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).replace(".", "-"))
        except ValueError:
            raise ValidationFailed(f"'{name}' must be a date YYYY-MM-DD, not '{value}'",
                                   [{"field": name, "message": "not a date"}]) from None
    start, end = day("from", date_from), day("to", date_to)
    if start > end:
        raise ValidationFailed(f"the period starts ({start}) after it ends ({end})",
                               [{"field": "from", "message": "after 'to'"}])
    if caseworker_id in ("", None):
        caseworker_id = None
    elif not str(caseworker_id).isdigit():
        raise ValidationFailed(f"'caseworker' must be a user id, not '{caseworker_id}'",
                               [{"field": "caseworker", "message": "not a user id"}])
    band_list = bands if isinstance(bands, list) else parse_bands(bands)
    return ReportRequest(start, end, int(caseworker_id) if caseworker_id is not None else None,
                         process_key or None, band_list)


def authorise(actor: Actor, req: ReportRequest) -> ReportRequest:
    """A caseworker sees their own figures only; overseers see anyone's."""
    access.require_role(actor, *sorted(REPORT_ROLES))
    if actor.role_codes & (access.OVERSEERS | {MANAGER}):
        return req
    if req.caseworker_id not in (None, actor.id):
        raise Forbidden("a caseworker sees only their own figures")
    req.caseworker_id = actor.id
    return req


def may_see_names(actor: Actor) -> bool:
    return bool(actor.role_codes & NAME_ROLES)


def _num(value, kind):
    return kind(value) if value is not None else None


def share(part, whole) -> float | None:
    return None if not whole else round(100.0 * float(part or 0) / float(whole), 2)


def ratio(part, whole, digits: int = 2) -> float | None:
    return None if not whole else round(float(part or 0) / float(whole), digits)


# ---- the sets of cases the definitions speak of --------------------------------------------------------------

def fact_filters(req: ReportRequest, table=CaseFact) -> list:
    found = []
    if req.caseworker_id is not None:
        found.append(table.caseworker_id == req.caseworker_id)
    if req.process_key:
        found.append(table.process_key == req.process_key)
    return found


def in_care(req: ReportRequest, table=CaseFact) -> list:
    """I1's set: taken into care by the end of the period and not closed before its start."""
    return [unindexed(table.taken_into_care) <= req.date_to,
            or_(table.closure_date.is_(None), unindexed(table.closure_date) >= req.date_from),
            *fact_filters(req, table)]


def closed_in(req: ReportRequest) -> list:
    return [CaseFact.closure_date >= req.date_from, CaseFact.closure_date <= req.date_to, *fact_filters(req)]


class unindexed(FunctionElement):
    """A column the SQLite planner must not pick an index for (``+column``); the column itself elsewhere.

    I1's set is most of the table for any period of a year or more, and its 'not closed before the start' half
    cannot use an index: SQLite's planner would still walk the taken-into-care index and visit every row
    through it, several times slower than reading the table. PostgreSQL's planner weighs this itself."""

    inherit_cache = True

    def __init__(self, column):
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.clauses, **kw)


def band_condition(band: Band):
    parts = [CaseFact.per_capita_income.is_not(None)]
    if band.low is not None:
        parts.append(CaseFact.per_capita_income >= band.low)
    if band.high is not None:
        parts.append(CaseFact.per_capita_income < band.high)
    return and_(*parts)


def service_zone() -> ZoneInfo:
    """The service's time zone: a day of the period is a day there (intakes are stored as UTC instants)."""
    return ZoneInfo(os.environ.get("SEGITO_TIMEZONE", "Europe/Budapest"))


def period_instants(req: ReportRequest) -> tuple[dt.datetime, dt.datetime]:
    """The period's days in the service's time zone, as UTC instants [start, end)."""
    tz = service_zone()
    start = dt.datetime.combine(req.date_from, dt.time(), tz)
    end = dt.datetime.combine(req.date_to + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def _month(session, column):
    if session.get_bind().dialect.name == "postgresql":
        # A literal, not a parameter: PostgreSQL must see the select and the GROUP BY as the same expression.
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.substr(column, 1, 7)  # SQLite stores dates as 'YYYY-MM-DD'


# ---- the report ------------------------------------------------------------------------------------------------

def compute(session, req: ReportRequest) -> dict:
    """Every indicator of the period, with its breakdowns (no authorisation: see ``report``)."""
    if session.get_bind().dialect.name == "postgresql":
        # The distinct-client counts sort tens of thousands of rows; PostgreSQL's default 4 MB of sort memory
        # sends them to disk at 100,000 cases. For this read transaction only.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    new_client = case((CaseFact.client_status == "new", CaseFact.client_id))
    counted = CaseFact.per_capita_income.is_not(None)
    columns = [func.count(), func.count(distinct(CaseFact.client_id)), func.count(distinct(new_client)),
               func.sum(case((counted, CaseFact.total_income))), func.sum(case((counted, CaseFact.household_size))),
               func.avg(CaseFact.per_capita_income)]
    columns += [func.sum(case((band_condition(b), 1), else_=0)) for b in req.bands]
    row = session.execute(select(*columns).where(*in_care(req))).one()
    i1, i2, i3 = row[:3]
    # PostgreSQL sums integers as NUMERIC: plain numbers for JSON and arithmetic.
    income, persons = _num(row[3], int), _num(row[4], int)
    mean_pc = _num(row[5], float)
    band_counts = [int(v or 0) for v in row[6:]]

    problems = _problem_types(session, req)
    intakes = _intakes(session, req)
    meetings = _dated(session, req, CaseMeeting, CaseMeeting.met_on)
    actions = _dated(session, req, CaseAction, CaseAction.acted_on)
    closures = _closures(session, req)
    per_caseworker = _per_caseworker(session, req, meetings, actions, closures)
    months = _months(session, req, meetings, actions, closures)

    value = {
        "I1": i1, "I2": i2, "I3": i3,
        "I4": ratio(income, persons), "I8": share(i3, i2), "I9": share(i1, intakes),
        "I10": meetings["total"], "I11": actions["total"],
        "I12": ratio(closures["days"], closures["total"]), "I15": closures["follow_up_persons"],
        "I16": share(closures["follow_up_persons"], closures["total"]),
    }
    extra = {"I4": {"mean_of_per_capita": round(mean_pc, 2) if mean_pc is not None else None,
                    "income_sum": income, "persons_sum": persons},
             "I9": {"intakes": intakes}, "I12": {"closures": closures["total"], "days": closures["days"]},
             "I16": {"closures": closures["total"]}}
    indicators = []
    for key, (unit, hu, en) in DEFINITIONS.items():
        item = {"id": key, "unit": unit, "label": {"hu": hu, "en": en}, "value": value.get(key),
                "breakdown": BREAKDOWN_OF.get(key)}
        item.update(extra.get(key, {}))
        indicators.append(item)
    return {
        "period": {"from": req.date_from.isoformat(), "to": req.date_to.isoformat()},
        "caseworker_id": req.caseworker_id, "process_key": req.process_key,
        "computed_at": clock.now().isoformat(),
        "indicators": indicators,
        "breakdowns": {
            "income_bands": [{"key": str(n), "label": b.label(), "low": b.low, "high": b.high,
                              "families": band_counts[n], "share": share(band_counts[n], i1)}
                             for n, b in enumerate(req.bands)],
            "problem_types": [dict(p, share_persons=share(p["persons"], i1),
                                   share_with_agreement=share(p["persons_with_agreement"], i1),
                                   share_without_agreement=share(p["persons_without_agreement"], i1),
                                   share_processes=share(p["processes"], i1)) for p in problems],
            "closure_reasons": [{"key": r, "closures": n, "share": share(n, closures["total"])}
                                for r, n in sorted(closures["by_reason"].items())],
            "caseworkers": per_caseworker,
            "months": months,
        },
    }


def _problem_types(session, req: ReportRequest) -> list[dict]:
    """I6/I7/I17 from the problem-type rows alone (they carry the case's period facts and client): grouped by
    problem type in the order of their index, whose next column is the client, so distinct clients are counted
    without a join or a sort."""
    rows, agreed = CaseProblemType, CaseProblemType.agreed.is_(True)
    query = select(rows.problem_type, func.count(distinct(rows.client_id)),
                   func.count(distinct(case((agreed, rows.client_id)))),
                   func.count(distinct(case((~agreed, rows.client_id)))), func.count()) \
        .where(*in_care(req, rows)).group_by(rows.problem_type).order_by(rows.problem_type)
    return [{"key": key, "persons": persons, "persons_with_agreement": with_a,
             "persons_without_agreement": without_a, "processes": processes}
            for key, persons, with_a, without_a, processes in session.execute(query)]


def _intakes(session, req: ReportRequest) -> int:
    start, end = period_instants(req)
    query = select(func.count()).select_from(Intake).where(Intake.taken_at >= start, Intake.taken_at < end)
    if req.caseworker_id is not None:
        query = query.join(Case, Case.id == Intake.case_id).where(Case.caseworker_id == req.caseworker_id)
    return session.execute(query).scalar() or 0


def _dated(session, req: ReportRequest, table, on) -> dict:
    """Entries (meetings or actions) dated in the period, by caseworker and month.

    Grouped by day and caseworker, the order of the (date, caseworker) index, so the database streams the
    index without sorting; the days are summed into months here (at most 366 × caseworkers rows a year)."""
    # The day as it is stored (SQLite: text), not parsed into a date per row: only its month is used.
    rows = session.execute(select(type_coerce(on, String), table.caseworker_id, func.count())
                           .where(on >= req.date_from, on <= req.date_to, *fact_filters(req, table))
                           .group_by(on, table.caseworker_id)).all()
    by_cw, by_month = defaultdict(int), defaultdict(int)
    for day, cw, n in rows:
        by_cw[cw] += n
        by_month[str(day)[:7]] += n
    return {"total": sum(by_cw.values()), "by_caseworker": by_cw, "by_month": by_month}


def _closures(session, req: ReportRequest) -> dict:
    rows = session.execute(select(CaseFact.caseworker_id, CaseFact.closure_reason, func.count(),
                                  func.sum(CaseFact.care_days), _month(session, CaseFact.closure_date))
                           .where(*closed_in(req))
                           .group_by(CaseFact.caseworker_id, CaseFact.closure_reason,
                                     _month(session, CaseFact.closure_date))).all()
    result = {"total": 0, "days": 0, "by_reason": defaultdict(int), "by_caseworker": defaultdict(lambda: [0, 0]),
              "by_month": defaultdict(int)}
    for cw, reason, n, days, m in rows:
        result["total"] += n
        days = int(days or 0)
        result["days"] += days
        result["by_reason"][reason or "unknown"] += n
        result["by_caseworker"][cw][0] += n
        result["by_caseworker"][cw][1] += days
        result["by_month"][m] += n
    result["follow_up_persons"] = session.execute(
        select(func.count(distinct(CaseFact.client_id))).where(*closed_in(req), CaseFact.follow_up.is_(True))
    ).scalar() or 0
    return result


def _per_caseworker(session, req: ReportRequest, meetings: dict, actions: dict, closures: dict) -> list[dict]:
    rows = session.execute(select(CaseFact.caseworker_id, func.count(), func.count(distinct(CaseFact.client_id)))
                           .where(*in_care(req)).group_by(CaseFact.caseworker_id)).all()
    processes = {cw: (n, clients) for cw, n, clients in rows}
    ids = set(processes) | set(meetings["by_caseworker"]) | set(actions["by_caseworker"]) \
        | set(closures["by_caseworker"])
    names = dict(session.execute(select(User.id, User.display_name)
                                 .where(User.id.in_([i for i in ids if i is not None]))).all()) if ids else {}
    result = []
    for cw in sorted(ids, key=lambda i: (names.get(i) or "", i or 0)):
        n, clients = processes.get(cw, (0, 0))
        closed, days = closures["by_caseworker"].get(cw, (0, 0))
        result.append({"key": str(cw) if cw is not None else "", "caseworker_id": cw,
                       "name": names.get(cw, "—"), "processes": n, "clients": clients,
                       "meetings": meetings["by_caseworker"].get(cw, 0), "actions": actions["by_caseworker"].get(cw, 0),
                       "closures": closed, "average_days": ratio(days, closed)})
    return result


def _months(session, req: ReportRequest, meetings: dict, actions: dict, closures: dict) -> list[dict]:
    # By day, the order of the taken-into-care index (no sort); the days are summed into months here.
    taken = defaultdict(int)
    for day, n in session.execute(select(type_coerce(CaseFact.taken_into_care, String), func.count())
                                  .where(CaseFact.taken_into_care >= req.date_from,
                                         CaseFact.taken_into_care <= req.date_to, *fact_filters(req))
                                  .group_by(CaseFact.taken_into_care)):
        taken[str(day)[:7]] += n
    closed = closures["by_month"]
    result, day = [], req.date_from.replace(day=1)
    while day <= req.date_to:
        key = f"{day.year:04d}-{day.month:02d}"
        result.append({"key": key, "taken_into_care": taken.get(key, 0), "closures": closed.get(key, 0),
                       "meetings": meetings["by_month"].get(key, 0), "actions": actions["by_month"].get(key, 0)})
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return result


def report(runtime, actor: Actor, req: ReportRequest) -> dict:
    """The report as the actor may see it, with the option labels of the process's own forms."""
    req = authorise(actor, req)
    with runtime.db.reading() as session:
        result = compute(session, req)
        result["labels"] = option_labels(runtime, session, req.process_key)
        result["names_allowed"] = may_see_names(actor)
    return result


def caseworker_choices(runtime) -> list[tuple[int, str]]:
    """Active caseworkers, for the report form's caseworker filter."""
    from .models import UserRole

    with runtime.db.reading() as session:
        return session.execute(select(User.id, User.display_name).join(UserRole, UserRole.user_id == User.id)
                               .where(UserRole.role == CASEWORKER, User.active.is_(True))
                               .order_by(User.display_name)).all()


def process_choices(runtime) -> list[str]:
    """The processes that have indicator rows (the form's process filter)."""
    with runtime.db.reading() as session:
        return sorted(session.execute(select(CaseFact.process_key).distinct()).scalars())


def option_labels(runtime, session, process_key: str | None) -> dict:
    """Bilingual labels of problem types (field 6) and closure reasons (field 53), from the newest version."""
    key = process_key or "family_care"
    definition_id = session.execute(select(ProcessDefinition.id).where(ProcessDefinition.process_key == key)
                                    .order_by(ProcessDefinition.version.desc()).limit(1)).scalar()
    labels = {"problem_types": {}, "closure_reasons": {}}
    if definition_id is None:
        return labels
    for form in runtime.definition(session, definition_id).forms.values():
        for prop in (form.schema.get("properties") or {}).values():
            target = {6: "problem_types", 53: "closure_reasons"}.get(prop.get("x-seed-field"))
            if target and prop.get("x-options"):
                labels[target].update(prop["x-options"])
    return labels
