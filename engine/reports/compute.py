"""Computing a declared report: every indicator and table of a period as a handful of grouped statements.

Each counted thing (an indicator, a table's column, a band of a row split) is an aggregate column; the columns
that read the same rows (cases or the entries of one collection, the same period rule, the same split, the same
sub-period) are one statement, each column with its own condition as a FILTER clause. Ratios are computed from
the results. The rules are docs/reports.md; nothing here knows a service.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    String,
    and_,
    bindparam,
    cast,
    distinct,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy import (
    column as column_named,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BinaryExpression, BindParameter
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from ..errors import NotFound
from ..store import clock, keys
from ..store.models import Case, Client, Intake, PackageVersion, User
from . import anonymous
from .kinds import kind_of, type_of
from .models import ReportCase, ReportDefinition, ReportEntry
from .plan import planned, reached
from .request import ReportRequest, period_instants, ratio, rounded, share

C = ReportCase.__table__
E = ReportEntry.__table__
CL = Client.__table__
GROUP = "grp_key"


# ---- the stored definitions ---------------------------------------------------------------------------------------

def current(session) -> dict[str, dict]:
    """Every report of the newest version of each package, by key."""
    newest = select(PackageVersion.package_key, func.max(PackageVersion.version).label("v")) \
        .group_by(PackageVersion.package_key).subquery()
    rows = session.execute(
        select(ReportDefinition.report_key, ReportDefinition.definition, PackageVersion.package_key,
               PackageVersion.manifest)
        .join(PackageVersion, PackageVersion.id == ReportDefinition.package_version_id)
        .join(newest, and_(newest.c.package_key == PackageVersion.package_key, newest.c.v == PackageVersion.version))
        .order_by(ReportDefinition.report_key)).all()
    return {key: dict(definition, package=package, caseworker_role=_role_name(manifest, "caseworker"))
            for key, definition, package, manifest in rows}


def _role_name(manifest: dict | None, role: str) -> dict | None:
    """What the report's service calls a role ({hu, en}: ``roles.<role>.name`` of its manifest), e.g. "Mentor"."""
    return (((manifest or {}).get("roles") or {}).get(role) or {}).get("name")


def definition(session, key: str) -> dict:
    found = current(session).get(key)
    if found is None:
        raise NotFound(f"no report '{key}' is deployed")
    return found


# ---- one counted thing ------------------------------------------------------------------------------------------

@dataclass
class Split:
    """How a table's rows divide what is counted."""

    kind: str = "none"  # none | caseworker | fact | values | bands | month | quarter | paired_items
    name: str | None = None
    bands: list[tuple[float | None, float | None, str]] = field(default_factory=list)
    age: bool = False
    missing: str | None = None


def _splits(rows) -> tuple[Split | None, Split]:
    """(period split or None, the other split) of a table's ``rows``."""
    period, other = None, Split()
    for r in rows if isinstance(rows, list) else [rows]:
        if r in ("month", "quarter"):
            period = Split(r)
        elif r == "caseworker":
            other = Split("caseworker")
        elif "fact" in r:
            other = Split("fact", r["fact"], missing=r.get("missing"))
        elif "values" in r:
            other = Split("values", r["values"])
        elif "paired_items" in r:
            other = Split("paired_items", r["paired_items"])
        else:
            other = Split("bands", r["bands"], [tuple(b) for b in r.get("limits") or []], bool(r.get("age")),
                          missing=r.get("missing"))
    return period, other


def names_read(m: dict, split: Split | None = None) -> list[str]:
    """The facts (or an entry's fields) a measure reads: its condition, sum or mean, distinct and split."""
    names: list[str] = []

    def walk(c: dict) -> None:
        for sub in c.get("any", []) + c.get("all", []) + ([c["not"]] if "not" in c else []):
            walk(sub)
        if "fact" in c:
            names.append(c["fact"])
    if "where" in m:
        walk(m["where"])
    for key in ("sum", "mean"):
        spec = m.get(key)
        names += [spec] if isinstance(spec, str) else (spec or {}).get("divide", [])
    if split is not None and split.kind in ("fact", "bands"):
        names.append(split.name or "")
    distinct_of = m.get("distinct")
    names += [distinct_of] if isinstance(distinct_of, str) else distinct_of or []
    period = m.get("period")
    if isinstance(period, dict) and "on" in period:
        names.append(period["on"])
    return names


def carried_facts(report: dict) -> list[str]:
    """The case facts a figure over a collection's entries reads: each entry carries a copy of them
    (``report_entries.case_facts``, written by engine/reports/facts.py), so such figures need no case row."""
    found: set[str] = set()
    for leaf in _leaves(report):
        collection = Compiler.source_of(leaf.measure, leaf.split)
        if collection is None:
            continue
        own = set(report["facts"][collection].get("fields") or {})
        for name in names_read(leaf.measure, leaf.split):
            fact = report["facts"].get(name)
            # A person's fact is read from their other cases' rows when computing: not carried.
            if name not in own and fact is not None and kind_of(fact) == "scalar" and not fact.get("client") \
                    and not fact.get("person"):
                found.add(name)
    return sorted(found)


