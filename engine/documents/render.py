"""A document template filled and laid out as PDF.

Templates are HTML with Jinja, written by a service's designer and deployed with its package, so they run in
Jinja's sandbox (no attribute of Python's internals, no file or module) with only the values and helpers named in
docs/documents.md; a name the document does not declare is an error, not an empty string. The PDF is laid out by
WeasyPrint with the fonts shipped here (DejaVu Sans, every Hungarian letter) embedded, and it fetches nothing
else: no file, no address on the network, whatever a template names.
"""
from __future__ import annotations

import datetime as dt
import re
import traceback
from pathlib import Path

from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

FONTS = Path(__file__).with_name("fonts")
# The engine's layout, parts and style sheet (docs/documents.md, "The engine's layout"): a package's file of the same
# name wins; each is also reachable as "engine/<name>", so a package's own file can extend or import it.
BASE = Path(__file__).with_name("base")
BASE_PREFIX = "engine/"
FONT_FILES = {"regular": FONTS / "DejaVuSans.ttf", "bold": FONTS / "DejaVuSans-Bold.ttf"}
FONT_FAMILY = "Segito Sans"
# The engine's own sheet, before the template's: the embedded font, A4 with margins; a template restyles freely.
BASE_CSS = f"""
@font-face {{ font-family: "{FONT_FAMILY}"; font-weight: normal; src: url("{FONT_FILES['regular'].as_uri()}"); }}
@font-face {{ font-family: "{FONT_FAMILY}"; font-weight: bold; src: url("{FONT_FILES['bold'].as_uri()}"); }}
@page {{ size: A4; margin: 18mm 16mm 20mm 16mm; }}
html {{ font-family: "{FONT_FAMILY}"; font-size: 10pt; }}
"""
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
YES_NO = {"hu": ("Igen", "Nem"), "en": ("Yes", "No")}
_MISSING = object()


class TemplateFailed(Exception):
    """A template that does not parse or fails while filled: the file of documents/ and its line when known."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message, self.file, self.line = message, file, line


class _Files(DictLoader):
    """The templates by name, each known by its own name as its file, so a failure's traceback names it."""

    def get_source(self, environment, template):
        source, _filename, uptodate = super().get_source(environment, template)
        return source, template, uptodate


class _Row(dict):
    """A row of a repeatable block: a field its form leaves empty is simply absent, so it reads as none."""

    def __missing__(self, key):
        return None


class _Declared(dict):
    """``data``: the document's declared fields. Any other name is an error that says how to declare it."""

    def __missing__(self, key):
        raise UndefinedError(f"data.{key}: the document does not declare the field '{key}' (add it under "
                             "'fields' in documents.yaml)")


