"""Form files: server-side validation, conditional fields, computed fields and pre-filling.

The format is described in docs/forms.md. Validation refuses the whole submission with one error per field
(path, seed field number, message); nothing is saved when any error is found.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable

from jsonschema import Draft202012Validator, FormatChecker

from ..errors import ValidationFailed
from ..sandbox.calendar_helpers import service_zone
from ..store import clock, json_text
from . import anonymous, derived
from .entries import append_only_fields
from .form_check import compile_check

MAX_SUBMISSION_BYTES = 512 * 1024
# x-prefill-from naming a fact of the task rather than a case-data key ("task.scheduled_day").
TASK_PREFILL = "task."
_DOTTED_DATE = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})\.?$")

# Income blocks of fields 13→14–25 (household members) and 26→27–38 (the client): amounts summed into field 39.
MEMBER_INCOME_BLOCKS = ("work_incomes", "pension_incomes", "child_incomes", "municipal_incomes",
                        "other_regular_incomes", "other_revenues")
CLIENT_INCOME_BLOCKS = tuple(f"client_{b}" for b in MEMBER_INCOME_BLOCKS)


def _block_sum(obj: dict, blocks: tuple[str, ...]) -> int:
    return sum(int(row.get("amount") or 0) for b in blocks for row in obj.get(b) or [])


def total_income(data: dict) -> int:
    """Field 39: fields 15, 17, …, 25 of every household member plus 28, 30, …, 38 of the client."""
    members = sum(_block_sum(m, MEMBER_INCOME_BLOCKS) for m in data.get("household_members") or [])
    return members + _block_sum(data, CLIENT_INCOME_BLOCKS)


def per_capita_income(data: dict) -> float | None:
    """Field 40: field 39 / field 7; none when field 7 is empty or 0 (shown as "—")."""
    size = data.get("household_size")
    if not size:
        return None
    return round(total_income(data) / size, 2)


COMPUTATIONS: dict[str, Callable[[dict], object]] = {
    "total_income": total_income,
    "per_capita_income": per_capita_income,
}
# Computed by an engine service rather than from the form's own data.
SERVICE_COMPUTED = {"client_code"}


def condition_holds(cond: dict, obj) -> bool:
    """Whether an ``x-visible-when`` condition holds for the object holding the field (docs/forms.md); the form
    page shows and hides fields by the same rule."""
    value = obj.get(cond["field"]) if isinstance(obj, dict) else None
    if "equals" in cond:
        return value == cond["equals"]
    if "contains" in cond:
        return isinstance(value, list) and cond["contains"] in value
    if "contains-any" in cond:
        return isinstance(value, list) and any(v in value for v in cond["contains-any"])
    if "in" in cond:
        return not isinstance(value, list | dict) and value is not None and value in cond["in"]
    return False


def _describe_condition(cond: dict) -> str:
    if "equals" in cond:
        return f"'{cond['field']}' is {json.dumps(cond['equals'], ensure_ascii=False)}"
    if "contains" in cond:
        return f"'{cond['field']}' includes '{cond['contains']}'"
    if "in" in cond:
        return f"'{cond['field']}' is one of {', '.join(json.dumps(v, ensure_ascii=False) for v in cond['in'])}"
    return f"'{cond['field']}' includes one of {', '.join(cond['contains-any'])}"


def _object_nodes(schema: dict):
    """Every object schema in the form (the top level and the items of repeatable blocks)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if node.get("type") == "object":
            yield node
        for prop in (node.get("properties") or {}).values():
            stack.append(prop)
        if isinstance(node.get("items"), dict):
            stack.append(node["items"])


def _relaxed(schema: dict) -> dict:
    """The schema JSON Schema validates: conditional fields are checked by us, so they leave ``required``."""
    relaxed = copy.deepcopy(schema)
    for node in _object_nodes(relaxed):
        props = node.get("properties") or {}
        conditional = {n for n, p in props.items() if "x-visible-when" in p or p.get("readOnly")}
        if "required" in node:
            node["required"] = [n for n in node["required"] if n not in conditional]
    return relaxed


