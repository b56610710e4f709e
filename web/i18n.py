"""Languages: Hungarian by default, English per user; message catalogues compiled when the app starts.

Every ``*.po`` file in ``web/translations/<lang>/LC_MESSAGES/`` is merged into that language's one ``messages``
catalogue, so each area of the app may keep its own file (``messages.po`` for the pages, ``task.po`` for the
task page, …) without two people editing one file. The compiled ``.mo`` files go to a cache directory keyed by
the catalogues' content, so no separate compile command is needed and a changed ``.po`` is never served stale.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, session
from flask_babel import Babel, get_translations

TRANSLATIONS = Path(__file__).with_name("translations")
LANGUAGES = ("hu", "en")
DEFAULT_LANGUAGE = "hu"


def _po_files(lang: str) -> list[Path]:
    return sorted((TRANSLATIONS / lang / "LC_MESSAGES").glob("*.po"))


def merged_catalog(lang: str) -> Catalog:
    """All of one language's catalogues as one; a message defined twice keeps the first file's translation."""
    merged = Catalog(locale=lang, domain="messages")
    for path in _po_files(lang):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for message in catalog:
            if message.id and message.id not in merged:
                merged[message.id] = message
    return merged


def compile_catalogues() -> Path:
    """Compile the ``.po`` files into ``<cache>/<lang>/LC_MESSAGES/messages.mo``; returns the cache directory."""
    digest = hashlib.sha256()
    for lang in LANGUAGES:
        for path in _po_files(lang):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    target = Path(tempfile.gettempdir()) / f"segito-translations-{digest.hexdigest()[:16]}"
    for lang in LANGUAGES:
        mo = target / lang / "LC_MESSAGES" / "messages.mo"
        if mo.exists():
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed, so a second process starting at the same time never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, merged_catalog(lang))
        os.replace(tmp, mo)
    return target


def select_locale() -> str:
    actor = g.get("actor")
    if actor is not None and actor.locale in LANGUAGES:
        return actor.locale
    chosen = session.get("locale")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _translations():
    # Looked up once per request: Flask-Babel's own lookup costs ~0.1 ms, and a page has ~150 strings.
    found = g.get("_segito_translations")
    if found is None:
        found = g._segito_translations = get_translations()
    return found


def gettext(message: str, **variables) -> str:
    """Flask-Babel's gettext with the per-request lookup cached (the case page translates hundreds of values)."""
    text = _translations().ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return _translations().ungettext(singular, plural, num) % variables


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


def init_app(app: Flask) -> Babel:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Budapest")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compile_catalogues())
    babel = Babel(app, locale_selector=select_locale)
    # The same callables as Flask-Babel installs (newstyle: Jinja formats and escapes), with the lookup cached.
    # install_gettext_callables is added to the environment at run time by Jinja's i18n extension (Flask-Babel
    # loads it), so Jinja's types cannot declare it.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: _translations().ugettext(s), lambda s, p, n: _translations().ungettext(s, p, n), newstyle=True)
    return babel


def extract_messages(paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Every translatable message in the app's templates and modules → where it occurs (for tests and for
    keeping the catalogues complete)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file

    keywords = {**DEFAULT_KEYWORDS, "_l": None, "N_": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

    web = Path(__file__).parent
    paths = paths or sorted([*web.glob("*.py"), *web.glob("templates/**/*.html")])
    found: dict[str, list[str]] = {}
    for path in paths:
        method = "python" if path.suffix == ".py" else "jinja2.ext:babel_extract"
        options = {} if path.suffix == ".py" else {"extensions": "jinja2.ext.do", "newstyle_gettext": "true"}
        for _lineno, message, _comments, _context in extract_from_file(method, str(path), keywords=keywords,
                                                                         options=options):
            # A plural message is catalogued under its singular.
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault(msgid, []).append(f"{path.relative_to(web)}:{_lineno}")
    return found
