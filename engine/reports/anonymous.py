"""The answers of anonymous questionnaires, in aggregate only (docs/forms.md, "Anonymous questionnaires").

No answer is ever listed on its own: a period's answers become counts per option, yes/no counts and means, and a
figure resting on fewer answers than the questionnaire's ``min_answers`` is withheld. Free text is counted, not
shown. Answers paired by the respondents' own codes give the number of pairs and the mean change of every number
asked at both moments.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from sqlalchemy import select

from ..cases import anonymous_handout
from ..errors import Forbidden, NotFound, ValidationFailed
from ..forms.anonymous import marking
from ..people.users import ADMINISTRATOR, MANAGER, PROFESSIONAL_LEAD, Actor
from ..store.models import AnonymousAnswer, PackageVersion, ProcessDefinition

READERS = (PROFESSIONAL_LEAD, MANAGER, ADMINISTRATOR)


def _require_reader(actor: Actor) -> None:
    if not set(actor.role_codes) & set(READERS):
        raise Forbidden("the answers of anonymous questionnaires are read by professional leads, managers and "
                        "administrators")


def declared(session) -> dict[tuple[str, str], dict]:
    """Every anonymous questionnaire of the deployed processes, by (package, questionnaire): the newest form."""
    rows = session.execute(select(ProcessDefinition.process_key, ProcessDefinition.forms, PackageVersion.package_key)
                           .outerjoin(PackageVersion, PackageVersion.id == ProcessDefinition.package_version_id)
                           .order_by(ProcessDefinition.id.desc())).all()
    found: dict[tuple[str, str], dict] = {}
    for process_key, forms, package_key in rows:
        for form_file, schema in sorted((forms or {}).items()):
            mark = marking(schema)
            if mark is None:
                continue
            key = (package_key or process_key, mark.questionnaire)
            found.setdefault(key, {"package": key[0], "questionnaire": mark.questionnaire, "form_file": form_file,
                                   "title": schema.get("x-label") or {"hu": schema.get("title", mark.questionnaire),
                                                                      "en": schema.get("title", mark.questionnaire)},
                                   "schema": schema, "mark": mark})
    return found


def catalogue(runtime, actor: Actor) -> list[dict]:
    """The anonymous questionnaires the actor may read the figures of."""
    _require_reader(actor)
    with runtime.db.reading() as session:
        found = declared(session)
    return [{"package": q["package"], "questionnaire": q["questionnaire"], "title": q["title"],
             "period": q["mark"].period, "min_answers": q["mark"].min_answers,
             "pair_group": q["mark"].pair_group, "pair_moment": q["mark"].pair_moment}
            for _k, q in sorted(found.items())]


def figures(runtime, actor: Actor, package: str, questionnaire: str, start: dt.date, end: dt.date) -> dict:
    """The questionnaire's answers of the periods overlapping [start, end], in aggregate."""
    _require_reader(actor)
    if end < start:
        raise ValidationFailed(f"to: {end} is before from: {start}",
                               [{"field": "to", "message": "the period ends before it starts"}])
    with runtime.db.reading() as session:
        found = declared(session).get((package, questionnaire))
        if found is None:
            raise NotFound(f"no anonymous questionnaire '{questionnaire}' in package '{package}'")
        answers = _answers(session, package, questionnaire, start, end)
        pairs = _pairs(session, package, found, start, end)
        links = anonymous_handout.counts(session, package, questionnaire)
    mark = found["mark"]
    schema = found["schema"]
    result = {"package": package, "questionnaire": questionnaire, "title": found["title"],
              "from": start.isoformat(), "to": end.isoformat(), "period": mark.period,
              "min_answers": mark.min_answers, "answers": len(answers),
              "withheld": len(answers) < mark.min_answers, "questions": [],
              # One-time links handed to clients, all time: how many, and how many were answered (nothing more).
              "links": links}
    if not result["withheld"]:
        result["questions"] = [q for q in (_question(name, prop, answers, mark.min_answers)
                                           for name, prop in (schema.get("properties") or {}).items()
                                           if name != mark.pair_field) if q is not None]
    if pairs is not None:
        result["pairs"] = pairs
    return result


