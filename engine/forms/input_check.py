"""What every value entering the engine from outside must be, checked in one place (docs/web.md, "Bad input").

Text must be text both databases can store and every page can show: no NUL character (PostgreSQL's text and
JSON refuse it, SQLite would store it) and no lone surrogate (a "\\ud800" escape in JSON gives a Python string
that cannot be written as UTF-8, so the page showing it back would fail). Nested data (form data, drafts)
is at most ``MAX_DEPTH`` levels deep: the forms need a handful, and deeper data would only make every later
walk over it (validation, saving, showing) recursive work. Ids and counts (offsets, pages) fit a signed 64-bit
integer, the column type of both databases. A refusal is a ``BadInput`` (400) naming the field and what is
wrong with it; nothing is saved.
"""
from __future__ import annotations

from ..errors import NotFound, SegitoError, ValidationFailed

MAX_DEPTH = 32
MAX_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
MAX_OFFSET = 1_000_000_000  # rows skipped by paging; with the page size added it stays far inside 64 bits
MAX_VERSION = 2**31 - 1  # a process's version is an INTEGER column: 32 bits on PostgreSQL


class BadInput(SegitoError):
    """A value that cannot be taken at all (not text, nested too deep, out of range); ``details`` names it."""

    status = 400
    code = "bad_request"


def text_problem(text: str) -> str | None:
    """Why this string cannot be stored and shown, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            return f"contains a lone surrogate (\\u{ord(text[e.start]):04x}), which is not text"
    return None


def _refuse(field: str, problem: str, what: str):
    raise BadInput(f"{what} '{field}' {problem}", [{"field": field, "message": problem}])


def check_text(field: str, text, what: str = "the field"):
    """Refuse text that is not text (a value of another type is the caller's to check)."""
    problem = text_problem(text) if isinstance(text, str) else None
    if problem:
        _refuse(field, problem, what)
    return text


def check_data(data, root: str = "", what: str = "the field") -> None:
    """Every string (keys too) of nested JSON-shaped data is text, and the data is at most MAX_DEPTH deep.

    Iterative, so data nested far deeper than the limit is refused, not a RecursionError. Fields are named by
    their path, "/"-separated as in form errors (``household_members/0/name``); ``root`` prefixes the path."""
    stack = [(data, root, 0)]
    while stack:
        value, path, depth = stack.pop()
        kind = type(value)
        if kind is str:
            problem = text_problem(value)
            if problem:
                _refuse(path or "(form)", problem, what)
        elif kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                _refuse(path or "(form)", f"is nested more than {MAX_DEPTH} levels deep", what)
            items = value.items() if kind is dict else enumerate(value)
            for key, item in items:
                if type(key) is str:
                    problem = text_problem(key)
                    if problem:
                        _refuse(f"{path}/{key!r}" if path else repr(key), f"(a name) {problem}", what)
                stack.append((item, f"{path}/{key}" if path else str(key), depth + 1))


def check_offset(name: str, value: int) -> int:
    if not 0 <= value <= MAX_OFFSET:
        raise BadInput(f"'{name}' must be from 0 to {MAX_OFFSET}, not {value}",
                       [{"field": name, "message": f"must be from 0 to {MAX_OFFSET}"}])
    return value


def is_id(text: str) -> bool:
    """Whether text spells an id: ASCII digits only ("²" is a digit to str.isdigit, not to int), in range."""
    return text.isascii() and text.isdigit() and len(text) <= 19 and 1 <= int(text) <= MAX_ID


def whole_number(text: str, digits: int = 18) -> int | None:
    """``text`` as a whole number if it is at most ``digits`` ASCII digits, else None: "²" is a digit to
    str.isdigit but not to int, and a longer number could not be compared with a database column."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= digits else None


def version_number(name: str, value) -> int:
    """A process version a caller names (a JSON number, or the text of a query parameter): ASCII digits only
    ("²" is a digit to str.isdigit, not to int), from 1 to ``MAX_VERSION``; a longer one could not even be
    compared with the column. Anything else is refused naming the field (422, as a version no rule allows)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise ValidationFailed(f"'{name}' must be a version number from 1 to {MAX_VERSION}, not {str(value)[:40]!r}",
                               [{"field": name, "message": f"must be a version number from 1 to {MAX_VERSION}"}])
    return value


def check_id(what: str, value: int) -> int:
    """An id no row can have is not found (the databases cannot even compare it with their ids)."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} does not exist (ids are whole numbers from 1 to {MAX_ID})")
    return value


def check_position(what: str, value: int) -> int:
    """A position in a list (row 0, 1, …): beyond what a database can hold, there is no such row."""
    if not 0 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} does not exist (positions are whole numbers from 0 to {MAX_ID})")
    return value


def check_id_filter(name: str, value: int) -> int:
    """An id given as a filter: one no row can have is a mistake to name, not an empty answer."""
    if not 1 <= value <= MAX_ID:
        raise BadInput(f"'{name}' must be an id from 1 to {MAX_ID}, not {value}",
                       [{"field": name, "message": f"must be an id from 1 to {MAX_ID}"}])
    return value


def depth(value) -> int:
    """How deeply lists and dicts nest in value (a string or number: 0), walked without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        kind = type(item)
        if kind in (dict, list, tuple, set, frozenset):
            level += 1
            deepest = max(deepest, level)
            stack.extend((v, level) for v in (item.values() if kind is dict else item))
    return deepest


def deepest_variable(scopes) -> tuple[str, int]:
    """The name and depth of the most deeply nested variable in some mappings of variables (task data)."""
    found = ("", 0)
    for scope in scopes:
        for name, value in scope.items():
            level = depth(value)
            if level > found[1]:
                found = (str(name), level)
    return found