class Births:
    """The client register's birth dates one report run reads, for ages on a day (an age band's split).

    The date is sealed under each client's data key (engine/cases/clients.py); its year is in clear
    (``birth_year``). A person's age on a day is that day's year minus the birth year, less one before the
    birthday; so an age band's edge on a day splits only the clients born in one year (the day's year minus the
    edge), and only for those is the date opened. The band is then a condition on the birth year and, in that
    year, on the client ids whose birthday is still to come (docs/architecture.md, "Where personal data lives").
    One report run opens each such client's date once, and unwraps the data keys it needs at once
    (``keys.hold``); the keys stay in the process for the next run."""

    def __init__(self, session):
        self.session = session
        self.dates: dict[int, dict[int, dt.date]] = {}  # birth year -> client id -> birth date, opened
        self.opened = 0

    def born_in(self, year: int) -> dict[int, dt.date]:
        found = self.dates.get(year)
        if found is None:
            from ..cases.clients import birth_date  # the register's reading of its own column

            rows = self.session.execute(select(CL.c.id, CL.c.birth_date, CL.c.data_key_id)
                                        .where(CL.c.birth_year == year, CL.c.birth_date.is_not(None))).all()
            keys.hold(self.session, [r.data_key_id for r in rows])
            found = self.dates[year] = {}
            for row in rows:
                day = birth_date(self.session, row.birth_date)
                if day is not None:
                    found[row.id] = day
            self.opened += len(found)
        return found

    def _before_birthday(self, year: int, on: dt.date) -> ColumnElement[bool]:
        """Of the clients born in ``year``, those whose birthday comes after ``on`` in its year (29 February
        after 28 February: not yet had in a common year). The shorter of the two lists is written out."""
        born = self.born_in(year)
        later = [i for i, d in born.items() if (d.month, d.day) > (on.month, on.day)]
        if len(later) * 2 <= len(born):
            return CL.c.id.in_(_ids(later)) if later else false()
        earlier = set(born) - set(later)
        return CL.c.id.not_in(_ids(earlier)) if earlier else true()

    def age_condition(self, band: tuple, on: dt.date) -> ColumnElement[bool]:
        """The register's clients whose age on ``on`` is within the band (low <= age < high; a limit as the whole
        years it truncates to, as ages were always banded)."""
        parts: list[ColumnElement[bool]] = [CL.c.birth_year.is_not(None)]
        if band[0] is not None:  # age >= low: born before that year, or in it and had the birthday
            year = on.year - int(band[0])
            parts.append(or_(CL.c.birth_year < year,
                             and_(CL.c.birth_year == year, not_(self._before_birthday(year, on)))))
        if band[1] is not None:  # age < high: born after that year, or in it and the birthday still to come
            year = on.year - int(band[1])
            parts.append(or_(CL.c.birth_year > year,
                             and_(CL.c.birth_year == year, self._before_birthday(year, on))))
        return and_(*parts)


def _ids(ids) -> BindParameter:
    """Client ids written into the statement (integers read from the database): a year's clients can be more
    than the bound parameters a statement may have."""
    return bindparam(None, sorted(ids), expanding=True, literal_execute=True)