def _answers(session, package: str, questionnaire: str, start: dt.date, end: dt.date,
             with_codes: bool = False) -> list:
    query = select(AnonymousAnswer.answers, AnonymousAnswer.pair_hash).where(
        AnonymousAnswer.package_key == package, AnonymousAnswer.questionnaire == questionnaire,
        AnonymousAnswer.period_start <= end, AnonymousAnswer.period_end >= start)
    rows = session.execute(query).all()
    return [tuple(r) for r in rows] if with_codes else [r[0] for r in rows]


def _question(name: str, prop: dict, answers: list[dict], least: int) -> dict | None:
    given = [a[name] for a in answers if a.get(name) is not None]
    out: dict = {"field": name, "label": prop.get("x-label"), "answered": len(given)}
    items: dict = prop["items"] if isinstance(prop.get("items"), dict) else {}
    if prop.get("type") == "string" and prop.get("enum"):
        out.update(kind="choice", options=prop.get("x-options") or {},
                   counts={str(o): sum(1 for v in given if v == o) for o in prop["enum"]})
    elif prop.get("type") == "array" and items.get("enum"):
        out.update(kind="choices", options=prop.get("x-options") or items.get("x-options") or {},
                   counts={str(o): sum(1 for v in given if isinstance(v, list) and o in v) for o in items["enum"]})
    elif prop.get("type") == "boolean":
        out.update(kind="yes_no", counts={"true": sum(1 for v in given if v is True),
                                          "false": sum(1 for v in given if v is False)})
    elif prop.get("type") in ("integer", "number"):
        numbers = [v for v in given if _number(v)]
        scale = "minimum" in prop and "maximum" in prop and prop["maximum"] - prop["minimum"] <= 20
        # A rating scale (1-5, 0-10) is shown per point as well as its mean; other numbers by their mean only.
        out.update(kind="number", counts={str(k): v for k, v in sorted(Counter(numbers).items())} if scale else {},
                   mean=round(sum(numbers) / len(numbers), 2) if numbers else None)
    elif prop.get("type") == "string":
        out.update(kind="text")  # counted only: a sentence can say who wrote it
    else:
        return None
    if out["answered"] < least:
        # Too few answered this question for its figures to hide who said what.
        out.update(withheld=True, counts={}, mean=None)
    return out


def _pairs(session, package: str, found: dict, start: dt.date, end: dt.date) -> dict | None:
    """Start and close answers under the same code: pairs whose close answer falls in the period, and the mean
    change of every number asked at both moments. A code given twice at one moment pairs nothing (two
    respondents chose the same code, or one answered twice: either way the pair is unsure)."""
    mark = found["mark"]
    if mark.pair_group is None:
        return None
    group = [q for (p, _k), q in declared(session).items() if p == package and q["mark"].pair_group == mark.pair_group]
    by_moment = {q["mark"].pair_moment: q for q in group}
    if set(by_moment) != {"start", "close"}:
        return {"group": mark.pair_group, "pairs": 0, "withheld": True, "changes": [],
                "incomplete": sorted(by_moment)}
    matched = _matched(session, package, by_moment, start, end)
    result: dict = {"group": mark.pair_group, "pairs": len(matched), "withheld": len(matched) < mark.min_answers,
                    "changes": []}
    if result["withheld"]:
        return result
    start_props = by_moment["start"]["schema"].get("properties") or {}
    close_props = by_moment["close"]["schema"].get("properties") or {}
    for name, prop in close_props.items():
        if prop.get("type") not in ("integer", "number") or (start_props.get(name) or {}).get("type") not in (
                "integer", "number"):
            continue
        both = [(a[name], b[name]) for a, b in matched if _number(a.get(name)) and _number(b.get(name))]
        if len(both) < mark.min_answers:
            continue
        n = len(both)
        result["changes"].append({"field": name, "label": prop.get("x-label"), "pairs": n,
                                  "mean_start": round(sum(a for a, _b in both) / n, 2),
                                  "mean_close": round(sum(b for _a, b in both) / n, 2),
                                  "mean_change": round(sum(b - a for a, b in both) / n, 2)})
    return result


