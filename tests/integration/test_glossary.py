"""One term for each thing (docs/glossary.md), and no internal document wording shown to users: the rejected
variants are looked for in the message catalogues, the templates, the form JSON and the BPMN names."""
from __future__ import annotations

import json
import re
from pathlib import Path

from babel.messages.pofile import read_po
from lxml import etree

from engine.store.config import BPMN_DIR
from web import i18n

WEB = Path(i18n.__file__).parent
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"

# (pattern, why) — matched case-insensitively on text a user reads.
REJECTED = [
    (r"ügyf[eé]l(?!nyilvántartás)", "the person served is a 'kliens' (ügyfél only in the document title "
                                     "Ügyfélnyilvántartás)"),
    # "a kliens azonosító adatai" (the client's identifying data) is another thing and stays.
    (r"kliens ?azonosító(?! adat)|ügyfélkód", "the client identifier is the 'Kliens kód'"),
    (r"\bclient id\b", "the client identifier is the 'client code'"),
    (r"eredményindikátor", "the day-180 figure is a 'kimeneti indikátor'"),
    (r"legalább [^.]* lehet\b", "a limit reads 'A legkisebb megengedett érték: …'"),
    (r"mentődött", "machine-made: 'Nem történt mentés' / 'nincs elmentve'"),
    (r"hibára futott", "machine-made: 'Sikertelen'"),
    (r"\bseed\b|\bseeds\b", "internal document wording; name the programme standard"),
    (r"\d{3}-as forrás|a forrás nem", "internal document wording; name the programme standard"),
]
# A package's forms and diagrams keep their programme standard's wording: case management's standard (seed 001)
# calls the person served "ügyfél" throughout, so the kliens rule does not apply to its texts.
OWN_WORDING = {"case_management/": {REJECTED[0][0]}}
# Job-retention staff are mentors, not caseworkers.
JOB_RETENTION_REJECTED = [(r"családgondozó", "job-retention staff are mentors")]


def _hits(text: str, where: str, rules) -> list[str]:
    return [f"{where}: {m.group(0)!r} — {why}" for pattern, why in rules
            for m in re.finditer(pattern, text, re.IGNORECASE)]


def _own_wording(where: str) -> set[str]:
    return next((rules for prefix, rules in OWN_WORDING.items() if where.startswith(prefix)), set())


def _po_texts():
    for lang in i18n.LANGUAGES:
        for path in i18n._po_files(lang):
            with path.open("rb") as fh:
                for message in read_po(fh, locale=lang):
                    if not message.id:
                        continue
                    ids = message.id if isinstance(message.id, tuple) else (message.id,)
                    strings = message.string if isinstance(message.string, tuple) else (message.string,)
                    for text in (*ids, *strings):
                        if text:
                            yield f"{lang}/{path.name} {ids[0][:40]!r}", text


def _template_texts():
    for path in sorted((WEB / "templates").rglob("*.html")):
        # The text between the tags: Jinja code, comments and HTML attributes (class names) are not read by users;
        # the messages the template shows are checked in the catalogues.
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        yield str(path.relative_to(WEB)), re.sub(r"<[^>]*>", " ", text)


def _json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def _form_texts():
    for path in sorted(BPMN_DIR.glob("*/forms/*.json")):
        for text in _json_strings(json.loads(path.read_text(encoding="utf-8"))):
            yield str(path.relative_to(BPMN_DIR)), text


def _document_texts():
    """A service's printed documents: their titles and their templates' text (docs/documents.md)."""
    for path in sorted(BPMN_DIR.glob("*/documents/*")):
        if path.suffix in (".html", ".yaml"):
            text = path.read_text(encoding="utf-8")
            # The declarations' comments are for designers, not read by users.
            yield str(path.relative_to(BPMN_DIR)), re.sub(r"(?m)^\s*#.*$", "", text)


def _bpmn_texts():
    """What the pages show of a BPMN file: element names, the English names and document lists, and the
    description lines of the documentation."""
    for path in sorted(BPMN_DIR.glob("*/*.bpmn")):
        root = etree.parse(str(path)).getroot()
        where = str(path.relative_to(BPMN_DIR))
        for el in root.iter():
            if el.get("name") and not el.tag.startswith(SPIFF):
                yield where, el.get("name")
            if el.tag == f"{SPIFF}property" and el.get("name") in ("nameEn", "documents", "documentsHu", "label"):
                yield where, el.get("value") or ""
            if etree.QName(el).localname == "documentation":
                for line in (el.text or "").splitlines():
                    if line.startswith(("Leírás:", "Description:")):
                        yield where, line


def _all_texts():
    yield from _po_texts()
    yield from _template_texts()
    yield from _form_texts()
    yield from _bpmn_texts()
    yield from _document_texts()


def test_no_rejected_variant_in_catalogues_templates_forms_or_bpmn():
    problems = [hit for where, text in _all_texts()
                for hit in _hits(text, where, [rule for rule in REJECTED if rule[0] not in _own_wording(where)])]
    problems += [hit for where, text in [*_form_texts(), *_bpmn_texts(), *_document_texts()]
                 if where.startswith("job_retention")
                 for hit in _hits(text, where, JOB_RETENTION_REJECTED)]
    assert not problems, "\n".join(problems)


def test_the_check_finds_each_rejected_variant():
    # Each rule catches the wording it was written for (so a typo in a pattern cannot silently pass everything).
    samples = ["Az ügyféllel", "Ügyfélkód", "Kliens azonosító", "client ID", "Eredményindikátor",
               "Legalább 0 lehet.", "Semmi sem mentődött el", "Hibára futott", "The indicators of seed 003",
               "A 003-as forrás szerint", "a forrás nem ad leírást"]
    for sample in samples:
        assert _hits(sample, "sample", REJECTED), sample
    assert not _hits("Ügyfélnyilvántartás; Kliens kód; kliens; a kliens azonosító adatai", "sample", REJECTED)
    assert _hits("Mentor (családgondozó)", "job_retention", JOB_RETENTION_REJECTED)
