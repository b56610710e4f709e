"""Form fields whose value comes from a declared report's figure (``x-prefill-report``, docs/forms.md "Values
from a report"), with the evidence behind it (``x-prefill-report-evidence``): which report, period and figure,
the value per row of a table, and the cases the figure counts.

A review that scores a service from its own records (a fidelity review) then starts from live data rather than
from what someone remembers, and keeps, with the score, exactly what it was computed from. The figure is read with
the rights of the person at the task (a report they may not read gives nothing), in the session of the command.
"""
from __future__ import annotations

import datetime as dt

from ..errors import Forbidden, NotFound, ValidationFailed
from ..forms.forms import service_today
from ..forms.report_fields import fields_from_reports
from ..forms.texts import LANGUAGES
from ..people.users import Actor
from . import compute as c
from . import run
from .request import ReportRequest, authorise

MAX_CASES_LISTED = 30
_WORDS = {
    "hu": {"live": "Élő adat", "score": "pont", "cases": "Esetek", "days": "nap",
           "none": "nincs adat", "per_week": "hetente",
           "take": {"max": "legnagyobb", "min": "legkisebb", "mean": "átlag", "sum": "összesen"}, "more": "további"},
    "en": {"live": "Live data", "score": "points", "cases": "Cases", "days": "days",
           "none": "no data", "per_week": "a week",
           "take": {"max": "largest", "min": "smallest", "mean": "mean", "sum": "total"}, "more": "more"},
}


def fill(session, schema: dict, data: dict, actor: Actor) -> dict:
    """The values of the form's report fields and their evidence, from the case's data so far (``data``: where
    the period's dates are). Fields whose report cannot be read are left out.

    The evidence is written in every language (engine/forms/texts.py): it is kept with the step, and a reviewer
    reading it later in the other language reads it in theirs."""
    specs = fields_from_reports(schema)
    if not specs:
        return {}
    results: dict[tuple, dict] = {}
    values: dict[str, object] = {}
    evidence: dict[str, dict[str, str]] = {}
    for name, spec in specs.items():
        try:
            found = _figure(session, spec, data, actor, results)
        except (NotFound, Forbidden, ValidationFailed):
            continue  # no such report (yet), not the reader's, or no such figure: nothing to start from
        figure, lines, report, req, row_key = found
        value = _scaled(spec, figure)
        values[name] = value
        evidence[name] = _evidence(session, spec, report, req, figure, value, lines, row_key)
    for name, prop in (schema.get("properties") or {}).items():
        source = prop.get("x-prefill-report-evidence")
        if source in evidence:
            values[name] = evidence[source]
    return values


def _period(spec: dict, data: dict) -> tuple[dt.date, dt.date]:
    """The period from the case's date fields; by default the year up to today."""
    def day(key: str | None) -> dt.date | None:
        value = data.get(key) if key else None
        try:
            return dt.date.fromisoformat(value.replace(".", "-")[:10]) if isinstance(value, str) else None
        except ValueError:
            return None
    period = spec.get("period") or {}
    end = day(period.get("to")) or service_today()
    start = day(period.get("from")) or end - dt.timedelta(days=364)
    return (start, end) if start <= end else (end, start)


def _figure(session, spec: dict, data: dict, actor: Actor, results: dict):
    report = c.definition(session, spec["report"])
    start, end = _period(spec, data)
    req = authorise(actor, ReportRequest(start, end), report["access"])
    key = (spec["report"], start, end, req.caseworker_id)
    if key not in results:
        results[key] = c.compute(session, report, req)
    result = results[key]
    table_id, _, column = spec["figure"].partition(".")
    if not column:
        found = next((i for i in result["indicators"] if i["id"] == spec["figure"]), None)
        if found is None:
            raise ValidationFailed(f"no indicator '{spec['figure']}' in report '{spec['report']}'", [])
        return _per_week(spec, found["value"], start, end), [], report, req, None
    rows = result["tables"].get(table_id)
    if rows is None or (rows and column not in rows[0]):
        raise ValidationFailed(f"no column '{spec['figure']}' in report '{spec['report']}'", [])
    numbers = [(r, r[column]) for r in rows if isinstance(r.get(column), (int, float))]
    lines = [(r.get("name") or r.get("label") or r.get("key"), _per_week(spec, v, start, end)) for r, v in numbers]
    if not numbers:
        return None, lines, report, req, None
    take = spec["take"]
    row_key = None
    if take in ("max", "min"):
        chosen = (max if take == "max" else min)(numbers, key=lambda rv: rv[1])
        figure, row_key = chosen[1], chosen[0].get("key")
    elif take == "sum":
        figure = sum(v for _r, v in numbers)
    else:
        figure = sum(v for _r, v in numbers) / len(numbers)
    return _per_week(spec, figure, start, end), lines, report, req, row_key


