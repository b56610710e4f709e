"""Anonymous questionnaires (docs/forms.md, "Anonymous questionnaires"): a form marked ``x-anonymous`` whose
answers are kept apart from the case, with nothing that leads back to the respondent.

This module reads the marking and checks it at deploy time; engine/cases/anonymous_answers.py stores a submitted
answer, engine/reports/anonymous.py counts them.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

PERIODS = ("month", "quarter", "year")
MOMENTS = ("start", "close")
DEFAULT_PERIOD = "quarter"
# Fewer answers than this in a figure and it is not shown: with two or three answers a reader who knows who
# answered could tell who said what. A questionnaire may ask for more, never for fewer than the floor.
DEFAULT_MIN_ANSWERS = 3
MIN_ANSWERS_FLOOR = 2
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Keywords that would tie an answer to the case: carried case logs, a linked case, a value taken from the case.
_REFUSED_KEYWORDS = ("x-append-only", "x-starts-case", "x-prefill-from", "x-computed", "x-review")


@dataclass(frozen=True)
class Anonymous:
    """What a form's ``x-anonymous`` says."""

    questionnaire: str
    period: str = DEFAULT_PERIOD
    min_answers: int = DEFAULT_MIN_ANSWERS
    pair_field: str | None = None
    pair_group: str | None = None
    pair_moment: str | None = None
    hand_out_days: int = 14  # how long a one-time link to answer on one's own device stays valid (docs/forms.md)


def marking(schema: dict) -> Anonymous | None:
    """The form's anonymity, or None for an ordinary form. Assumes a form that passed ``problems``."""
    mark = schema.get("x-anonymous")
    if not isinstance(mark, dict):
        return None
    pair = mark.get("pair") or {}
    return Anonymous(questionnaire=mark["questionnaire"], period=mark.get("period", DEFAULT_PERIOD),
                     min_answers=mark.get("min_answers", DEFAULT_MIN_ANSWERS), pair_field=pair.get("field"),
                     pair_group=pair.get("group"), pair_moment=pair.get("moment"),
                     hand_out_days=mark.get("hand_out_days", 14))


def problems(name: str, schema: dict) -> list[dict]:
    """What is wrong with a form's ``x-anonymous``, at deploy time."""
    if "x-anonymous" not in schema:
        return []
    mark = schema["x-anonymous"]
    out: list[tuple[str, str, dict]] = []
    if not isinstance(mark, dict) or set(mark) - {"questionnaire", "period", "min_answers", "pair", "hand_out_days"}:
        return [{"file": name, "message": 'x-anonymous must be {"questionnaire": "<key>", "period": "month|quarter|'
                 'year", "min_answers": <n>, "pair": {"field": "<code field>", "group": "<key>", "moment": '
                 '"start|close"}} (only questionnaire is required)', "code": "anonymous_invalid", "params": {}}]
    if not isinstance(mark.get("questionnaire"), str) or not _KEY.fullmatch(mark["questionnaire"]):
        out.append(("x-anonymous: questionnaire must be a key (lower-case letters, digits, _)",
                    "anonymous_questionnaire_invalid", {}))
    if mark.get("period", DEFAULT_PERIOD) not in PERIODS:
        out.append((f"x-anonymous: period must be one of {', '.join(PERIODS)}", "anonymous_period_invalid",
                    {"periods": ", ".join(PERIODS)}))
    least = mark.get("min_answers", DEFAULT_MIN_ANSWERS)
    if type(least) is not int or not MIN_ANSWERS_FLOOR <= least <= 1000:
        out.append((f"x-anonymous: min_answers must be a whole number from {MIN_ANSWERS_FLOOR} to 1000",
                    "anonymous_min_answers_invalid", {"least": MIN_ANSWERS_FLOOR}))
    days = mark.get("hand_out_days", 14)
    if type(days) is not int or not 1 <= days <= 90:
        out.append(("x-anonymous: hand_out_days must be a whole number of days from 1 to 90",
                    "anonymous_hand_out_days_invalid", {}))
    props = schema.get("properties") or {}
    if "pair" in mark:
        pair = mark["pair"]
        if (not isinstance(pair, dict) or set(pair) != {"field", "group", "moment"}
                or not isinstance(pair.get("group"), str) or not _KEY.fullmatch(pair["group"])
                or pair.get("moment") not in MOMENTS):
            out.append(('x-anonymous: pair must be {"field": "<code field>", "group": "<key>", "moment": '
                        '"start" or "close"}', "anonymous_pair_invalid", {}))
        elif (props.get(pair["field"]) or {}).get("type") != "string":
            out.append((f"x-anonymous: pair field '{pair['field']}' must be a top-level text field of the form",
                        "anonymous_pair_field_invalid", {"field": str(pair["field"])}))
    for node_name, prop in _all_properties(schema):
        for keyword in _REFUSED_KEYWORDS:
            if keyword in prop:
                out.append((f"field '{node_name}': {keyword} cannot be used in an anonymous questionnaire (it "
                            "would tie the answer to the case)", "anonymous_keyword_refused",
                            {"field": node_name, "keyword": keyword}))
    return [{"file": name, "message": m, "code": code, "params": params} for m, code, params in out]


def _all_properties(schema: dict):
    stack = [schema]
    while stack:
        node = stack.pop()
        for pname, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict):
                yield pname, prop
                stack.append(prop)
        if isinstance(node.get("items"), dict):
            stack.append(node["items"])


def period_of(day: dt.date, period: str) -> tuple[dt.date, dt.date]:
    """The first and last day of the month, quarter or year holding the day."""
    if period == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    first_month = day.month if period == "month" else 3 * ((day.month - 1) // 3) + 1
    last_month = first_month if period == "month" else first_month + 2
    return (dt.date(day.year, first_month, 1),
            dt.date(day.year, last_month, calendar.monthrange(day.year, last_month)[1]))


def normalised_code(code: str) -> str:
    """A pairing code as the respondent meant it: case, accents and spacing do not matter ("Kék ég" = "kek eg")."""
    folded = unicodedata.normalize("NFKD", code.casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())
