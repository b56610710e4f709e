"""A second version of family care for the designer's diff and migration tests: step 3.4 gets a new id (so it is
removed and another added), 3.3 a new name, the 3.3 gateway's review route a new condition, and the casework form
a new optional field."""
from __future__ import annotations

import json

from engine.definitions import definitions
from engine.store import clock
from engine.store.config import BPMN_DIR

FAMILY = BPMN_DIR / "family_care" / "family_care.bpmn"
RENAMED = ("step_3_4", "step_3_4_discussion")


def upload() -> definitions.Upload:
    base = definitions.Upload.from_path(FAMILY)
    xml = base.bpmn_bytes.decode("utf-8")
    for old, new in ((f'"{RENAMED[0]}"', f'"{RENAMED[1]}"'), (f">{RENAMED[0]}<", f">{RENAMED[1]}<"),
                     ('id="step_3_3" name="3.3 Esetmunka"', 'id="step_3_3" name="3.3 Esetmunka (folyamatos)"'),
                     ("casework_next == 'review'", "casework_next in ('review', 'check')")):
        assert old in xml, old
        xml = xml.replace(old, new)
    forms = dict(base.forms)
    casework = json.loads(forms["casework.json"])
    casework["properties"]["casework_note"] = {"type": "string", "title": "Megjegyzés",
                                               "x-label": {"hu": "Megjegyzés", "en": "Note"}}
    forms["casework.json"] = json.dumps(casework, ensure_ascii=False).encode("utf-8")
    return definitions.Upload("family_care.bpmn", xml.encode("utf-8"), forms)


def deploy(runtime, note: str = "3.4 renamed") -> int:
    """Deploys the second version; returns its version number."""
    with runtime.db.unit_of_work() as session:
        definition, created = definitions.deploy(session, upload(), "dora", clock.now(), note=note)
        assert created
        return definition.version
