"""The step documents built from rows (docs/documents.md): family care's client-contact register and its case
conference papers, the self-help group's application forms and attendance sheet, job retention's follow-up log of
every visit and case management's case log and service log, each produced from a demo case and read back with a
PDF text extractor (every value present, accents intact)."""
from __future__ import annotations

import os
from pathlib import Path

from engine.cases import cases, tasks
from engine.documents import documents, render
from tests import demo_data

from .helpers import do, new_family_case, task_of, through_agreement
from .test_documents import _content, squeezed, text_of
from .test_documents import case_at_casework as case_at_casework  # the fixture, shared

# Set SEGITO_DOCUMENTS_OUT to a folder to keep every PDF these tests make (to look at them as images).
OUT = os.environ.get("SEGITO_DOCUMENTS_OUT")


def produced(runtime, actor, case_id: int, key: str, lang: str = "hu", task_id: int | None = None) -> str:
    made = documents.produce(runtime, case_id, key, actor, lang, task_id=task_id)
    content = _content(runtime, actor, case_id, made["document_id"])
    if OUT:
        Path(OUT, f"{key}-{lang}.pdf").write_bytes(content)
    return text_of(content)


def has_all(text: str, values, what: str) -> None:
    for value in values:
        assert squeezed(str(value)) in squeezed(text), f"{what}: {value!r} missing"


def test_the_contact_register_lists_every_meeting_and_action_by_date(runtime, people, case_at_casework):
    case_id = case_at_casework
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    text = produced(runtime, people.anna, case_id, "contact_register", task_id=task_of(runtime, case_id,
                                                                                      "step_3_3"))
    assert "FORGALMI NAPLÓ" in text and "ő" in text and "ű" in text
    rows = [*data["meetings"], *data["actions"]]
    has_all(text, [render.show_date(r["date"], "hu") for r in rows] + [r["log"] for r in rows], "contact_register")
    has_all(text, ["Személyes találkozás", "Intézkedés (a kliens nélkül)", "Szignó"], "contact_register")
    # In date order: the meeting (day 6) before the action (day 10).
    assert text.index(render.show_date(data["meetings"][0]["date"], "hu")) < \
        text.index(render.show_date(data["actions"][0]["date"], "hu"))
    english = produced(runtime, people.anna, case_id, "contact_register", "en")
    assert "CLIENT-CONTACT REGISTER" in english and "Forgalmi" not in english


def test_the_case_conference_invitation_attendance_sheet_and_memo(runtime, people):
    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "case_conference"}, people.anna)
    task_id = task_of(runtime, case_id, "step_3_5")
    draft = {**demo_data.conference_data([]), "invitation_registry_number": "CS-112/2026",
             "conference_involvements": [{"name": "Nevelési Tanácsadó", "kind": "institution",
                                          "reason": "Iskolai beilleszkedés segítése, tűzoltó szülői értekezlet."}]}
    draft["conference_participants"][1].update(attended=True, organisation="Petőfi Általános Iskola, Szűcs utca")
    draft.pop("actions")
    tasks.save_draft(runtime, task_id, draft, people.anna)
    offered = [d["id"] for d in documents.offered(runtime, case_id, people.anna, task_id)]
    assert offered == ["cooperation_agreement", "case_conference_invitation", "case_conference_attendance",
                       "case_conference_memo"]
    names = [p["name"] for p in draft["conference_participants"]]
    invitation = produced(runtime, people.anna, case_id, "case_conference_invitation", task_id=task_id)
    has_all(invitation, ["MEGHÍVÓ ESETKONFERENCIÁRA", "CS-112/2026", "2026.02.25.", "2026.02.18.", *names,
                         "Petőfi Általános Iskola, Szűcs utca", "családtag", "szakember", "Családgondozó"],
            "invitation")
    sheet = produced(runtime, people.anna, case_id, "case_conference_attendance", task_id=task_id)
    has_all(sheet, ["JELENLÉTI ÍV", "2026.02.25.", *names, "Szűcs utca", "Aláírás"], "attendance")
    memo = produced(runtime, people.anna, case_id, "case_conference_memo", task_id=task_id)
    has_all(memo, ["FELJEGYZÉS", "Jelen voltak", *names, *[t["task"] for t in draft["conference_tasks"]],
                   "2026.03.31.", "2026.03.15.", "Nevelési Tanácsadó", draft["conference_involvements"][0]["reason"]],
            "memo")
    for text in (invitation, sheet, memo):
        assert "ő" in text and "ű" in text
    english = produced(runtime, people.anna, case_id, "case_conference_invitation", "en", task_id=task_id)
    assert "INVITATION TO A CASE CONFERENCE" in english and "family member" in english and "Tisztelt" not in english
