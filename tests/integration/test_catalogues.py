"""The message catalogues are complete: every message the templates and Python modules use has a Hungarian
translation — every plural form, nothing fuzzy — and the English catalogue, where it translates at all
(it may leave msgstr empty: the English msgid is shown), is complete too (web/translations/README.md)."""
from __future__ import annotations

from babel.core import Locale
from babel.messages.pofile import read_po

from web import i18n


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def test_every_message_used_has_a_complete_hungarian_translation():
    used = i18n.extract_messages()
    assert len(used) > 300
    hu = i18n.merged_catalog("hu")
    plurals = Locale.parse("hu").plural_form.rules  # Hungarian: "one" and "other" — two forms
    problems = []
    for msgid, where in used.items():
        message = hu.get(msgid)
        place = ", ".join(where[:2])
        if message is None or not all(_forms(message)):
            problems.append(f"missing: {msgid!r} ({place})")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({place})")
        elif message.pluralizable and len(_forms(message)) != len(plurals) + 1:
            problems.append(f"plural forms: {msgid!r} has {len(_forms(message))} ({place})")
    assert not problems, "\n".join(problems)


def test_no_catalogue_entry_is_fuzzy_or_half_translated():
    problems = []
    for lang in i18n.LANGUAGES:
        for path in i18n._po_files(lang):
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
            # The header's plural rule must be the language's: a rule of one form for Hungarian made
            # "%(num)d steps" fall back to the English plural.
            if catalog.num_plurals != (2 if lang in ("hu", "en") else catalog.num_plurals):
                problems.append(f"{path.name} ({lang}): Plural-Forms has {catalog.num_plurals} forms")
            for message in catalog:
                if not message.id:
                    continue
                forms = _forms(message)
                if message.fuzzy:
                    problems.append(f"{lang}/{path.name}: fuzzy {message.id!r}")
                if any(forms) and not all(forms):
                    problems.append(f"{lang}/{path.name}: some forms empty {message.id!r}")
    assert not problems, "\n".join(problems)


def test_the_catalogue_check_sees_what_the_templates_use():
    # The extractor reads templates and modules: a message known to be used by a page and one from Python.
    used = i18n.extract_messages()
    assert "%(num)d step" in used and "A password is required." in used