class Compiler:
    """SQL expressions for one report's facts, conditions and aggregates. ``session``: the one the report is
    computed in, for the birth dates an age band opens (``Births``)."""

    def __init__(self, report: dict, req: ReportRequest, session=None):
        self.report, self.req = report, req
        self.facts = report["facts"]
        self.carried = set(carried_facts(report))
        self.persons = any(f.get("person") for f in self.facts.values())  # facts read from the person's cases
        self.births = Births(session) if session is not None else None

    def band_condition(self, split: Split, band: tuple, on: dt.date,
                       collection: str | None) -> ColumnElement[bool]:
        """The rows of one band of a split on a day; ages from the client register through ``Births``."""
        expr = self.value(split.name or "", collection)
        if split.age and len(band) <= 3 and self.facts.get(split.name or "", {}).get("client"):
            if self.births is None:
                raise ValueError("ages from the client register need the report's session")
            return self.births.age_condition(band, on)
        return band_condition(split, expr, band, on)

    @staticmethod
    def source_of(m: dict, split: Split) -> str | None:
        """The collection whose entries a measure reads, or None for the cases."""
        counted = m.get("count")
        if counted not in (None, "cases"):
            return counted
        period = m.get("period", "active")
        if isinstance(period, dict) and "dated" in period:
            return period["dated"]
        if split.kind == "values":
            return split.name
        return None

    def value(self, name: str, collection: str | None) -> ColumnElement:
        """A fact, an entry's field or value, as a typed SQL expression."""
        if collection is not None:
            fact = self.facts[collection]
            if name == "value":
                return E.c.value
            if name in (fact.get("fields") or {}):
                spec = fact["fields"][name]
                kind = "boolean" if isinstance(spec, dict) and "contains" in spec else (
                    spec.get("type") if isinstance(spec, dict) else spec)
                return self._typed(E.c.fields[name], kind)
        fact = self.facts[name]
        if fact.get("client") == "birth_date":
            # In clear only the year: whether the date is known (the ``missing`` band); ages by ``Births``. The
            # report format lets a register fact be read by an age band only (engine/reports/grammar.py).
            return CL.c.birth_year
        if fact.get("person") == "latest":
            own = self._typed(C.c.facts[name], type_of(fact))
            return func.coalesce(self._latest_of_person(name, fact), own)
        if collection is not None and name in self.carried:
            return self._typed(E.c.case_facts[name], type_of(fact))
        return self._typed(C.c.facts[name], type_of(fact))

    def _latest_of_person(self, name: str, fact: dict) -> ColumnElement:
        """The fact as the person's latest case of the report that has it gives it (by the day the case entered
        the report, then the case): a fact that describes the person, which a later case may leave empty."""
        other = C.alias("person_case")
        theirs = self._typed(other.c.facts[name], type_of(fact))
        return select(theirs).where(other.c.report_key == C.c.report_key, other.c.client_id == C.c.client_id,
                                    theirs.is_not(None)) \
            .order_by(other.c.start_day.desc().nulls_last(), other.c.case_id.desc()).limit(1).scalar_subquery()

    @staticmethod
    def _typed(element, kind: str | None) -> ColumnElement:
        if kind == "integer":
            return element.as_integer()
        if kind == "number":
            return element.as_float()
        if kind == "boolean":
            return element.as_boolean()
        return element.as_string()

    def operand(self, spec, collection: str | None) -> ColumnElement:
        if isinstance(spec, str):
            return self.value(spec, collection)
        a, b = (self.value(n, collection) for n in spec["divide"])
        return cast(a, Float) / func.nullif(b, 0)

    def condition(self, cond: dict, collection: str | None) -> ColumnElement[bool]:
        if "any" in cond:
            return or_(*(self.condition(c, collection) for c in cond["any"]))
        if "all" in cond:
            return and_(*(self.condition(c, collection) for c in cond["all"]))
        if "not" in cond:
            return not_(self.condition(cond["not"], collection))
        expr = self.value(cond["fact"], collection)
        if "equals" in cond:
            want = cond["equals"]
            return expr == (true() if want is True else false() if want is False else want)
        if "in" in cond:
            return expr.in_(cond["in"])
        if "above" in cond:
            return expr > cond["above"]
        return expr.is_not(None) if cond["filled"] else expr.is_(None)

    def uses_case(self, m: dict, collection: str | None, split: Split | None = None) -> bool:
        """Whether a measure over entries reads the case row too: a case fact the entries do not carry, or the
        process (the case's period days and carried facts are on its entries)."""
        own = set(self.facts[collection].get("fields") or {}) | {"value", "client", "caseworker", "case"}
        needs = [n for n in names_read(m, split) if n not in own and n not in self.carried
                 and not self.facts.get(n, {}).get("client")]
        return bool(needs) or bool(m.get("process")) or bool(self.req.process_key)

    def period_condition(self, m: dict, start: dt.date, end: dt.date, collection: str | None = None) -> list:
        # Over entries, the case's period days are the entries' copies (no join).
        days = E if collection is not None else C
        period = m.get("period", "active")
        if period == "active":
            # Most of the rows for any long period: SQLite reads the table rather than walk an index (unindexed).
            return [unindexed(days.c.start_day) <= end,
                    or_(days.c.end_day.is_(None), unindexed(days.c.end_day) >= start)]
        if period == "started":
            return [days.c.start_day >= start, days.c.start_day <= end]
        if period == "ended":
            return [days.c.end_day >= start, days.c.end_day <= end]
        if "dated" in period:
            return [E.c.day >= start, E.c.day <= end]
        on = self.value(period["on"], collection)
        return [on >= start.isoformat(), on <= end.isoformat()]

    def aggregate(self, m: dict, collection: str | None, split: Split) -> ColumnElement:
        src = E if collection is not None else C
        if "count" in m:
            if m["count"] == "cases" and collection is not None and kind_of(self.facts[collection]) != "values":
                return func.count(distinct(E.c.case_id))
            return func.count()
        if "distinct" in m:
            d = m["distinct"]
            if isinstance(d, list):
                parts = [self._distinct_part(x, collection, src) for x in d]
                # "a:b" with ||, which both databases have (SQLite before 3.44 has no concat()).
                return func.count(distinct(cast(parts[0], String) + ":" + cast(parts[1], String)))
            return func.count(distinct(self._distinct_part(d, collection, src)))
        if m.get("per_case") == "max":
            # The case's largest value; ``Statement.run`` sums (or averages) these over the cases.
            return func.max(self.operand(m["sum"] if "sum" in m else m["mean"], collection))
        if "sum" in m:
            return func.sum(self.operand(m["sum"], collection))
        return func.avg(self.operand(m["mean"], collection))

    def _distinct_part(self, name: str, collection: str | None, src) -> ColumnElement:
        if name == "client":
            return src.c.client_id
        if name == "caseworker":
            return src.c.caseworker_id
        if name == "case":
            return src.c.case_id
        return self.value(name, collection)