# The figures of a paired questionnaire a declared report may show (docs/reports.md, "Paired questionnaires").
PAIRED_FIGURES = ("pairs", "mean_start", "mean_close", "mean_change", "improved", "unchanged", "worse")
TOTAL = "total"


def pair_group(session, package: str, group: str) -> dict | None:
    """The start and close questionnaires of a package's pair group ({'start': …, 'close': …}), or None."""
    found = {q["mark"].pair_moment: q for (p, _k), q in declared(session).items()
             if p == package and q["mark"].pair_group == group}
    return found if set(found) == {"start", "close"} else None


def paired_items(start_schema: dict, close_schema: dict, pair_field: str | None) -> list[str]:
    """The numbers asked at both moments, in the close questionnaire's order: the items whose change is measured."""
    opening = start_schema.get("properties") or {}
    numeric = ("integer", "number")
    return [name for name, prop in (close_schema.get("properties") or {}).items()
            if name != pair_field and isinstance(prop, dict) and prop.get("type") in numeric
            and (opening.get(name) or {}).get("type") in numeric]


def paired_figures(session, package: str, group: str, start: dt.date, end: dt.date) -> dict | None:
    """The change between the start and close answers given under the same code, for a declared report: per item
    and for the items' total, the pairs, the means at both moments, the mean change, and how many pairs improved
    (a higher answer at the close), stayed the same or got worse. Pairs as on the questionnaires page (close in
    the period, start at any time before its end; a code given twice at one moment pairs nothing). Below the
    questionnaire's ``min_answers`` pairs a figure is withheld (None); the number of pairs itself is shown.
    ``{"pairs": n, "items": {item: figures}, "total": figures}``; None when the group lacks a moment."""
    moments = pair_group(session, package, group)
    if moments is None:
        return None
    mark = moments["close"]["mark"]
    least = mark.min_answers
    matched = _matched(session, package, moments, start, end)
    items = paired_items(moments["start"]["schema"], moments["close"]["schema"], mark.pair_field)

    def figures_of(both: list[tuple[float, float]]) -> dict:
        n = len(both)
        out: dict = {"pairs": n}
        if n < least:
            return out | {k: None for k in PAIRED_FIGURES if k != "pairs"}
        return out | {"mean_start": round(sum(a for a, _b in both) / n, 2),
                      "mean_close": round(sum(b for _a, b in both) / n, 2),
                      "mean_change": round(sum(b - a for a, b in both) / n, 2),
                      "improved": sum(1 for a, b in both if b > a), "unchanged": sum(1 for a, b in both if b == a),
                      "worse": sum(1 for a, b in both if b < a)}

    per_item = {name: figures_of([(a[name], b[name]) for a, b in matched
                                  if _number(a.get(name)) and _number(b.get(name))]) for name in items}
    # The total: the sum of the items, for the pairs that answered every item at both moments.
    complete = [(a, b) for a, b in matched if all(_number(a.get(n)) and _number(b.get(n)) for n in items)]
    total = figures_of([(sum(a[n] for n in items), sum(b[n] for n in items)) for a, b in complete]) if items \
        else figures_of([])
    return {"pairs": len(matched), "min_answers": least, "items": per_item, TOTAL: total,
            "labels": {name: (moments["close"]["schema"]["properties"][name].get("x-label")) for name in items}}


def _matched(session, package: str, moments: dict, start: dt.date, end: dt.date) -> list[tuple[dict, dict]]:
    close = _answers(session, package, moments["close"]["questionnaire"], start, end, with_codes=True)
    opening = _answers(session, package, moments["start"]["questionnaire"], dt.date.min, end, with_codes=True)
    starts: dict[str, list[dict]] = defaultdict(list)
    closes: dict[str, list[dict]] = defaultdict(list)
    for answer, code in opening:
        if code:
            starts[code].append(answer)
    for answer, code in close:
        if code:
            closes[code].append(answer)
    return [(starts[c][0], closes[c][0]) for c in closes if len(closes[c]) == 1 and len(starts.get(c, [])) == 1]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
