"""What a step shows read-only for review before its form: ``x-review`` (docs/forms.md, "Review").

An approval step (the lead agreeing to a closure) decides on what earlier steps recorded; its form names those
data keys in groups, and the task page shows their current values above the form, labelled as their own forms
label them. Besides data keys a group may name the case's own facts (``CASE_FACTS``), which no form records.
"""
from __future__ import annotations

CASE_FACTS = ("client_code", "caseworker")


def groups(schema: dict | None) -> list[dict]:
    """The form's review groups: [{"label": {hu, en}, "fields": [key, …], "by": row field}] (none when it declares
    none). ``by``: the group's repeatable blocks are shown side by side, one column per row headed by that field of
    the row (each reviewer's scores beside the others'), one line per field of the rows. ``group``: the group's
    repeatable blocks are shown with their rows gathered under each value of that field of the rows (every
    reviewer's evidence for one item together), each row with who recorded it and when."""
    declared = (schema or {}).get("x-review")
    return [g for g in declared if isinstance(g, dict)] if isinstance(declared, list) else []


def shape_problems(name: str, schema: dict) -> list[dict]:
    """x-review must be a list of {"label": {"hu", "en"}, "fields": [data keys]}."""
    if "x-review" not in schema:
        return []
    declared = schema["x-review"]
    shape = ('x-review must be a list of {"label": {"hu": …, "en": …}, "fields": ["<data key>", …]} (and '
             '"by": "<field of the rows>" to show repeatable blocks side by side, or "group": "<field of the '
             'rows>" to show their rows gathered by that field)')
    if not isinstance(declared, list) or not declared:
        return [{"file": name, "message": shape, "code": "form_review_invalid", "params": {}}]
    problems = []
    for n, group in enumerate(declared, 1):
        if (not isinstance(group, dict) or set(group) - {"label", "fields", "by", "group"}
                or not isinstance(group.get("by", ""), str) or not isinstance(group.get("group", ""), str)
                or ("by" in group and "group" in group)
                or not isinstance(group.get("label"), dict) or not {"hu", "en"} <= set(group["label"])
                or not isinstance(group.get("fields"), list) or not group["fields"]
                or not all(isinstance(f, str) and f for f in group["fields"])):
            problems.append({"file": name, "message": f"group {n}: {shape}", "code": "form_review_invalid",
                             "params": {"group": n}})
    return problems


def reference_problems(forms: dict[str, dict]) -> list[dict]:
    """Every key a form shows for review is recorded by some form of the same process (or is a case fact)."""
    recorded = {key for schema in forms.values() for key in (schema.get("properties") or {})}
    problems = [{"file": name, "message": f"x-review names '{key}', which no form of this process records "
                 f"(case facts: {', '.join(CASE_FACTS)})", "code": "form_review_key_unknown",
                 "params": {"key": key, "facts": ", ".join(CASE_FACTS)}}
                for name, schema in sorted(forms.items()) for group in groups(schema)
                for key in group.get("fields") or [] if key not in recorded and key not in CASE_FACTS]
    # Side by side (``by``): every field of the group is a repeatable block whose rows have that field.
    row_fields = {key: set((prop.get("items") or {}).get("properties") or {})
                  for schema in forms.values() for key, prop in (schema.get("properties") or {}).items()
                  if isinstance(prop, dict) and prop.get("type") == "array"}
    for name, schema in sorted(forms.items()):
        for group in groups(schema):
            for how, words in (("by", "side by side by"), ("group", "gathered by")):
                by = group.get(how)
                for key in group.get("fields") or [] if by else []:
                    if key in recorded and by not in row_fields.get(key, set()):
                        problems.append({"file": name, "message": f"x-review shows '{key}' {words} '{by}', "
                                         f"which is not a field of its rows", "code": "form_review_by_unknown",
                                         "params": {"key": key, "how": how, "by": by}})
    return problems