def _age_condition(expr, band: tuple, on: dt.date) -> ColumnElement[bool]:
    """A birth date within an age band (low <= age < high) on a day: the band as a range of birth dates."""
    def years_before(n: float) -> dt.date:
        year = on.year - int(n)
        return on.replace(year=year) if not (on.month == 2 and on.day == 29) else dt.date(year, 3, 1) - dt.timedelta(1)
    parts: list[ColumnElement[bool]] = [expr.is_not(None)]
    if band[0] is not None:
        parts.append(expr <= years_before(band[0]))
    if band[1] is not None:
        parts.append(expr > years_before(band[1]))
    return and_(*parts)


def band_condition(split: Split, expr, band: tuple, on: dt.date) -> ColumnElement[bool]:
    """The rows of one band of a split: a range of the fact, of ages on a day, or (the ``missing`` band, marked by
    a fourth element) the rows without the fact."""
    if len(band) > 3:
        return expr.is_(None)
    return _age_condition(expr, band, on) if split.age else _band_condition(expr, band)


def _band_condition(expr, band: tuple) -> ColumnElement[bool]:
    # A comparison with NULL is never true, so a bounded band needs no "is not null" (one JSON read less a row).
    parts: list[ColumnElement[bool]] = [] if band[0] is not None or band[1] is not None else [expr.is_not(None)]
    if band[0] is not None:
        parts.append(expr >= band[0])
    if band[1] is not None:
        parts.append(expr < band[1])
    return and_(*parts)


# ---- sub-periods ----------------------------------------------------------------------------------------------

