"""Every text the modeler's own code hands to bpmn-js's `translate` is one the page gives it translated
(web/studio_texts.py), with a Hungarian translation; the browser tests read the rest (bpmn-js's own texts) from
the modeler's data-untranslated."""
from __future__ import annotations

import re
from pathlib import Path

from web.i18n import merged_catalog
from web.studio_texts import MODELER_TEXTS

SRC = Path(__file__).resolve().parents[2] / "frontend" / "src"
# Where frontend/src passes a text to translate: translate('…') / say(holder, '…'), and the field specs'
# label / description / validation texts.
_PATTERNS = [
    r"[tT]ranslate\('((?:[^'\\]|\\.)+)'", r"say\(holder, '((?:[^'\\]|\\.)+)'", r"\blabel: '((?:[^'\\]|\\.)+)'",
    r"description: '((?:[^'\\]|\\.)+)'", r'description: "([^"]+)"', r"\? '((?:[^'\\]|\\.)+)' : null",
    r"text\('segito-[a-z-]+', '((?:[^'\\]|\\.)+)'", r"property\('segito-[a-z-]+', '[A-Za-z]+', '((?:[^'\\]|\\.)+)'",
    r"script\('segito-[a-z-]+', 'spiff:[A-Za-z]+', '((?:[^'\\]|\\.)+)'", r"timeDuration: '([^']+)'",
    r"timeDate: '([^']+)'", r"timeCycle: '([^']+)'", r"[DWMYH]: '([a-z]+)'",
]


def _used() -> set[str]:
    found: set[str] = set()
    for path in [SRC / "modeler.js", *sorted((SRC / "modeler").glob("*.js"))]:
        source = path.read_text(encoding="utf-8")
        for pattern in _PATTERNS:
            found.update(m.replace("\\'", "'") for m in re.findall(pattern, source))
    return found - {""}


def test_every_modeler_text_is_listed_and_translated():
    used = _used()
    assert len(used) > 40, "the patterns no longer find the modeler's texts"
    assert sorted(used - set(MODELER_TEXTS)) == []
    hungarian = {m.id: m.string for m in merged_catalog("hu") if m.id}
    assert [t for t in MODELER_TEXTS if not hungarian.get(t)] == []
