"""Correcting one recorded row of an append-only block: the new value replaces it, the old one is kept.

The only way to change a row recorded at an earlier step (engine.forms.entries). The entry keeps every earlier value
with who corrected it and when (``corrections``), an ``entry_corrected`` audit event records before and after,
and the case's data, the waiting tasks and the indicator rows take the new value in the same transaction.
"""
from __future__ import annotations

import copy

from ..errors import Forbidden, NotFound, ValidationFailed
from ..forms import entries
from ..forms.forms import Form
from ..people.users import PROFESSIONAL_LEAD, Actor
from ..runtime.advance import Advance
from ..runtime.runtime import Runtime
from ..store import audit, clock


def _block_form(view, field: str) -> Form:
    """A form holding only the block (its rows' schema as the process's forms declare it)."""
    for name in sorted(view.forms):
        form = view.forms[name]
        if field in form.append_only:
            prop = copy.deepcopy(form.schema["properties"][field])
            prop.pop("minItems", None)
            return Form(f"{name}#{field}", {"type": "object", "additionalProperties": False,
                                            "properties": {field: prop}})
    raise NotFound(f"this case's process has no append-only block '{field}'")


def _may_correct(actor: Actor, case) -> bool:
    # Who records the case log may correct it; the professional lead oversees it.
    return case.caseworker_id == actor.id or PROFESSIONAL_LEAD in actor.role_codes


def show(runtime: Runtime, case_id: int, field: str, index: int, actor: Actor) -> dict:
    """One recorded row, with the block's schema, for a correction page."""
    from .cases import authorised_case, case_data_and_entries

    with runtime.db.reading() as session:
        case = authorised_case(session, actor, case_id)
        if not _may_correct(actor, case):
            raise Forbidden(f"case {case_id}'s log is not yours to correct")
        view = runtime.definition(session, case.definition_id)
        form = _block_form(view, field)
        _, described = case_data_and_entries(runtime, session, case, (field,))
    found = described.get(field) or []
    if not 0 <= index < len(found):
        raise NotFound(f"block '{field}' of case {case_id} has {len(found)} recorded row(s); there is no row {index}")
    return {"case_id": case_id, "field": field, "block": form.schema["properties"][field], **found[index]}


def correct(runtime: Runtime, case_id: int, field: str, index: int, row, actor: Actor,
            reason: str | None = None) -> dict:
    """Replace row ``index`` (from 0) of block ``field`` with ``row``; one transaction, one audit event."""
    at = clock.now()
    if type(index) is not int or index < 0:
        raise ValidationFailed(f"row '{index}' is not a row number (0, 1, …)",
                               [{"field": f"{field}/{index}", "message": "not a row number"}])
    if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
        raise ValidationFailed("the reason must be text of at most 2000 characters",
                               [{"field": "reason", "message": "text of at most 2000 characters"}])
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        if not _may_correct(actor, case):
            raise Forbidden(f"case {case_id}'s log is not yours to correct")
        view = runtime.definition(session, case.definition_id)
        form = _block_form(view, field)
        workflow = runtime.workflow(session, case)
        try:
            step = Advance(runtime, session, case, workflow, view, actor.username, at)
            source = next(iter(step.ready_before.values()), None) or workflow.last_task
            task_data = source.data if source is not None else {}
            # The same rules as at the step, the date rules against the case's data included (docs/forms.md).
            try:
                clean = form.validate({field: [row]}, context=task_data)
            except ValidationFailed as err:
                for d in err.details:  # name the row corrected, not the one-row submission's row 0
                    d["field"] = d["field"].replace(f"{field}/0", f"{field}/{index}", 1)
                raise ValidationFailed(err.message.replace(f"{field}/0", f"{field}/{index}"),
                                       err.details) from None
            new_row = clean[field][0]
            kept = workflow.data.setdefault(entries.LOG_KEY, {}).get(field)
            if kept is None:
                kept = workflow.data[entries.LOG_KEY][field] = entries.entries(workflow, task_data, field)
            if index >= len(kept):
                raise NotFound(f"block '{field}' of case {case_id} has {len(kept)} recorded row(s); "
                               f"there is no row {index}")
            entry = kept[index]
            old_row = entry["row"]
            if old_row == new_row:
                raise ValidationFailed(f"{field}/{index}: the correction is the same as the recorded entry",
                                       [{"field": f"{field}/{index}", "message": "nothing to correct: the same "
                                         "as the recorded entry", "kind": "x-append-only"}])
            entry.setdefault("corrections", []).append({"by": actor.username, "at": at.isoformat(),
                                                        "before": copy.deepcopy(old_row), "reason": reason})
            entry["row"] = new_row
            # Every task that holds the old row (the waiting ones, the last one) now holds the new one.
            for task in workflow.get_tasks():
                held = task.data.get(field)
                if isinstance(held, list) and index < len(held) and held[index] == old_row:
                    held[index] = copy.deepcopy(new_row)
            step.audit.add(audit.ENTRY_CORRECTED, {"field": field, "row": index, "step": entry.get("step"),
                                                   "recorded_by": entry.get("by"), "recorded_at": entry.get("at"),
                                                   "reason": reason, "before": {field: [old_row]},
                                                   "after": {field: [new_row]}})
            step.finish()
        except BaseException:
            runtime.workflows.evict(case_id)
            raise
    return {"case_id": case_id, "field": field, "row": index, "before": old_row, "after": new_row,
            "corrected_by": actor.username, "corrected_at": at.isoformat()}
