"""A reason given by a check, as the English sentence the command line prints, with a stable ``code`` and its
``params`` (the names, values and suggestion it quotes), so the web app words it in the reader's language
(web/findings.py; docs/services.md, "What is checked")."""
from __future__ import annotations


class Why(str):
    code: str
    params: dict

    def __new__(cls, text: str, code: str, **params):
        made = super().__new__(cls, text)
        made.code, made.params = code, params
        return made