def subperiods(kind: str, start: dt.date, end: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """(key, first day, last day) of each month or quarter of the period, cut to it."""
    months = 3 if kind == "quarter" else 1
    day = dt.date(start.year, (start.month - 1) // months * months + 1, 1)
    result = []
    while day <= end:
        m = day.month - 1 + months
        nxt = dt.date(day.year + m // 12, m % 12 + 1, 1)
        key = f"{day.year}-Q{(day.month - 1) // 3 + 1}" if kind == "quarter" else f"{day.year:04d}-{day.month:02d}"
        result.append((key, max(day, start), min(nxt - dt.timedelta(days=1), end)))
        day = nxt
    return result


# ---- the report ---------------------------------------------------------------------------------------------------

@dataclass
class Leaf:
    """One aggregate to compute: where its value goes (table or None, column id) and how to read it."""

    target: tuple[str | None, str]
    measure: dict
    split: Split
    period: Split | None


class unindexed(FunctionElement):
    """A column the SQLite planner must not pick an index for (``+column``); the column itself elsewhere.

    "Active in the period" is most of the rows for any long period, and its 'not ended before the start' half
    cannot use an index: SQLite would still walk the start index and visit every row through it, several times
    slower than reading the table. PostgreSQL's planner weighs this itself."""

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


def _leaves(report: dict) -> list[Leaf]:
    found = []
    for fig in report["indicators"]:
        if _is_aggregate(fig):
            found.append(Leaf((None, fig["id"]), fig, Split(), None))
    for table in report["tables"]:
        period, split = _splits(table["rows"])
        for column in table["columns"]:
            if _is_aggregate(column):
                found.append(Leaf((table["id"], column["id"]), column, split, period))
    return found


def _is_aggregate(m: dict) -> bool:
    return any(k in m for k in ("count", "distinct", "sum", "mean"))


def _bands_of(split: Split, req: ReportRequest) -> list[tuple]:
    """(low, high, label) of each band; the ``missing`` band last, as (None, None, label, True)."""
    if split.kind != "bands":
        return []
    bands: list[tuple] = list(split.bands) if split.bands else [(b.low, b.high, b.label()) for b in req.bands]
    return bands + [(None, None, split.missing, True)] if split.missing else bands


class Statement:
    """Aggregates sharing their rows: one SELECT."""

    def __init__(self, comp: Compiler, collection: str | None, joined: bool, period: Any, split: Split,
                 own_process: str | None, start: dt.date, end: dt.date, per_case: str | None = None):
        self.comp, self.collection, self.joined, self.split = comp, collection, joined, split
        self.period, self.own_process, self.start, self.end = period, own_process, start, end
        self.per_case = per_case  # "max": each column is a case's largest value, then summed or averaged
        self.outer: list = []  # with per_case: func.sum or func.avg of each column
        self.columns: list[ColumnElement] = []
        self.slots: list[tuple[Leaf, int | None]] = []  # (leaf, band index)

    def add(self, leaf: Leaf, bands: list) -> None:
        comp, m = self.comp, leaf.measure
        split = leaf.split
        agg = comp.aggregate(m, self.collection, split)
        conds = []
        if "where" in m:
            conds.append(comp.condition(m["where"], self.collection))
        if m.get("process"):
            conds.append(C.c.process_key == m["process"])
        if bands:
            for i, band in enumerate(bands):
                cond = comp.band_condition(split, band, self.end, self.collection)
                self.columns.append(agg.filter(and_(*conds, cond)))
                self.slots.append((leaf, i))
        else:
            self.columns.append(agg.filter(and_(*conds)) if conds else agg)
            self.slots.append((leaf, None))
        self.outer += [func.sum if "sum" in m else func.avg] * (len(self.columns) - len(self.outer))

    def run(self, session, report: dict) -> list[tuple[Any, list]]:
        comp, req = self.comp, self.comp.req
        src = E if self.collection is not None else C
        where = list(comp.period_condition({"period": self.period}, self.start, self.end, self.collection))
        # "Active" reads most of a report's rows: in table order (SQLite), not through an index on the key.
        active = self.period == "active" and self.collection is None and req.caseworker_id is None
        where.append((unindexed(src.c.report_key) if active else src.c.report_key) == report["key"])
        if self.collection is not None:
            where.append(E.c.collection == self.collection)
        if req.caseworker_id is not None:
            where.append(src.c.caseworker_id == req.caseworker_id)
        if req.process_key and not self.own_process:
            where.append(C.c.process_key == req.process_key)
        group: ColumnElement | None = None
        if self.split.kind == "caseworker":
            group = src.c.caseworker_id
        elif self.split.kind == "fact":
            group = comp.value(self.split.name or "", self.collection)
        elif self.split.kind == "values":
            group = E.c.value
        columns = [c.label(f"pc{i}") if self.per_case else c for i, c in enumerate(self.columns)]
        columns += [group.label(GROUP)] if group is not None else []
        query = select(*columns)
        clients = self.split.age or _reads_client(comp, self)
        # Not with a fact read from the person's other cases (a subquery correlated with the case row), nor per case.
        once = _reading_facts_once(columns, where) if self.collection is None and not clients and \
            not self.per_case and not comp.persons and session.get_bind().dialect.name == "sqlite" else None
        if once is not None:
            query = once
        elif self.collection is not None:
            query = query.select_from(E)
            if self.joined:
                query = query.join(C, and_(C.c.report_key == E.c.report_key, C.c.case_id == E.c.case_id))
        else:
            query = query.select_from(C)
        if clients:
            query = query.outerjoin(CL, CL.c.id == src.c.client_id)
        if once is None:
            query = query.where(*where)
        if self.per_case:
            # Per case first (its largest value), then over the cases: a subquery grouped by case (and split).
            inner = query.add_columns(src.c.case_id.label("per_case_id")).group_by(
                src.c.case_id, *([group] if group is not None else [])).subquery()
            outer = [agg(inner.c[f"pc{i}"]) for i, agg in enumerate(self.outer)]
            query = select(*outer, *([inner.c[GROUP]] if group is not None else [])).select_from(inner)
            if group is not None:
                query = query.group_by(inner.c[GROUP])
        elif group is not None:
            query = query.group_by(literal_column(GROUP))
        rows = session.execute(query).all()
        n = len(self.columns)
        return [(row[n] if group is not None else None, list(row[:n])) for row in rows]


def _reading_facts_once(columns: list[Any], where: list) -> Select | None:
    """The case rows' statement with every fact it reads taken once a row, in a subquery.

    SQLite (3.40) re-reads a row's JSON for every fact expression; a statement with bands and sums reads the same
    few facts twenty times a row. The period's rows and the facts they are read for come from an inner SELECT that
    SQLite keeps as a subquery (``LIMIT -1``: not flattened back into the outer one), and the aggregates read its
    columns. None when every fact is read once already."""
    inner: dict[str, ColumnElement] = {}
    keys: dict[tuple, str] = {}
    reads = [0]

    def replace(element: ExternallyTraversible) -> ExternallyTraversible | None:
        if isinstance(element, Column) and element.table is C:
            inner.setdefault(element.name, element)
            return column_named(element.name, element.type)
        if isinstance(element, BinaryExpression) and element.left is C.c.facts:
            key = (element.right.value, repr(element.type))
            reads[0] += 1
            label = keys.get(key)
            if label is None:
                label = keys[key] = f"fact_{len(keys)}"
                inner[label] = element
            return column_named(label, element.type)
        return None

    no_options: dict[str, Any] = {}
    outer = [replacement_traverse(c, no_options, replace) for c in columns]  # type: ignore[call-overload]
    if reads[0] <= len(keys):
        return None  # each fact read once already
    rows = select(*(e.label(name) for name, e in inner.items())).select_from(C).where(*where).limit(-1) \
        .subquery("period_rows")
    return select(*outer).select_from(rows)


def _reads_client(comp: Compiler, stmt: Statement) -> bool:
    return any(f.get("client") for f in comp.facts.values()) and stmt.split.kind == "bands" and not stmt.split.age \
        and bool(comp.facts.get(stmt.split.name or "", {}).get("client"))


def _number(value, kind_of_sum: str | None = None):
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    return float(value) if "." in str(value) else int(value)


def compute(session, report: dict, req: ReportRequest) -> dict:
    """Every indicator and table of the period (no authorisation: see ``engine.reports.run``)."""
    if session.get_bind().dialect.name == "postgresql":
        # Distinct counts sort tens of thousands of rows; PostgreSQL's default 4 MB of sort memory sends them to
        # disk at 100,000 cases. For this read transaction only.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    comp = Compiler(report, req, session)
    statements: dict[tuple, Statement] = {}
    leaves = _leaves(report)
    for leaf in leaves:
        m = leaf.measure
        collection = comp.source_of(m, leaf.split)
        joined = collection is not None and comp.uses_case(m, collection, leaf.split)
        spans = subperiods(leaf.period.kind, req.date_from, req.date_to) if leaf.period else [
            (None, req.date_from, req.date_to)]
        period = m.get("period", "active")
        bands = _bands_of(leaf.split, req)
        for _key, start, end in spans:
            # Bands are filtered columns, not groups: they share the statement of the rows they split.
            split_sig = repr(Split()) if leaf.split.kind == "bands" and not leaf.split.age else repr(leaf.split)
            sig = (collection, joined, repr(period), split_sig, leaf.period.kind if leaf.period else None,
                   bool(m.get("process")), start, end, m.get("per_case"))
            stmt = statements.get(sig)
            if stmt is None:
                stmt = statements[sig] = Statement(comp, collection, joined, period, leaf.split,
                                                   m.get("process"), start, end, m.get("per_case"))
            stmt.add(leaf, bands)
    # values[(table, column)][(period key, split key)] = number
    values: dict[tuple, dict[tuple, Any]] = defaultdict(dict)
    for stmt in statements.values():
        period_key = None
        leaf_period = stmt.slots[0][0].period
        if leaf_period is not None:
            period_key = next(k for k, a, _b in subperiods(leaf_period.kind, req.date_from, req.date_to)
                              if a == stmt.start)
        for group, row in stmt.run(session, report):
            for (leaf, band), v in zip(stmt.slots, row):
                split_key = band if band is not None else group
                values[leaf.target][(period_key, split_key)] = _number(v) if v is not None else (
                    _nothing(leaf.measure))
    registrations = {fig["id"]: _registrations(session, req) for fig in report["indicators"] if fig.get(
        "registrations")}
    return _assemble(session, report, req, values, registrations, _paired(session, report, req))


PAIRED_TOTAL = {"hu": "összesen (a tételek összege)", "en": "total (the sum of the items)"}


def _paired(session, report: dict, req: ReportRequest) -> dict[str, dict | None]:
    """The figures of every paired anonymous questionnaire the report reads, by pair group (docs/reports.md,
    "Paired questionnaires"). Answers name no case and no caseworker: for one caseworker there are none."""
    groups = {m["paired"].get("questionnaire") for m in report["indicators"] if "paired" in m}
    for table in report["tables"]:
        split = _splits(table["rows"])[1]
        if split.kind == "paired_items":
            groups.add(split.name)
        groups |= {c["paired"].get("questionnaire") for c in table["columns"] if "paired" in c}
    groups.discard(None)
    if req.caseworker_id is not None:
        return {g: None for g in groups}
    return {g: anonymous.paired_figures(session, report["package"], g, req.date_from, req.date_to)
            for g in sorted(groups)}


def _of_anonymous(fig: dict, figures: dict[str, dict]) -> bool:
    """A figure of anonymous answers, or a ratio whose numerator is one (its drill-down would list that)."""
    seen = set()
    while "ratio" in fig and fig["ratio"]["of"] in figures and fig["id"] not in seen:
        seen.add(fig["id"])
        fig = figures[fig["ratio"]["of"]]
    return "paired" in fig


def _paired_value(paired: dict[str, dict | None], group: str | None, figure: str, item: str | None):
    found = paired.get(group) if group else None
    if found is None:
        return None
    if item is None:
        return found["pairs"] if figure == "pairs" else found[anonymous.TOTAL][figure]
    return (found["items"].get(item) or {}).get(figure)


def _registrations(session, req: ReportRequest) -> int:
    """Clients registered (a registering process's registration, ``intakes``) in the period, in the service's
    days; for one caseworker, those of her registering cases."""
    start, end = period_instants(req)
    if req.caseworker_id is None:
        query = select(func.count()).select_from(Intake).where(Intake.taken_at >= start, Intake.taken_at < end)
    else:
        query = select(func.count()).select_from(Case).join(Intake, Intake.case_id == Case.id).where(
            unindexed(Intake.taken_at) >= start, unindexed(Intake.taken_at) < end,
            Case.caseworker_id == req.caseworker_id)
    return session.execute(query).scalar() or 0


def _nothing(m: dict):
    """The value of a figure over no rows: 0 for a count or a sum (SQL's SUM of nothing is NULL), none otherwise
    (a mean of nothing)."""
    return 0 if "count" in m or "distinct" in m or "sum" in m else None


def _finish(m: dict, raw):
    """A computed value as shown: sums of integers stay integers, means and other fractions are rounded."""
    if raw is None:
        return None
    if "mean" in m or isinstance(raw, float):
        return rounded(raw, m.get("round", 2))
    return raw


def _ratio(m: dict, of, to):
    r = m["ratio"]
    digits = m.get("round", 2)
    return share(of, to, digits) if r.get("percent") else ratio(of, to, digits)


def _assemble(session, report: dict, req: ReportRequest, values: dict, registrations: dict,
              paired: dict[str, dict | None]) -> dict:
    scalars: dict[str, Any] = {}
    figures = {f["id"]: f for f in report["indicators"]}

    def scalar(fid: str):
        if fid in scalars:
            return scalars[fid]
        fig = figures[fid]
        scalars[fid] = None
        if fig.get("registrations"):
            value = registrations[fid]
        elif "ratio" in fig:
            value = _ratio(fig, scalar(fig["ratio"]["of"]), scalar(fig["ratio"]["to"]))
        elif "paired" in fig:
            p = fig["paired"]
            value = _paired_value(paired, p.get("questionnaire"), p["figure"], p.get("item"))
        elif _is_aggregate(fig):
            raw = values.get((None, fid), {}).get((None, None))
            value = _finish(fig, raw if raw is not None else _nothing(fig))
        else:
            value = None
        scalars[fid] = value
        return value

    indicators = []
    for fig in report["indicators"]:
        value = scalar(fig["id"])
        if fig.get("show", True) is False:
            continue
        item = {"id": fig["id"], "label": fig["label"], "help": fig.get("help"), "unit": fig.get("unit"),
                "value": value, "table": fig.get("table")}
        if _of_anonymous(fig, figures):
            item["anonymous"] = True  # from anonymous answers: no cases to list behind it
        for d in fig.get("details") or []:
            item[d] = scalar(d)
        if fig.get("plan"):
            item["plan"] = planned(fig["plan"], req)
            item["plan_reached"] = reached(value, item["plan"])
        indicators.append(item)
    tables = {t["id"]: (_paired_table(t, paired) if _splits(t["rows"])[1].kind == "paired_items"
                        else _table(session, t, req, values, scalar)) for t in report["tables"]}
    return {
        "report": report["key"], "title": report["title"], "help": report.get("help"),
        "period": {"from": req.date_from.isoformat(), "to": req.date_to.isoformat()},
        "caseworker_id": req.caseworker_id, "process_key": req.process_key,
        "computed_at": clock.now().isoformat(),
        "indicators": indicators,
        "tables": tables,
    }


def _table(session, table: dict, req: ReportRequest, values: dict, scalar) -> list[dict]:
    period, split = _splits(table["rows"])
    tid = table["id"]
    columns = table["columns"]
    keys: list = []
    seen: set = set()
    for c in columns:
        for (_p, k) in values.get((tid, c["id"]), {}):
            if k not in seen:
                seen.add(k)
                keys.append(k)
    rows_out: list[dict] = []
    if split.kind == "bands":
        bands = _bands_of(split, req)
        split_keys: list = list(range(len(bands)))
    elif split.kind == "none":
        split_keys = [None]
    else:
        split_keys = sorted({k for k in keys}, key=lambda k: (k is None, str(k)))
    names: dict = {}
    if split.kind == "caseworker":
        ids = [k for k in split_keys if k is not None]
        names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
        split_keys.sort(key=lambda i: (names.get(i) or "", i or 0))
    periods = [(k, a, b) for k, a, b in subperiods(period.kind, req.date_from, req.date_to)] if period else [
        (None, None, None)]
    for pkey, _a, _b in periods:
        for skey in split_keys:
            row: dict[str, Any] = {}
            if pkey is not None:
                row[period.kind if period else "period"] = pkey
            if split.kind == "bands":
                low, high, label = _bands_of(split, req)[skey][:3]
                row.update(key=str(skey), label=label, low=low, high=high)
            elif split.kind == "caseworker":
                row.update(key=str(skey) if skey is not None else "", caseworker_id=skey, name=names.get(skey, "—"))
            elif split.kind in ("fact", "values"):
                row["key"] = skey if skey is not None else (split.missing or "")
            elif pkey is not None:
                row["key"] = pkey
            for c in columns:
                if _is_aggregate(c):
                    raw = values.get((tid, c["id"]), {}).get((pkey, skey))
                    if raw is None:
                        raw = _nothing(c)
                    row[c["id"]] = _finish(c, raw)
            for c in columns:
                if "ratio" in c:
                    of, to = c["ratio"]["of"], c["ratio"]["to"]
                    row[c["id"]] = _ratio(c, row[of] if of in row else scalar(of), row[to] if to in row else scalar(to))
            if split.kind in ("fact", "values") and skey is None and split.missing is None and \
                    all(not row.get(c["id"]) for c in columns):
                continue
            if table.get("omit_empty") and not any(row.get(c) for c in table["omit_empty"]):
                continue
            rows_out.append({k: v for k, v in row.items() if not _hidden(table, k)})
    if split.kind in ("fact", "values"):
        rows_out.sort(key=lambda r: (r.get(period.kind) if period else "", str(r["key"])))
    return rows_out


def _paired_table(table: dict, paired: dict[str, dict | None]) -> list[dict]:
    """A row per item asked at both moments of a paired questionnaire, then the total; each column one of its
    figures (withheld below the questionnaire's min_answers pairs: none)."""
    group = _splits(table["rows"])[1].name
    found = paired.get(group or "")
    items = list((found or {}).get("items") or {})
    rows: list[dict] = []
    for key in [*items, anonymous.TOTAL]:
        row: dict[str, Any] = {"key": key}
        for c in table["columns"]:
            if "paired" in c:
                figure = c["paired"]["figure"]
                if found is None:
                    row[c["id"]] = None
                elif key == anonymous.TOTAL:
                    row[c["id"]] = found[anonymous.TOTAL][figure]
                else:
                    row[c["id"]] = found["items"][key][figure]
        for c in table["columns"]:
            if "ratio" in c:
                row[c["id"]] = _ratio(c, row.get(c["ratio"]["of"]), row.get(c["ratio"]["to"]))
        rows.append({k: v for k, v in row.items() if not _hidden(table, k)})
    return rows


def _hidden(table: dict, key: str) -> bool:
    return any(c["id"] == key and c.get("show") is False for c in table["columns"])


def band_keys(report: dict, table_id: str, req: ReportRequest) -> list[tuple[float | None, float | None, str]]:
    table = next(t for t in report["tables"] if t["id"] == table_id)
    return _bands_of(_splits(table["rows"])[1], req)


def labels(runtime, session, report: dict) -> dict[str, dict]:
    """Bilingual labels of each table's row keys where the rows are a form field's options (``x-options``), from
    the newest version of the report's processes."""
    from ..store.models import ProcessDefinition

    found: dict[str, dict] = {}
    options: dict[str, dict] = defaultdict(dict)  # field → every option any form of the processes gives it
    item_labels: dict[str, dict] = {}  # a field of an anonymous questionnaire → its question
    for key in report["processes"]:
        definition_id = session.execute(select(ProcessDefinition.id).where(ProcessDefinition.process_key == key)
                                        .order_by(ProcessDefinition.version.desc()).limit(1)).scalar()
        if definition_id is None:
            continue
        for form in runtime.definition(session, definition_id).forms.values():
            for name, prop in (form.schema.get("properties") or {}).items():
                options[name].update(prop.get("x-options") or (prop.get("items") or {}).get("x-options") or {})
                if form.anonymous is not None and prop.get("x-label"):
                    item_labels[name] = prop["x-label"]
    for table in report["tables"]:
        _period, split = _splits(table["rows"])
        if split.kind == "paired_items":
            # The items of a paired questionnaire by their question, and their total.
            found[table["id"]] = {**item_labels, anonymous.TOTAL: PAIRED_TOTAL}
            continue
        if split.kind not in ("fact", "values"):
            continue
        fact = report["facts"][split.name or ""]
        found_options = options.get(fact.get("values") or fact.get("field") or "")
        if found_options:
            found[table["id"]] = dict(found_options)
    return found
