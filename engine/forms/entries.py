"""Append-only blocks: the rows of a case log recorded at one step are never changed by a later step.

A repeatable block marked ``"x-append-only": true`` in a form file (docs/forms.md, "Append-only blocks") is one
log of the whole case, whichever step's form shows it: the family-care meetings (47–49), actions (50–51) and
follow-up contacts (55). The engine keeps the log itself, in the workflow's own data (``workflow.data``, saved
with the case's state), as entries: the row and who recorded it, when, at which step, and its corrections. A
step's submission may only add rows at the end; the rows already recorded ("carried" rows) must come back
unchanged or not at all, else the submission is refused naming the row. Changing a recorded row is a separate
command (``engine.cases.entry_corrections``) that keeps the old value in the entry and in the audit.

The log is kept apart from the tasks' data because a task's data is only what its branch saw: the parallel
3.10 contacts each start from the data of the closure, and when they end only one contact's rows would remain.
The tasks' data still get the whole list (every completion writes it), so gateways, indicators and the next
step read it as before.
"""
from __future__ import annotations

import copy

from ..errors import ValidationFailed

# The key of the logs in ``workflow.data`` (a workflow's own data, not any task's).
LOG_KEY = "segito_append_only_logs"


def append_only_fields(schema: dict) -> tuple[str, ...]:
    """The form's top-level repeatable blocks marked ``x-append-only``."""
    return tuple(name for name, prop in (schema.get("properties") or {}).items()
                 if prop.get("x-append-only") is True and prop.get("type") == "array")


def _logs(workflow) -> dict:
    data = getattr(workflow, "data", None)
    if not isinstance(data, dict):
        return {}
    return data.get(LOG_KEY) or {}


def entries(workflow, task_data: dict, field: str) -> list[dict]:
    """The block's entries so far: ``{"row", "step", "task_id", "by", "at", "corrections"}``.

    A case whose rows were recorded before the engine kept the log has them in its task data only: they are
    carried as they are, with no recorder known."""
    kept = _logs(workflow).get(field)
    if kept is not None:
        return kept
    rows = (task_data or {}).get(field)
    return [{"row": r} for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def rows(workflow, task_data: dict, field: str) -> list[dict]:
    """The block's rows so far, as the case's log holds them."""
    return [copy.deepcopy(e["row"]) for e in entries(workflow, task_data, field)]


def overlay(workflow, data: dict) -> dict:
    """``data`` with every logged block as the log holds it (the case's whole log, not one branch's view)."""
    for field, kept in _logs(workflow).items():
        data[field] = [copy.deepcopy(e["row"]) for e in kept]
    return data


def describe(workflow, task_data: dict, fields) -> dict:
    """What a form shows above a block's new rows: each carried row with its recorder and corrections."""
    out = {}
    for field in fields:
        out[field] = [{"index": i, "row": copy.deepcopy(e["row"]), "step": e.get("step"),
                       "recorded_by": e.get("by"), "recorded_at": e.get("at"),
                       "corrections": copy.deepcopy(e.get("corrections") or [])}
                      for i, e in enumerate(entries(workflow, task_data, field))]
    return out


def _who(entry: dict) -> str:
    if entry.get("by"):
        return f"was recorded at step {entry.get('step') or '?'} by {entry['by']} at {entry.get('at')}"
    return "was recorded at an earlier step"


def take_new_rows(form, fields, workflow, task_data: dict, clean: dict, case_id: int) -> dict[str, list]:
    """The rows each block adds; refuses a submission that changes or leaves out a carried row.

    A block may be sent as the whole list (the carried rows unchanged, then the new ones: what ``values`` of
    the opened task holds) or left out (nothing new). ``x-min-new-rows`` asks for that many new rows."""
    errors, new = [], {}
    for field in fields:
        carried = entries(workflow, task_data, field)
        sent = clean.get(field)
        if sent is None:
            sent = [e["row"] for e in carried]
        fix = ("; to change a recorded entry use 'correct this entry' (POST /api/cases/"
               f"{case_id}/entries/{field}/<row>/correction), which keeps the old value")
        for i, entry in enumerate(carried):
            if i >= len(sent):
                missing = f"row {i + 1}" if i + 1 == len(carried) else f"rows {i + 1}-{len(carried)}"
                errors.append(form._error([field], f"{missing} recorded at earlier steps left out; a later step "
                                          "cannot remove them (send them unchanged, or leave the block out)"
                                          + fix.replace("<row>", str(i)), "x-append-only"))
                break
            if sent[i] != entry["row"]:
                errors.append(form._error([field, i], _who(entry) + "; a later step cannot change it"
                                          + fix.replace("<row>", str(i)), "x-append-only"))
                break  # the rows after it are most likely the same ones shifted: one error says it
        added = sent[len(carried):] if len(sent) > len(carried) else []
        minimum = form.schema["properties"][field].get("x-min-new-rows") or 0
        if len(added) < minimum and not any(e["field"].split("/")[0] == field for e in errors):
            errors.append(form._error([field], f"add at least {minimum} new entr{'y' if minimum == 1 else 'ies'} "
                                      "at this step", "x-min-new-rows"))
        new[field] = added
    if errors:
        raise ValidationFailed(f"form '{form.name}' has {len(errors)} error(s): "
                               + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors)
    return new


def record(workflow, task_data: dict, clean: dict, new: dict[str, list], *, step: str, task_id: int,
           actor: str, at: str) -> None:
    """Append the new rows to the case's log and give the submission the whole list."""
    logs = workflow.data.setdefault(LOG_KEY, {})
    for field, rows in new.items():
        kept = logs.get(field)
        if kept is None:
            kept = logs[field] = entries(workflow, task_data, field)
        kept.extend({"row": copy.deepcopy(r), "step": step, "task_id": task_id, "by": actor, "at": at,
                     "corrections": []} for r in rows)
        clean[field] = [copy.deepcopy(e["row"]) for e in kept]


def strip_carried(workflow, task_data: dict, fields, draft: dict) -> dict:
    """A draft keeps only its new rows: the carried ones are the log's, shown from it when the form reopens."""
    for field in fields:
        sent = draft.get(field)
        if not isinstance(sent, list):
            continue
        carried = [e["row"] for e in entries(workflow, task_data, field)]
        if sent[:len(carried)] == carried:
            draft[field] = sent[len(carried):]
    return draft
