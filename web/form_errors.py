"""The engine's field errors, worded in the user's language and placed on the field they are about.

The engine (engine/forms/forms.py) reports each refused field with its path, an English message and ``kind`` — the
JSON Schema keyword that failed, or the form format's own (``x-visible-when``, ``x-computed``,
``x-exclusive-option``, ``x-append-only``, ``x-min-new-rows``, the date rules). The wording here is chosen by that
kind, with the limits read from the form file.
A missing field and an unknown field are placed whether the engine names them (its current way) or their
enclosing object (JSON Schema's own way): a missing one at its field, an unknown one at its row or the form.
"""
from __future__ import annotations

from flask_babel import gettext as _

from .form_render import display_date, text


def _node(schema: dict, parts: list[str]) -> dict:
    node = schema
    for part in parts:
        if part.isdigit():
            node = node.get("items") or {}
        else:
            node = (node.get("properties") or {}).get(part) or {}
    return node


def _value(values, parts: list[str]):
    for part in parts:
        if isinstance(values, list) and part.isdigit() and int(part) < len(values):
            values = values[int(part)]
        elif isinstance(values, dict):
            values = values.get(part)
        else:
            return None
    return values


def _label(schema: dict, parts: list[str], name: str, locale: str) -> str:
    prop = (_node(schema, parts).get("properties") or {}).get(name) or {}
    return text(prop.get("x-label"), locale) or name


def _type_message(expected) -> str:
    expected = expected if isinstance(expected, str) else (expected or ["?"])[0]
    if expected == "integer":
        return _("Enter a whole number (digits only).")
    if expected == "number":
        return _("Enter a number.")
    if expected == "boolean":
        return _("Answer yes or no.")
    if expected == "array":
        return _("Choose from the list.")
    return _("Enter text.")


def _message(detail: dict, schema: dict, values: dict, parts: list[str], locale: str) -> str:
    kind = detail.get("kind")
    node = _node(schema, parts)
    here = _value(values, parts)
    if kind == "type":
        return _type_message(node.get("type"))
    if kind == "enum":
        return _("“%(value)s” is not one of the options.", value=here)
    if kind == "format" and node.get("format") == "date":
        return _("Not a valid date. Write it as YYYY-MM-DD or YYYY.MM.DD, e.g. 2026-03-02.")
    if kind == "minimum":
        return _("Must be at least %(limit)s.", limit=node.get("minimum"))
    if kind == "maximum":
        return _("Must be at most %(limit)s.", limit=node.get("maximum"))
    if kind == "maxLength":
        return _("Too long: at most %(limit)s characters (now %(length)s).", limit=node.get("maxLength"),
                 length=len(here) if isinstance(here, str) else "?")
    if kind == "minLength":
        return _("Must not be empty.")
    if kind == "minItems":
        if (node.get("items") or {}).get("type") == "object":
            return _("Add at least one entry.")
        return _("Choose at least one.")
    if kind == "maxItems":
        return _("At most %(limit)s entries.", limit=node.get("maxItems"))
    if kind == "pattern":
        if node.get("x-widget") == "phone":
            return _("Not a phone number: use digits, spaces and + ( ) / . - only (6–15 digits).")
        return _("Not in the expected format.")
    if kind == "uniqueItems":
        return _("The same choice is listed twice.")
    if kind == "x-computed":
        return _("Computed by the program; it cannot be entered.")
    if kind == "x-exclusive-option":
        option = text(((node.get("x-options") or (node.get("items") or {}).get("x-options") or {})
                       .get(node.get("x-exclusive-option"))), locale)
        return _("“%(option)s” cannot be ticked together with other choices.", option=option)
    if kind in ("x-not-before", "x-not-future", "x-max-years-back"):
        return _date_rule_message(detail, locale)
    if kind == "x-members":
        return _members_message(detail, locale)
    if kind == "x-append-only":
        return _("Entries recorded at earlier steps are kept as they were: this step can only add new ones. "
                 "To change one, use “Correct this entry”.")
    if kind == "x-min-new-rows":
        return _("Add at least %(limit)s new entry at this step.", limit=node.get("x-min-new-rows"))
    cond = node.get("x-visible-when")
    if kind == "x-visible-when" and cond:
        return _("Does not apply with the answer given to “%(label)s”: leave it empty.",
                 label=_label(schema, parts[:-1], cond["field"], locale))
    if kind == "required":
        if cond and parts:
            return _("Required with the answer given to “%(label)s”.",
                     label=_label(schema, parts[:-1], cond["field"], locale))
        return _("Required.")
    return detail.get("message") or _("Refused.")


