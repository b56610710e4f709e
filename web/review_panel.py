"""The read-only panel above an approval step's form: what the step decides on (``x-review``, engine/forms/review.py),
labelled as the recording forms label it, values as a person reads them (option labels, dates, yes/no)."""
from __future__ import annotations

from engine.forms import review

from .audit_text import show_value
from .i18n import gettext as _
from .labels import field_label, field_schema, text, view_of

LAST_ROWS = 3  # of a case-log block (meetings, actions): the newest, the case page has them all


def _rows_lines(value: list, schema: dict | None) -> list[str]:
    props = ((schema or {}).get("items") or {}).get("properties") or {}
    entries = sorted((e for e in value if isinstance(e, dict)), key=lambda e: str(e.get("date") or ""),
                     reverse=True)[:LAST_ROWS]
    lines = []
    for entry in entries:
        parts = [show_value(v, props.get(k)) for k, v in entry.items()
                 if v not in (None, "") and not isinstance(v, (dict, list)) and not k.endswith("_other")]
        lines.append(" · ".join(parts))
    return lines


def _score(value, schema: dict | None) -> str:
    """A choice whose codes are digits (a score) as its digit: its label, the anchor, is on the scoring form."""
    codes = (schema or {}).get("enum") or []
    if codes and all(isinstance(c, str) and c.isdigit() for c in codes) and isinstance(value, str):
        return value
    return show_value(value, schema)


def _side_by_side(value: list, schema: dict | None, by: str) -> dict:
    """A repeatable block's rows as columns (headed by each row's ``by``), one line per field of the rows: each
    item's scores beside each other; a line whose values differ is marked."""
    rows = [r for r in value if isinstance(r, dict)]
    props = ((schema or {}).get("items") or {}).get("properties") or {}
    lines = []
    for key, prop in props.items():
        if key == by or not any(r.get(key) not in (None, "") for r in rows):
            continue
        values = [_score(r.get(key), prop) if r.get(key) not in (None, "") else "–" for r in rows]
        label = text(prop.get("x-label"), prop.get("title") or key)
        lines.append({"key": key, "label": label, "scores": values,
                      "differ": "enum" in prop and len({v for v in values if v != "–"}) > 1})
    return {"columns": [str(r.get(by) or "–") for r in rows], "lines": lines}


def _gathered(entries: list[dict], schema: dict | None, by: str) -> list[dict]:
    """A repeatable block's rows gathered under each value of the rows' ``by`` field, in the order of its choices
    (every reviewer's evidence for one item together), each row with who recorded it and when (the case log's)."""
    props = ((schema or {}).get("items") or {}).get("properties") or {}
    order = list((props.get(by) or {}).get("enum") or [])
    groups: dict = {}
    for entry in entries:
        row = entry.get("row")
        if not isinstance(row, dict):
            continue
        fields = [(k, show_value(v, props.get(k))) for k, v in row.items()
                  if k != by and v not in (None, "") and not isinstance(v, (dict, list))]
        groups.setdefault(row.get(by), []).append({
            "text": fields[0][1] if fields else "–", "others": fields[1:], "recorded_by": entry.get("recorded_by"),
            "recorded_at": entry.get("recorded_at"), "step": entry.get("step")})
    keys = sorted(groups, key=lambda k: order.index(k) if k in order else len(order))
    return [{"key": str(k), "label": show_value(k, props.get(by)) if k not in (None, "") else "–",
             "entries": groups[k]} for k in keys]


def review_panel(task: dict, schema: dict, facts: dict) -> list[dict]:
    """[{"label", "rows": [{"key", "label", "value", "lines"}]}] for the form's review groups; empty fields are
    left out (a reason's "other, namely" when another reason was chosen)."""
    declared = review.groups(schema)
    if not declared or not facts.get("definition_id"):
        return []
    from .case_views import _user_names

    view = view_of(facts["definition_id"])
    data = facts.get("data") or {}
    names = _user_names([facts.get("caseworker_id")])
    shown = []
    for group in declared:
        rows = []
        for key in group.get("fields") or []:
            if key == "client_code":
                rows.append({"key": key, "label": _("Client code"), "value": facts.get("client_code") or "–"})
                continue
            if key == "caseworker":
                rows.append({"key": key, "label": _("Caseworker"),
                             "value": names.get(facts.get("caseworker_id"), "–")})
                continue
            value = data.get(key)
            if value in (None, "", []):
                continue
            prop = field_schema(view, key)
            row = {"key": key, "label": field_label(view, key, prop)}
            if group.get("group") and isinstance(value, list):
                logged = (task.get("reviewed_entries") or {}).get(key) or [{"row": r} for r in value]
                row["grouped"] = _gathered(logged, prop, group["group"])
            elif group.get("by") and isinstance(value, list):
                row["table"] = _side_by_side(value, prop, group["by"])
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                row["lines"] = _rows_lines(value, prop)
                row["value"] = _("the last %(shown)d of %(total)d", shown=len(row["lines"]), total=len(value)) \
                    if len(value) > len(row["lines"]) else ""
            else:
                row["value"] = show_value(value, prop)
            rows.append(row)
        if rows:
            shown.append({"label": text(group.get("label")), "rows": rows})
    return shown
