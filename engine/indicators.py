"""The indicators of seed 003 (I1–I17 of DOMAIN.md section 4), as queries over the case-fact rows.

Every figure is an aggregate over indexed rows (``report_models``), never a walk over workflows; a handful of
grouped queries give the whole report with its breakdowns. Definitions and every interpretation are in
docs/indicators.md, next to the seed's Hungarian wording. A share whose denominator is 0 is ``None`` (shown "—").

The request, its parsing and authorisation are in ``engine/report_request.py``, the statements in
``engine/indicator_queries.py``; this module puts the report together. The names other modules use are
re-exported here.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, distinct, func, select, text

from .indicator_queries import (
    band_condition,
    closed_in,
    closures,
    dated,
    fact_filters,
    in_care,
    intakes,
    months,
    per_caseworker,
    problem_types,
    unindexed,
)
from .people.users import CASEWORKER, Actor
from .report_models import CaseAction, CaseFact, CaseMeeting
from .report_request import (
    NAME_ROLES,
    REPORT_ROLES,
    Band,
    ReportRequest,
    authorise,
    may_see_names,
    parse_bands,
    parse_request,
    period_instants,
    ratio,
    service_zone,
    share,
)
from .store import clock
from .store.models import ProcessDefinition, User

__all__ = ["DEFINITIONS", "BREAKDOWN_OF", "NAME_ROLES", "REPORT_ROLES", "Band", "ReportRequest", "authorise",
           "band_condition", "caseworker_choices", "closed_in", "compute", "fact_filters", "in_care",
           "may_see_names", "option_labels", "parse_bands", "parse_request", "period_instants", "process_choices",
           "ratio", "report", "service_zone", "share", "unindexed"]

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


def round_huf(value: float | None) -> float | None:
    """An amount in HUF to two decimals, half away from zero on the decimal digits shown: I4 and the mean beside
    it are rounded by this one rule, so equal amounts show equal (binary floats round 0.xx5 either way)."""
    if value is None:
        return None
    return float(Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _num(value, kind):
    return kind(value) if value is not None else None


def compute(session, req: ReportRequest) -> dict:
    """Every indicator of the period, with its breakdowns (no authorisation: see ``report``)."""
    if session.get_bind().dialect.name == "postgresql":
        # The distinct-client counts sort tens of thousands of rows; PostgreSQL's default 4 MB of sort memory
        # sends them to disk at 100,000 cases. For this read transaction only.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    # Conditional aggregates as FILTER clauses, not CASE expressions: a row that does not qualify is skipped
    # instead of feeding a NULL to the aggregate (SQLite, 100,000 cases: a tenth of this statement's time).
    counted = CaseFact.per_capita_income.is_not(None)
    columns: list[ColumnElement] = [func.count(), func.count(distinct(CaseFact.client_id)),
               func.count(distinct(CaseFact.client_id)).filter(CaseFact.client_status == "new"),
               func.sum(CaseFact.total_income).filter(counted), func.sum(CaseFact.household_size).filter(counted),
               # The mean of the per-capita incomes from fields 39 and 7 themselves, not from field 40 as stored
               # (already rounded to fillér): rounding twice made it differ from I4 by 0.01 where they are equal.
               func.avg(CaseFact.total_income * 1.0 / CaseFact.household_size)
               .filter(counted, CaseFact.household_size > 0)]
    columns += [func.count().filter(band_condition(b)) for b in req.bands]
    row = session.execute(select(*columns).where(*in_care(req))).one()
    i1, i2, i3 = row[:3]
    # PostgreSQL sums integers as NUMERIC: plain numbers for JSON and arithmetic.
    income, persons = _num(row[3], int), _num(row[4], int)
    mean_pc = _num(row[5], float)
    band_counts = [int(v or 0) for v in row[6:]]

    problems = problem_types(session, req)
    intake_count = intakes(session, req)
    meetings = dated(session, req, CaseMeeting, CaseMeeting.met_on)
    actions = dated(session, req, CaseAction, CaseAction.acted_on)
    closed = closures(session, req)
    by_caseworker = per_caseworker(session, req, meetings, actions, closed)
    by_month = months(session, req, meetings, actions, closed)

    value = {
        "I1": i1, "I2": i2, "I3": i3,
        "I4": round_huf(income / persons if persons else None), "I8": share(i3, i2), "I9": share(i1, intake_count),
        "I10": meetings["total"], "I11": actions["total"],
        "I12": ratio(closed["days"], closed["total"]), "I15": closed["follow_up_persons"],
        "I16": share(closed["follow_up_persons"], closed["total"]),
    }
    extra = {"I4": {"mean_of_per_capita": round_huf(mean_pc),
                    "income_sum": income, "persons_sum": persons},
             "I9": {"intakes": intake_count}, "I12": {"closures": closed["total"], "days": closed["days"]},
             "I16": {"closures": closed["total"]}}
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
            "closure_reasons": [{"key": r, "closures": n, "share": share(n, closed["total"])}
                                for r, n in sorted(closed["by_reason"].items())],
            "caseworkers": by_caseworker,
            "months": by_month,
        },
    }


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
    from .store.models import UserRole

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
    labels: dict[str, dict] = {"problem_types": {}, "closure_reasons": {}}
    if definition_id is None:
        return labels
    for form in runtime.definition(session, definition_id).forms.values():
        for prop in (form.schema.get("properties") or {}).values():
            target = {6: "problem_types", 53: "closure_reasons"}.get(prop.get("x-seed-field"))
            if target and prop.get("x-options"):
                labels[target].update(prop["x-options"])
    return labels
