"""The ``x-members`` blocks of a form (docs/forms.md): which fields change a case's membership, and whether a
form's blocks are ones the engine can read (checked at deploy). engine/cases/members.py applies them."""
from __future__ import annotations

JOIN, LEAVE, ATTENDANCE = "join", "leave", "attendance"
KINDS = (JOIN, LEAVE, ATTENDANCE)
# The row fields each kind of block must have.
ROW_FIELDS = {JOIN: ("client_code", "joined_on"), LEAVE: ("client_code", "left_on"), ATTENDANCE: ("client_code",)}

# What the engine writes into the case's data after every change of the membership (engine/cases/members.py).
DATA_KEYS = ("case_members", "current_members", "member_count", "joined_in_step", "left_in_step")


def blocks(schema: dict) -> dict[str, str]:
    """field -> kind of every top-level block marked ``x-members`` in a form schema."""
    return {name: prop["x-members"] for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and prop.get("x-members") in KINDS}


def form_problems(schema: dict) -> list[tuple[str, str, dict]]:
    """What is wrong with a form's ``x-members`` blocks (deploy: a block the engine could not read): each as its
    English sentence, its code and params (web/findings.py words them)."""
    problems: list[tuple[str, str, dict]] = []
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or "x-members" not in prop:
            continue
        kind = prop["x-members"]
        if kind not in KINDS:
            problems.append((f"{name}: x-members is one of {', '.join(KINDS)}, not {kind!r}", "members_kind_unknown",
                             {"field": name, "kind": repr(kind), "kinds": ", ".join(KINDS)}))
            continue
        items = prop.get("items") or {}
        if prop.get("type") != "array" or items.get("type") != "object":
            problems.append((f"{name}: an x-members block is a repeatable block (an array of objects)",
                             "members_not_block", {"field": name}))
            continue
        props = items.get("properties") or {}
        for field in ROW_FIELDS[kind]:
            if field not in props:
                problems.append((f"{name}: a '{kind}' block's rows need the field '{field}'",
                                 "members_row_field_missing", {"field": name, "kind": kind, "row_field": field}))
            elif field != "client_code" and props[field].get("format") != "date":
                problems.append((f"{name}: '{field}' of a '{kind}' block is a date (format: date)", "members_not_date",
                                 {"field": name, "kind": kind, "row_field": field}))
        if "client_code" not in (items.get("required") or []) and "client_code" in props:
            problems.append((f"{name}: 'client_code' of a '{kind}' block must be required",
                             "members_client_code_optional", {"field": name, "kind": kind}))
        if "x-members-all" in prop and (kind == JOIN or not isinstance(prop["x-members-all"], bool)):
            problems.append((f"{name}: x-members-all is true or false, on a 'leave' or 'attendance' block",
                             "members_all_invalid", {"field": name}))
    return problems
