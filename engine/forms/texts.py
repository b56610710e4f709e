"""Texts the engine writes into a case in every language at once (``{"hu": ..., "en": ...}``), so each reader sees
them in their own language, whoever recorded them and in whatever language they worked (docs/forms.md, "Values
from a report").

A value of this shape is a text, not a form's nested object: pages and exports show the reader's part.
"""
from __future__ import annotations

LANGUAGES = ("hu", "en")


def is_text(value) -> bool:
    """A text in several languages: a non-empty mapping of language codes to strings, nothing else."""
    return isinstance(value, dict) and bool(value) and set(value) <= set(LANGUAGES) \
        and all(isinstance(v, str) for v in value.values())


def in_language(value, lang: str) -> str:
    """The reader's part of a text (Hungarian, then any, when theirs is missing); other values unchanged as str."""
    if is_text(value):
        return value.get(lang) or value.get("hu") or next(iter(value.values()))
    return "" if value is None else str(value)