def _per_week(spec: dict, value, start: dt.date, end: dt.date):
    if value is None or not spec.get("per_week"):
        return _round(value)
    return _round(value * 7 / ((end - start).days + 1))


def _round(value):
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 2)
    return value


def _scaled(spec: dict, figure):
    """The figure, or the value the scale gives it: the first entry whose lowest figure it reaches."""
    scale = spec.get("scale")
    if scale is None or figure is None:
        return figure if scale is None else None
    for low, value in scale:
        if low is None or figure >= low:
            return value
    return None


def _evidence(session, spec, report, req, figure, value, lines, row_key) -> dict[str, str]:
    """What the figure was computed from, in every language (the cases behind it are read once)."""
    try:
        listed = run.cases_in(session, report, req, spec["figure"], row_key, limit=MAX_CASES_LISTED)
    except ValidationFailed:
        listed = None
    return {lang: _evidence_text(spec, report, req, figure, value, lines, listed, _WORDS[lang], lang)
            for lang in LANGUAGES}


def _evidence_text(spec, report, req, figure, value, lines, listed, words, lang) -> str:
    def text(labels) -> str:
        return (labels or {}).get(lang) or (labels or {}).get("hu") or ""
    table_id, _, column = spec["figure"].partition(".")
    if column:
        table = next(t for t in report["tables"] if t["id"] == table_id)
        col = next(col for col in table["columns"] if col["id"] == column)
        label = f"{text(table['title'])}: {text(col['label'])} ({words['take'][spec['take']]})"
    else:
        fig = next(f for f in report["indicators"] if f["id"] == spec["figure"])
        label = text(fig["label"]) + (f" ({text(fig.get('unit'))})" if fig.get("unit") else "")
    shown = words["none"] if figure is None else f"{figure}"
    if spec.get("per_week"):
        shown += f" {words['per_week']}"
    out = [f"{words['live']}: {text(report['title'])}, {req.date_from.isoformat()} – {req.date_to.isoformat()}.",
           f"{label}: {shown}" + (f" → {value} {words['score']}" if spec.get("scale") and value is not None else "")]
    if lines:
        out.append("; ".join(f"{text(name) if isinstance(name, dict) else name}: {v}" for name, v in lines))
    if listed is not None:
        cases = [f"#{i['case_id']} {i['client_code'] or ''}".strip() + _facts_shown(i, report, lang, words)
                 for i in listed["items"]]
        more = listed["total"] - len(cases)
        out.append(f"{words['cases']} ({listed['total']}): " + ", ".join(cases)
                   + (f", … {more} {words['more']}" if more > 0 else ""))
    return "\n".join(out)


def _facts_shown(item: dict, report: dict, lang: str, words: dict) -> str:
    """The case's figures a reviewer checks against: its computed day counts (``days_between`` facts), named by
    the fact's label in the reader's language (a fact without one is named by the word for days)."""
    def named(fact: dict) -> str:
        labels = fact.get("label") or {}
        return labels.get(lang) or labels.get("hu") or words["days"]
    shown = [f"{named(fact)}: {item[name]}" for name, fact in report["facts"].items()
             if isinstance(fact, dict) and "days_between" in fact and item.get(name) is not None]
    return f" ({', '.join(shown)})" if shown else ""
