"""The posted HTML form back into the nested data the engine validates, typed by the form file.

Names are paths joined by "-" (``household_members-0-work_incomes-1-amount``); row indices need not be
contiguous (form.js adds and removes rows) and come back in order, renumbered from 0. Empty inputs are left out,
and a row left entirely empty is dropped, so a spare blank row never counts. A value that cannot be typed
("abc" for a number, "maybe" for yes/no) is passed on as typed: the engine refuses it with its field-level
message, and the page shows it back as it was typed. Names the form does not know are passed on too, so the
engine's "unknown field" is what the user sees, never a silent loss.
"""
from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

# Inputs of the page that are not form data: the CSRF token and the page's own buttons (all start with "_").
RESERVED = {"csrf_token"}
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
# "2026.03.02", "2026.3.2." and "2026-3-2" are one date: written out as ISO, which the engine stores.
_LOOSE_DATE = re.compile(r"^(\d{4})\s*[.-]\s*(\d{1,2})\s*[.-]\s*(\d{1,2})\.?$")
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def _scalar(prop: dict, raw: str):
    kind = prop.get("type")
    if kind == "integer":
        compact = _SPACES.sub("", raw)  # "180 000" is how an amount is written in Hungarian
        return int(compact) if _INTEGER.match(compact) else raw
    if kind == "number":
        compact = _SPACES.sub("", raw)
        return float(compact.replace(",", ".")) if _NUMBER.match(compact) else raw
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    if prop.get("format") == "date":
        m = _LOOSE_DATE.match(raw)
        return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else raw
    return raw


def _clean(raw: str) -> str:
    # Browsers send CRLF from a textarea; the stored text uses LF.
    return raw.replace("\r\n", "\n").strip()


class _Parser:
    def __init__(self, form: MultiDict):
        self.form = form
        self.used: set[str] = set(n for n in form if n in RESERVED or n.startswith("_"))

    def _filled(self, name: str) -> list[str]:
        return [_clean(v) for v in self.form.getlist(name) if v.strip()]

    def obj(self, schema: dict, prefix: str) -> dict:
        out: dict[str, object] = {}
        props = schema.get("properties") or {}
        for name, prop in props.items():
            key = prefix + name
            if prop.get("type") == "array" and (prop.get("items") or {}).get("type") == "object":
                rows = self.rows(prop["items"], key + "-")
                if rows:
                    out[name] = rows
                continue
            if key not in self.form:
                continue
            self.used.add(key)
            filled = self._filled(key)
            if prop.get("type") == "array":
                if filled:
                    out[name] = [_scalar(prop.get("items") or {}, v) for v in filled]
            elif filled:
                out[name] = _scalar(prop, filled[0])
        # A name posted for this object that the form does not know: passed on for the engine to refuse.
        for key in self.form:
            rest = key[len(prefix):]
            if key.startswith(prefix) and rest and "-" not in rest and rest not in props and key not in self.used:
                self.used.add(key)
                filled = self._filled(key)
                if filled:
                    out[rest] = filled[0] if len(filled) == 1 else filled
        return out

    def rows(self, item_schema: dict, start: str) -> list:
        indices = set()
        for name in self.form:
            if name.startswith(start):
                head = name[len(start):].split("-", 1)[0]
                if head.isdigit():
                    indices.add(int(head))
        rows = [self.obj(item_schema, f"{start}{index}-") for index in sorted(indices)]
        return [row for row in rows if row]


def parse(schema: dict, form: MultiDict) -> dict:
    """The nested submission of one form file."""
    parser = _Parser(form)
    data = parser.obj(schema, "")
    for name in form:
        # Names that fit nowhere (an index that is not a number, an unknown block): refused as they came.
        if name not in parser.used:
            filled = parser._filled(name)
            if filled:
                data[name] = filled[0] if len(filled) == 1 else filled
    return data


def flatten(schema: dict, data: dict, prefix: str = "") -> MultiDict:
    """The inverse of ``parse``: the flat names and values a filled-in page posts (for tests and tools)."""
    out: MultiDict[str, str] = MultiDict()
    for name, prop in (schema.get("properties") or {}).items():
        if name not in data or prop.get("readOnly"):
            continue
        key, value = prefix + name, data[name]
        if prop.get("type") == "array" and (prop.get("items") or {}).get("type") == "object":
            for i, row in enumerate(value):
                for k, v in flatten(prop["items"], row, f"{key}-{i}-").items(multi=True):
                    out.add(k, v)
        elif isinstance(value, list):
            for v in value:
                out.add(key, str(v))
        elif isinstance(value, bool):
            out.add(key, "true" if value else "false")
        else:
            out.add(key, str(value))
    return out