def _date_rule_message(detail: dict, locale: str) -> str:
    """A refused date, naming both dates (docs/forms.md, date rules)."""
    value, limit = display_date(detail.get("value"), locale), display_date(detail.get("limit"), locale)
    kind = detail.get("kind")
    if kind == "x-not-future":
        return _("%(value)s is in the future: it cannot be later than today, %(today)s.", value=value, today=limit)
    if kind == "x-max-years-back":
        return _("%(value)s is more than %(years)s years before today (%(today)s).", value=value,
                 years=detail.get("years"), today=limit)
    label = text(detail.get("limit_labels"), locale) or detail.get("limit_field") or ""
    if detail.get("limit_seed_field") is None:
        # A form whose seed numbers sections, not fields (job retention): the step names where the date is.
        return _("%(value)s is earlier than %(limit)s, the “%(label)s” (step %(step)s); it cannot be earlier.",
                 value=value, limit=limit, label=label, step=detail.get("limit_step", "?"))
    return _("%(value)s is earlier than %(limit)s, the “%(label)s” (field %(field)s, step %(step)s); it cannot "
             "be earlier.", value=value, limit=limit, label=label, field=detail.get("limit_seed_field", "?"),
             step=detail.get("limit_step", "?"))


def _members_message(detail: dict, locale: str) -> str:
    """A refused change of a case's membership (engine/cases/members.py), by its code."""
    code, value = detail.get("code"), detail.get("value")
    if code == "too_many_members":
        return _("At most %(limit)s members at a time: with %(joining)s joining there would be %(count)s.",
                 limit=detail.get("limit"), joining=detail.get("joining"), count=value)
    if code == "listed_twice":
        return _("%(code)s is listed twice.", code=value)
    if code == "not_a_member_now":
        return _("%(code)s is not a member now.", code=value)
    if code == "not_a_member":
        return _("%(code)s is not a member.", code=value)
    if code == "already_a_member":
        return _("%(code)s is already a member.", code=value)
    if code == "unknown_code":
        return _("No registered client has the code %(code)s: register them first.", code=value)
    if code == "left_before_joining":
        return _("%(code)s joined on %(joined)s; leaving on %(left)s would be earlier.",
                 code=detail.get("client_code"), joined=display_date(detail.get("joined_on"), locale),
                 left=display_date(value, locale))
    if code == "all_must_leave":
        return _("Every member must be listed here; still in: %(codes)s.", codes=detail.get("codes"))
    if code == "missing_from_sheet":
        return _("Every member must be on the sheet; missing: %(codes)s.", codes=detail.get("codes"))
    if code == "no_members":
        return _("This process keeps no members: tell the process designer.")
    return _("Refused.")


def place(details: list[dict], schema: dict, values: dict, locale: str) -> dict[str, list[str]]:
    """{path: [worded messages]} for the render model; "(form)" for what belongs to the form as a whole."""
    out: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        bucket = out.setdefault(path or "(form)", [])
        if message not in bucket:
            bucket.append(message)

    for detail in details:
        field = detail.get("field") or "(form)"
        parts = [] if field == "(form)" else field.split("/")
        kind = detail.get("kind")
        node = _node(schema, parts)
        if kind == "required" and node.get("type") == "object":
            # JSON Schema names the object; every required field missing from it gets its own message.
            obj = _value(values, parts)
            obj = obj if isinstance(obj, dict) else {}
            props = node.get("properties") or {}
            missing = [n for n in node.get("required") or []
                       if n in props and n not in obj and "x-visible-when" not in props[n]
                       and not props[n].get("readOnly")]
            for name in missing:
                add("/".join(parts + [name]), _("Required."))
            if missing:
                continue
        if kind == "additionalProperties":
            parent = _node(schema, parts[:-1])
            if parts and not parts[-1].isdigit() and parts[-1] not in (parent.get("properties") or {}):
                # The engine names the unknown field itself; it has no place on the page but its row's or the form's.
                add("/".join(parts[:-1]), _("Unknown field(s): %(names)s. Nothing was saved.", names=parts[-1]))
                continue
            obj = _value(values, parts)
            extra = sorted(set(obj) - set(node.get("properties") or {})) if isinstance(obj, dict) else []
            add("/".join(parts), _("Unknown field(s): %(names)s. Nothing was saved.", names=", ".join(extra)))
            continue
        add("/".join(parts), _message(detail, schema, values, parts, locale))
    return out