def _rows(value):
    if isinstance(value, dict):
        return _Row({k: _rows(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_rows(v) for v in value]
    return value


def base_templates() -> dict[str, str]:
    return {path.name: path.read_text("utf-8") for path in sorted(BASE.iterdir()) if path.suffix in (".html", ".css")}


def with_base(templates: dict[str, str]) -> dict[str, str]:
    """The package's templates over the engine's: a package file of the same name wins."""
    base = base_templates()
    return {**{BASE_PREFIX + name: text for name, text in base.items()}, **base, **templates}


def environment(templates: dict[str, str]) -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=_Files(with_base(templates)), undefined=StrictUndefined, autoescape=True,
                                trim_blocks=True, lstrip_blocks=True)


def syntax_problems(templates: dict[str, str], folder: str) -> list:
    """Each template that does not parse, as (file, line, message) problems."""
    from ..packages.parts import PackageProblem

    env = environment(templates)
    problems = []
    for name in sorted(templates):
        try:
            env.parse(templates[name], name=name)
        except TemplateSyntaxError as e:
            problems.append(PackageProblem(f"{folder}/{e.name or name}", e.lineno, f"template syntax: {e.message}",
                                           "template_syntax", {"detail": str(e.message)}))
    return problems


def _schema_of(schemas: dict[str, dict], path: str) -> dict | None:
    """A field's schema by its name, or ``block.field`` for a field of a repeatable block's rows."""
    head, _, rest = path.partition(".")
    schema = schemas.get(head)
    while rest and isinstance(schema, dict):
        name, _, rest = rest.partition(".")
        schema = (((schema.get("items") or {}) if schema.get("type") == "array" else schema)
                  .get("properties") or {}).get(name)
    return schema if isinstance(schema, dict) else None


def localised(value, lang: str, fallback: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("hu") or fallback)
    return str(value) if value else fallback


def show_date(value, lang: str) -> str:
    """2026-03-05 as the seed's forms write it (2026.03.05.), or as ISO in English."""
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()[:10]
    found = _ISO_DATE.match(str(value or ""))
    if not found:
        return "" if value is None else str(value)
    return f"{found[1]}.{found[2]}.{found[3]}." if lang == "hu" else found[0]


def show_number(value, lang: str) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u00a0" if lang == "hu" else ",")
    if isinstance(value, float):
        text = f"{value:,.2f}"
        return text.replace(",", "\u00a0").replace(".", ",") if lang == "hu" else text
    return str(value)


def show_value(schema: dict | None, value, lang: str) -> str:
    """One value as a printed form shows it: an option by its label, yes/no, a date, a number, a list joined."""
    if value is None or value == "" or value == []:
        return ""
    schema = schema or {}
    if isinstance(value, list):  # a multiple choice keeps its options on the list, or on its items
        items = {**(schema.get("items") or {}), **({"x-options": schema["x-options"]} if "x-options" in schema
                                                    else {})}
        return ", ".join(show_value(items, v, lang) for v in value)
    if isinstance(value, bool):
        return YES_NO[lang][0 if value else 1]
    options = schema.get("x-options") or {}
    if str(value) in options:
        return localised(options[str(value)], lang, str(value))
    if isinstance(value, int | float):
        return show_number(value, lang)
    if schema.get("format") == "date" or _ISO_DATE.match(str(value)):
        return show_date(value, lang)
    return str(value)


def _helpers(schemas: dict[str, dict], data: dict, lang: str) -> dict:
    def label(path: str) -> str:
        schema = _schema_of(schemas, path)
        if schema is None:
            raise TemplateError(f"label('{path}'): the document declares no field '{path.split('.')[0]}'"
                                if path.split(".")[0] not in schemas else f"label('{path}'): no such field")
        return localised(schema.get("x-label"), lang, schema.get("title") or path)

    def field_no(path: str) -> str:
        schema = _schema_of(schemas, path) or {}
        return str(schema.get("x-seed-field") or "")

    def show(path: str, value=_MISSING) -> str:
        if path.split(".")[0] not in schemas:
            raise TemplateError(f"show('{path}'): the document declares no field '{path.split('.')[0]}'")
        if value is _MISSING:
            value = data.get(path)
        return show_value(_schema_of(schemas, path), value, lang)

    def t(hu: str, en: str | None = None) -> str:
        return en if lang == "en" and en is not None else hu

    return {"label": label, "field_no": field_no, "show": show, "t": t}


def html(templates: dict[str, str], template: str, context: dict, schemas: dict[str, dict], lang: str) -> str:
    """The template filled with ``context`` (its ``data`` holds the declared fields) and the helpers."""
    env = environment(templates)
    env.filters["date"] = lambda value: show_date(value, lang)
    env.filters["number"] = lambda value: show_number(value, lang) if value not in (None, "") else ""
    data = _Declared({k: _rows(v) for k, v in (context.get("data") or {}).items()})
    try:
        return env.get_template(template).render(**{**context, "data": data}, **_helpers(schemas, data, lang))
    except TemplateSyntaxError as e:
        raise TemplateFailed(f"template syntax: {e.message}", e.name, e.lineno) from None
    except (UndefinedError, SecurityError, TemplateError, TypeError, ValueError, AttributeError, KeyError,
            IndexError, ZeroDivisionError) as e:
        file, line = _where(e, templates)
        why = str(e)
        raise TemplateFailed(why, file, line) from None


def _where(error: BaseException, templates: dict[str, str]) -> tuple[str | None, int | None]:
    """The template and line a failure happened at: Jinja puts the template's lines in the traceback."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename in templates or frame.filename.startswith(BASE_PREFIX):
            found = (frame.filename, frame.lineno)
    return found


def trial_context(declaration: dict, schemas: dict[str, dict], package, lang: str) -> dict:
    """What a deploy fills a template with to try it: every declared field empty."""
    return context(declaration, lang, version=1, produced_at=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
                   produced_by="", service_name=localised((package.manifest or {}).get("name"), lang, package.key),
                   service_key=package.key, caseworker_title=caseworker_title(package.manifest, lang),
                   case={"id": 0, "client_code": "", "process": package.key, "started_on": "", "caseworker": ""},
                   step=None,
                   data={name: None for name in [*declaration["fields"], *(declaration.get("logs") or {})]})


def caseworker_title(manifest: dict | None, lang: str) -> str:
    """What the service calls its caseworker (the manifest's role ``caseworker``), e.g. Családgondozó, Mentor."""
    role = (((manifest or {}).get("roles") or {}).get("caseworker") or {})
    return localised(role.get("name"), lang, "")


def context(declaration: dict, lang: str, *, version: int, produced_at: dt.datetime, produced_by: str,
            service_name: str, service_key: str, case: dict, step: dict | None, data: dict,
            caseworker_title: str = "") -> dict:
    from ..sandbox.calendar_helpers import local_date

    return {"lang": lang,
            "document": {"id": declaration["id"], "title": declaration["title"][lang], "version": version,
                         "produced_on": show_date(local_date(produced_at), lang), "produced_by": produced_by},
            "service": {"key": service_key, "name": service_name, "caseworker_title": caseworker_title},
            "case": case, "step": step,
            "data": {name: data.get(name) for name in [*declaration["fields"], *(declaration.get("logs") or {})]}}


def _fetcher():
    """WeasyPrint's fetcher, reduced to the shipped fonts: any other address a template names is refused (and the
    document is made without it)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    allowed = {path.as_uri(): path for path in FONT_FILES.values()}

    class FontsOnly(URLFetcher):
        def fetch(self, url, headers=None):
            path = allowed.get(url)
            if path is None:
                raise ValueError(f"documents fetch nothing but their fonts, not {url[:100]}")
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": "font/ttf"})

    return FontsOnly(allowed_protocols=("file",), allow_redirects=False, fail_on_errors=False)


def pdf(page: str, title: str) -> bytes:
    """The filled HTML as PDF, the shipped fonts embedded."""
    import logging

    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    # WeasyPrint logs every refused address and unknown CSS property as a warning; the document is made anyway.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    fonts = FontConfiguration()
    fetcher = _fetcher()
    base = CSS(string=BASE_CSS, font_config=fonts, url_fetcher=fetcher)
    document = HTML(string=page, url_fetcher=fetcher, base_url="about:blank").render(stylesheets=[base],
                                                                                      font_config=fonts)
    document.metadata.title = title
    return document.write_pdf()