# Date rules a date field may declare (docs/forms.md): checked on the server, each error naming both dates.
DATE_RULES = ("x-not-before", "x-not-future", "x-max-years-back")


def _iso_date(value) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _years_back(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February, and that year has none
        return today.replace(year=today.year - years, day=28)


def service_today() -> dt.date:
    """Today in the service's time zone: what "in the future" is measured against."""
    return clock.now().astimezone(service_zone()).date()


class Form:
    """One form file, ready to validate submissions."""

    def __init__(self, name: str, schema: dict):
        self.name = name
        self.schema = schema
        # The top-level fields of every form of the same process version, by data key: where a date rule's
        # earlier date ("not before field X of step Y") gets its label. Set by the runtime's definition view.
        self.process_fields: dict[str, dict] = {}
        self._has_date_rules = any(rule in prop for node in _object_nodes(schema)
                                   for prop in (node.get("properties") or {}).values() for rule in DATE_RULES)
        relaxed = _relaxed(schema)
        self._validator = Draft202012Validator(relaxed, format_checker=FormatChecker())
        # A compiled yes/no check (engine.forms.form_check): when it says yes, jsonschema would find no error either.
        self._valid = compile_check(relaxed, self._validator.format_checker)
        # Blocks whose recorded rows later steps only append to (engine.forms.entries).
        self.append_only = append_only_fields(schema)
        # Choices that start a case of the chosen process for the same client (x-starts-case, docs/forms.md).
        self.starts_case = tuple(n for n, p in (schema.get("properties") or {}).items() if p.get("x-starts-case"))
        # A questionnaire whose answers are kept apart from the case, with nothing leading back to the respondent
        # (x-anonymous, docs/forms.md "Anonymous questionnaires"); None for an ordinary form.
        self.anonymous = anonymous.marking(schema)

    # -- reading ---------------------------------------------------------------------------------------------
    def field_names(self) -> list[str]:
        return list(self.schema.get("properties", {}))

    def prefill(self, case_data: dict, task_facts: dict | None = None) -> dict:
        """Initial values: what the case already holds for this form's fields (not its decisions), else their
        prefill source — a case-data key, or ``task.<fact>`` for what the task itself knows
        (``task.scheduled_day``: the local day a timer-fired appointment is scheduled for; docs/forms.md)."""
        values = {}
        task_facts = task_facts or {}
        for name, prop in self.schema.get("properties", {}).items():
            source = prop.get("x-prefill-from")
            fact = source[len(TASK_PREFILL):] if isinstance(source, str) and source.startswith(TASK_PREFILL) else None
            if prop.get("x-seed-step") or prop.get("x-asked-anew"):
                # A decision, or a value of the round itself (the review's date), is taken anew each time its step
                # comes: the last round's answer, shown again, would repeat that round for a caseworker who only
                # adds the new entries (docs/forms.md). The task's own day may still open it.
                day = task_facts.get(fact) if fact is not None else None
                if day is not None and not (prop.get("x-not-future") and day > service_today().isoformat()):
                    values[name] = day  # a day still to come would only be refused at submit
                elif fact is None and source and case_data.get(source) is not None:
                    # A round's own starting point the process computed for it (a meeting's attendance sheet
                    # listing the members of that day), never the last round's answer.
                    values[name] = copy.deepcopy(case_data[source])
                continue
            if fact is not None:
                # The task's own fact wins over the case's earlier value: a repeated appointment is on its own
                # day, not on the day the last one was recorded.
                if task_facts.get(fact) is not None:
                    values[name] = task_facts[fact]
                elif case_data.get(name) is not None:
                    values[name] = copy.deepcopy(case_data[name])
            elif case_data.get(name) is not None:
                # A value the process cleared (None: a repeated step's answers left with their task) pre-fills
                # nothing, so the step opens empty rather than with an empty value (docs/forms.md).
                values[name] = copy.deepcopy(case_data[name])
            elif source and case_data.get(source) is not None:
                values[name] = case_data[source]
        return values

    def _node_at(self, path: list) -> dict:
        node = self.schema
        for part in path:
            if isinstance(part, int):
                node = node.get("items", {})
            else:
                node = (node.get("properties") or {}).get(part, {})
        return node

    def _error(self, path: list, message: str, kind: str | None = None) -> dict:
        node = self._node_at(path)
        field = "/".join(str(p) for p in path) or "(form)"
        seed = node.get("x-seed-field", node.get("x-seed-step", node.get("x-seed-activity")))
        label = (node.get("x-label") or {}).get("en")
        out = {"field": field, "message": message}
        if kind:
            # The JSON Schema keyword that failed (or one of ours): lets a UI word the message in its own language.
            out["kind"] = kind
        if seed is not None:
            out["seed_field"] = seed
        if label:
            out["label"] = label
        return out

    # -- validating ------------------------------------------------------------------------------------------
    def validate(self, data, context: dict | None = None, today: dt.date | None = None) -> dict:
        """The submission, normalised and with computed fields added; raises ValidationFailed otherwise.

        ``context``: the case's data so far, where a date rule finds an earlier step's date (the submission's
        own value of that field wins); ``today``: the service's date (by default from the engine's clock)."""
        if not isinstance(data, dict):
            raise ValidationFailed(f"form '{self.name}': the submission must be a JSON object",
                                   [{"field": "(form)", "message": "expected a JSON object"}])
        try:
            text = _plain_json(data)
        except (TypeError, ValueError, RecursionError):  # values JSON has no spelling for: the slower way
            text = None
        if len(text if text is not None else json.dumps(data, default=str)) > MAX_SUBMISSION_BYTES:
            raise ValidationFailed(f"form '{self.name}': the submission is larger than {MAX_SUBMISSION_BYTES} bytes",
                                   [{"field": "(form)", "message": "submission too large"}])
        # Our own copy to normalise: the text just written, read back, is one (and several times faster to make).
        data = json.loads(text) if text is not None else _copied(data)
        errors: list[dict] = []
        self._walk(self.schema, data, [], errors)
        schema_errors = () if self._valid is not None and self._valid(data) else self._validator.iter_errors(data)
        for err in schema_errors:
            path = list(err.absolute_path)
            if err.validator == "required":
                # Name the missing field itself, so its label and seed number can be shown beside it.
                missing = err.message.split("'")[1] if "'" in err.message else ""
                errors.append(self._error(path + [missing], "is required", "required"))
            elif err.validator == "additionalProperties":
                known = set(err.schema.get("properties", {}))
                for extra in sorted(set(err.instance) - known):
                    errors.append(self._error(path + [extra], "is not a field of this form", "additionalProperties"))
            else:
                errors.append(self._error(path, _friendly(err), err.validator))
        if self._has_date_rules:
            self._check_dates(self.schema, data, [], data, context or {}, today or service_today(), errors)
        self._check_reasons(data, context or {}, errors)
        if errors:
            errors.sort(key=lambda e: e["field"])
            raise ValidationFailed(
                f"form '{self.name}' has {len(errors)} error(s): "
                + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
                errors,
            )
        self._compute(data)
        return data

    def _walk(self, node: dict, obj, path: list, errors: list) -> None:
        """Our own rules: dotted dates, visibility, computed fields, exclusive options."""
        if node.get("type") == "array" and isinstance(obj, list):
            items = node.get("items") or {}
            for i, item in enumerate(obj):
                if items.get("format") == "date" and isinstance(item, str):
                    obj[i] = _normalise_date(item)
                self._walk(items, obj[i], path + [i], errors)
            exclusive = node.get("x-exclusive-option")
            if exclusive and exclusive in obj and len(obj) > 1:
                errors.append(self._error(path, f"'{exclusive}' cannot be combined with other choices",
                                          "x-exclusive-option"))
            return
        if node.get("type") != "object" or not isinstance(obj, dict):
            return
        props = node.get("properties") or {}
        required = set(node.get("required") or [])
        for name, prop in props.items():
            here = path + [name]
            if prop.get("readOnly") or prop.get("x-computed"):
                if name in obj:
                    errors.append(self._error(here, "is computed by the server and cannot be set", "x-computed"))
                    del obj[name]
                continue
            cond = prop.get("x-visible-when")
            if cond is not None:
                visible = condition_holds(cond, obj)
                if not visible and name in obj:
                    errors.append(self._error(here, f"applies only when {_describe_condition(cond)}",
                                              "x-visible-when"))
                    continue
                if visible and name in required and obj.get(name) in (None, "", []):
                    errors.append(self._error(here, f"is required when {_describe_condition(cond)}", "required"))
            if name in obj:
                if prop.get("format") == "date" and isinstance(obj[name], str):
                    obj[name] = _normalise_date(obj[name])
                self._walk(prop, obj[name], here, errors)

    def _check_dates(self, node: dict, obj, path: list, top: dict, context: dict, today: dt.date,
                     errors: list) -> None:
        """The date rules (``x-not-before``, ``x-not-future``, ``x-max-years-back``) of every well-formed date;
        a malformed one already has its format error."""
        if node.get("type") == "array" and isinstance(obj, list):
            for i, item in enumerate(obj):
                self._check_dates(node.get("items") or {}, item, path + [i], top, context, today, errors)
            return
        if node.get("type") != "object" or not isinstance(obj, dict):
            return
        for name, prop in (node.get("properties") or {}).items():
            if name not in obj:
                continue
            if prop.get("type") in ("array", "object"):
                self._check_dates(prop, obj[name], path + [name], top, context, today, errors)
                continue
            day = _iso_date(obj[name]) if prop.get("format") == "date" else None
            if day is None:
                continue
            here = path + [name]
            if prop.get("x-not-future") and day > today:
                errors.append(dict(self._error(here, f"{day} is in the future (today is {today})", "x-not-future"),
                                   value=day.isoformat(), limit=today.isoformat()))
            years = prop.get("x-max-years-back")
            if years and day < _years_back(today, years):
                errors.append(dict(self._error(here, f"{day} is more than {years} years before today ({today})",
                                               "x-max-years-back"),
                                   value=day.isoformat(), limit=today.isoformat(), years=years))
            rule = prop.get("x-not-before")
            if rule:
                other = rule["field"]
                limit = _iso_date(top[other] if other in top else context.get(other))
                if limit is not None and day < limit:
                    errors.append(self._not_before_error(here, day, limit, rule))

    def _not_before_error(self, path: list, day: dt.date, limit: dt.date, rule: dict) -> dict:
        other = rule["field"]
        prop = (self.schema.get("properties") or {}).get(other) or self.process_fields.get(other) or {}
        labels = prop.get("x-label") or {}
        seed = prop.get("x-seed-field")
        where = ", ".join(part for part in (f"field {seed}" if seed is not None else "",
                                            f"step {rule['step']}" if rule.get("step") else "") if part)
        name = labels.get("en") or other
        out = self._error(path, f"{day} is earlier than {limit}, the {name} ({where})" if where
                          else f"{day} is earlier than {limit}, the {name}", "x-not-before")
        out.update(value=day.isoformat(), limit=limit.isoformat(), limit_field=other)
        if rule.get("step"):
            out["limit_step"] = rule["step"]
        if seed is not None:
            out["limit_seed_field"] = seed
        if labels:
            out["limit_label"] = name
            out["limit_labels"] = {k: v for k, v in labels.items() if k in ("hu", "en")}
        return out

    def _check_reasons(self, data: dict, context: dict, errors: list) -> None:
        """``x-required-when-differs``: a text (a reason) is required when a choice departs from a value given
        before it, e.g. a consensus score that differs from the score the data suggested (docs/forms.md)."""
        for name, prop in (self.schema.get("properties") or {}).items():
            rule = prop.get("x-required-when-differs")
            if not rule or data.get(name) not in (None, ""):
                continue
            chosen = data.get(rule["field"])
            given = data[rule["from"]] if rule["from"] in data else context.get(rule["from"])
            if chosen in (None, "") or given in (None, "") or str(chosen) == str(given):
                continue
            errors.append(self._error([name], f"is required: {rule['field']} ({chosen}) differs from "
                                              f"{rule['from']} ({given})", "x-required-when-differs"))

    def _compute(self, data: dict) -> None:
        # In the order the fields are written: a band reads the total computed before it.
        for name, prop in self.schema.get("properties", {}).items():
            spec = prop.get("x-computed")
            if isinstance(spec, dict):
                value = derived.compute(spec, data)
                if value is not derived.UNSET:
                    data[name] = value
                continue
            fn = COMPUTATIONS.get(spec) if isinstance(spec, str) else None
            if fn is not None:
                data[name] = fn(data)

    def validate_draft(self, data) -> dict:
        """A draft may be half-filled: only its shape is checked (an object of this form's fields)."""
        if not isinstance(data, dict):
            raise ValidationFailed("a draft must be a JSON object",
                                   [{"field": "(form)", "message": "expected an object"}])
        if len(json.dumps(data, default=str)) > MAX_SUBMISSION_BYTES:
            raise ValidationFailed("the draft is too large", [{"field": "(form)", "message": "draft too large"}])
        unknown = sorted(set(data) - set(self.field_names()))
        if unknown:
            raise ValidationFailed(f"unknown field(s) in draft: {', '.join(unknown)}",
                                   [{"field": u, "message": "unknown field"} for u in unknown])
        return data


# The submission's JSON, as json.dumps writes it, refusing what JSON cannot hold (no ``default``).
_plain_json = json_text.one_shot(json.JSONEncoder(allow_nan=False))


def _copied(value):
    """A deep copy of JSON-shaped data, several times faster than copy.deepcopy; other values are deep-copied."""
    kind = type(value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def _normalise_date(value: str) -> str:
    m = _DOTTED_DATE.match(value.strip())
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else value


def _shorten(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _friendly(err) -> str:
    kind = err.validator
    if kind == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"'{missing}' is required"
    if kind == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown field(s): {', '.join(extra)}"
    if kind == "enum":
        return f"{_shorten(err.instance)} is not one of the options ({', '.join(map(str, err.validator_value))})"
    if kind == "type":
        return f"{_shorten(err.instance)} is not of type {err.validator_value}"
    if kind == "format" and err.validator_value == "date":
        return f"{_shorten(err.instance)} is not a valid date (YYYY-MM-DD or YYYY.MM.DD)"
    if kind == "minimum":
        return f"{_shorten(err.instance)} is less than the minimum {err.validator_value}"
    if kind == "maximum":
        return f"{_shorten(err.instance)} is more than the maximum {err.validator_value}"
    if kind == "maxLength":
        return f"is longer than {err.validator_value} characters ({len(err.instance)})"
    if kind == "minLength":
        return "must not be empty" if err.validator_value == 1 else f"is shorter than {err.validator_value} characters"
    if kind == "maxItems":
        return f"has more than {err.validator_value} entries"
    if kind == "pattern":
        return f"{_shorten(err.instance)} is not in the expected format"
    if kind == "uniqueItems":
        return "lists the same choice twice"
    return err.message if len(err.message) < 200 else err.message[:197] + "..."
