"""Static checks of the names an expression reads: each must be set before that point of the process.

A gateway condition, script, timer or loop expression that reads a variable nothing sets fails only when a case
reaches it (a misspelt ``casework_nxt`` routes every case down the default flow, or stops it). Here every name
an expression reads is looked up, without running anything (Python's ``ast``), among what is set on some path
leading to the element: the fields of the forms of the user tasks before it, what scripts before it assign, a
service task's result variable, a loop's items, data objects, and what the engine itself puts into a case's data
(``known``: e.g. the manifest's ``start.data``). A name set only after the element is reported as such; an
unknown one with the nearest known name ("did you mean"). docs/services.md, "What is checked".
"""
from __future__ import annotations

import ast
import difflib
import textwrap
from collections.abc import Iterable

from ..sandbox.calendar_helpers import HELPERS
from ..sandbox.safe_builtins import RAW_BUILTINS, WRAPPED
from .why import Why

# Names every expression may read that are no case data: the sandbox's built-ins and helpers.
BUILT_IN = frozenset(RAW_BUILTINS) | frozenset(WRAPPED) | frozenset(HELPERS) | {"True", "False", "None"}


def _parse(source: str, mode: str) -> ast.AST | None:
    text = "(" + source + "\n)" if mode == "eval" else textwrap.dedent(source)
    try:
        return ast.parse(text, "<expression>", mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the sandbox's own check reports why


def reads_and_writes(source: str, mode: str) -> tuple[list[str], set[str]]:
    """(names read before this source sets them, in order of appearance; names it sets)."""
    tree = _parse(source, mode)
    if tree is None:
        return [], set()
    written: set[str] = set()
    bound_inside: set[str] = set()  # comprehension and walrus targets
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            bound_inside |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            bound_inside.add(node.target.id)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            written.add(node.id)
    reads: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound_inside
                and node.id not in written and node.id not in reads):
            reads.append(node.id)
    # A script may read what it set itself earlier (``x = 1; y = x``): only names it never sets count as read.
    return reads, written


def _reference_names(ref) -> set[str]:
    if ref is None:
        return set()
    name = getattr(ref, "bpmn_id", None) or getattr(ref, "name", None)
    return {name} if isinstance(name, str) else set()


def defined_by(ts, forms: dict[str, dict], form_property: str) -> set[str]:
    """The case-data names one task spec sets when it runs."""
    names: set[str] = set()
    form = ((getattr(ts, "extensions", None) or {}).get("properties") or {}).get(form_property)
    if form and form in forms:
        names |= set(forms[form].get("properties") or {})
    for attr in ("script", "prescript", "postscript"):
        src = getattr(ts, attr, None)
        if src:
            names |= reads_and_writes(src, "exec")[1]
    result = getattr(ts, "result_variable", None)
    if isinstance(result, str) and result:
        names.add(result)
    for attr in ("data_input", "data_output", "input_item", "output_item"):
        names |= _reference_names(getattr(ts, attr, None))
    event = getattr(ts, "event_definition", None)
    for definition in (event, *(getattr(event, "event_definitions", None) or ())):
        message_var = getattr(definition, "message_var", None)
        if isinstance(message_var, str) and message_var:
            names.add(message_var)
    for ref in getattr(ts, "data_output_associations", None) or ():
        names |= _reference_names(ref)
    return names


def _ancestors(spec, name: str) -> set[str]:
    """The task specs some path leads from to ``name`` (itself included when it is in a loop)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = spec.task_specs.get(stack.pop())
        if current is None:
            continue
        for parent in current.inputs:
            if parent.name not in seen:
                seen.add(parent.name)
                stack.append(parent.name)
    return seen


def unknown_names(spec, subprocess_specs: dict, forms: dict[str, dict], expressions: Iterable[tuple],
                  known: Iterable[str], form_property: str) -> list[tuple[str, str, str, str, str | None]]:
    """(element id, kind, source, name, why) for each name an expression reads that nothing sets before it.

    ``expressions`` are (element id, kind, source, mode) as the deploy check lists them (a gateway condition as
    "gateway→target"). Tasks of embedded subprocesses see everything the process sets anywhere: their order
    against the parent's tasks is not followed here."""
    specs = [spec, *subprocess_specs.values()]
    sets: dict[str, set[str]] = {}
    for s in specs:
        for ts in s.task_specs.values():
            sets.setdefault(ts.name, set()).update(defined_by(ts, forms, form_property))
    for s in specs:
        for obj in (getattr(s, "data_objects", None) or {}):
            sets.setdefault("", set()).add(obj)
    everywhere = set().union(*sets.values()) if sets else set()
    base: set[str] = set(BUILT_IN) | set(known) | sets.get("", set())
    found: list[tuple[str, str, str, str, str | None]] = []
    for element, kind, source, mode in expressions:
        task_name = element.split("→", 1)[0]
        reads, _ = reads_and_writes(source, mode)
        if not reads:
            continue
        if task_name in spec.task_specs:
            before = set(base)
            for ancestor in _ancestors(spec, task_name):
                before |= sets.get(ancestor, set())
            if kind in ("postscript",):
                before |= sets.get(task_name, set())
        else:
            before = base | everywhere
        for name in reads:
            if name in before:
                continue
            if name in everywhere:
                later = sorted(t for t, names in sets.items() if name in names and t)
                found.append((element, kind, source, name, Why(f"it is set only after this point (by "
                                                               f"{', '.join(later[:3])})", "set_later",
                                                               tasks=later[:3])))
                continue
            close = difflib.get_close_matches(name, sorted(before - BUILT_IN), n=1, cutoff=0.75)
            found.append((element, kind, source, name, Why(f"did you mean '{close[0]}'?", "did_you_mean",
                                                           suggestion=close[0]) if close else None))
    return found
