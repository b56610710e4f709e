"""Step documents (docs/documents.md): family care's documents produced from a case as PDF, read back with a PDF
text extractor (every field value present, accents intact), kept as versions; signed copies uploaded with their
type read from their content; all audited, all under the case's access rules; the package check of documents/."""
from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from engine import packages
from engine.cases import cases
from engine.documents import documents, render
from engine.documents.models import CaseDocument
from engine.errors import Forbidden, NotFound, PackageInvalid, ValidationFailed
from engine.people import users
from engine.store import audit, clock
from engine.store.config import BPMN_DIR
from engine.store.models import AuditEvent
from tests import demo_data

from .helpers import do, new_family_case, snapshot, task_of

ACCENTED_PLAN = "Közüzemi tartozás rendezése gyűjtőszámlával; őszi iskolakezdés előkészítése."
ACCENTED_LOG = "Családlátogatás: a befizetési szelvényeket bemutatták, a tűzifa kérdése rendeződött; ő is jelen volt."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def fonts_of(pdf: bytes) -> dict[str, bool]:
    """Each font the PDF's pages use, by name (without its subset's prefix), and whether its file is embedded."""
    found = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
            found[str(font["/BaseFont"]).split("+")[-1]] = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


def squeezed(text: str) -> str:
    """Without white space and case: a PDF breaks long values over lines wherever the layout wraps them, and the
    form prints its headings in capitals."""
    return re.sub(r"\s+", "", text).casefold()


# Set SEGITO_DOCUMENTS_OUT to a folder to keep every PDF these tests (and test_documents_registers.py) read, to
# look at them as images (docs/documents.md).
OUT = os.environ.get("SEGITO_DOCUMENTS_OUT")


def _content(runtime, actor, case_id: int, document_id: int) -> bytes:
    described, content = documents.download(runtime, case_id, document_id, actor)
    if OUT and described["kind"] == documents.PRODUCED:
        Path(OUT, f"{described['document']}-{described['language']}.pdf").write_bytes(content)
    return content


@pytest.fixture
def case_at_casework(runtime, people):
    """A family-care case through 3.1 and 3.2 with Hungarian text carrying ő and ű, one casework round done and
    the next waiting."""
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", {**demo_data.assessment_data(), "action_plan": ACCENTED_PLAN,
                                      "needs_other_helpers": True, "other_helpers": "Védőnő, iskolai szociális "
                                                                                   "segítő"}, people.anna)
    do(runtime, case_id, "step_3_2", {"agreement_date": "2026-03-05", "review_frequency": "monthly"}, people.anna)
    do(runtime, case_id, "step_3_3", {"meetings": [{**demo_data.meeting(6), "log": ACCENTED_LOG}],
                                      "actions": [demo_data.action(10, "Egyeztetés a védőnővel.")],
                                      "casework_next": "continue"}, people.anna)
    return case_id


def _shown(declaration: dict, data: dict, lang: str) -> list[str]:
    """Every value of the document's declared fields as the printed form shows it."""
    values = []
    for name in declaration["fields"]:
        schema = declaration["schemas"][name]
        value = data.get(name)
        if isinstance(value, list) and value and isinstance(value[0], dict):  # a repeatable block's rows
            items = schema["items"]["properties"]
            for row in value:
                values += [render.show_value(items.get(k), v, lang) for k, v in row.items()]
        else:
            values.append(render.show_value(schema, value, lang))
    return [v for v in values if v]


def _declaration(runtime, case_id: int, key: str) -> dict:
    from engine.documents.documents import _declarations
    from engine.store.models import Case

    with runtime.db.reading() as session:
        found, _templates = _declarations(session, session.get(Case, case_id))
    return next(d for d in found if d["id"] == key)


def test_each_family_care_document_carries_every_field_value_and_the_accents(runtime, people, case_at_casework):
    case_id = case_at_casework
    task_id = task_of(runtime, case_id, "step_3_3")
    offered = documents.offered(runtime, case_id, people.anna, task_id)
    assert [d["id"] for d in offered] == ["action_plan", "cooperation_agreement", "case_log", "contact_register"]
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    client_code = cases.get_case(runtime, case_id, people.anna)["client"]["client_code"]
    for key in ("action_plan", "cooperation_agreement", "case_log"):
        made = documents.produce(runtime, case_id, key, people.anna, "hu", task_id=task_id)
        assert made["created"] and made["version"] == 1 and made["media_type"] == "application/pdf"
        content = _content(runtime, people.anna, case_id, made["document_id"])
        # The shipped fonts, embedded: the PDF shows ő and ű on a machine that has no font of its own.
        assert fonts_of(content) == {"Segito-Sans": True, "Segito-Sans-Bold": True}, key
        text = text_of(content)
        declaration = _declaration(runtime, case_id, key)
        assert declaration["title"]["hu"].upper() in text, key
        assert client_code in text and squeezed("Családsegítés – családgondozás") in squeezed(text)
        assert "2026.03.02. · 1. változat" in text, f"{key}: the version in Hungarian word order"
        for value in _shown(declaration, data, "hu"):
            assert squeezed(value) in squeezed(text), f"{key}: {value!r} missing"
        for name in declaration["fields"]:
            label = render.localised(declaration["schemas"][name].get("x-label"), "hu", name)
            if data.get(name) not in (None, "", []) and not isinstance(data.get(name), list):
                assert squeezed(label) in squeezed(text), f"{key}: label {label!r} missing"
        assert "ő" in text and "ű" in text, f"{key}: the accents did not survive"
    agreement = text_of(_content(runtime, people.anna, case_id, documents.produce(
        runtime, case_id, "cooperation_agreement", people.anna, "hu")["document_id"]))
    assert "Kliens aláírása" in agreement and "2026.03.05." in agreement and "havonta" in agreement.lower()
    assert squeezed(ACCENTED_PLAN) in squeezed(agreement)


def test_english_and_versions_and_audit(runtime, people, case_at_casework):
    case_id = case_at_casework
    english = documents.produce(runtime, case_id, "cooperation_agreement", people.anna, "en")
    text = text_of(_content(runtime, people.anna, case_id, english["document_id"]))
    assert "COOPERATION AGREEMENT" in text and "Client's signature" in text and "2026-03-05" in text
    assert "2026-03-02 · version 1" in text and "változat" not in text
    assert "Date of the cooperation agreement" in text

    first = documents.produce(runtime, case_id, "case_log", people.anna)
    again = documents.produce(runtime, case_id, "case_log", people.anna)
    assert (again["created"], again["version"], again["document_id"]) == (False, first["version"],
                                                                           first["document_id"])
    clock.freeze(clock.now().replace(day=3))
    do(runtime, case_id, "step_3_3", {"meetings": [{**demo_data.meeting(6), "log": ACCENTED_LOG},
                                                   demo_data.meeting(7)],
                                      "actions": [demo_data.action(10, "Egyeztetés a védőnővel.")],
                                      "casework_next": "continue"}, people.anna)
    second = documents.produce(runtime, case_id, "case_log", people.anna)
    assert second["created"] and second["version"] == first["version"] + 1
    assert "2026.02.07." in text_of(_content(runtime, people.anna, case_id, second["document_id"]))
    assert "2026.02.07." not in text_of(_content(runtime, people.anna, case_id, first["document_id"]))
    listed = documents.list_documents(runtime, case_id, people.lea)
    assert [(d["document"], d["version"], d["by"]) for d in listed if d["document"] == "case_log"] == [
        ("case_log", 2, "anna"), ("case_log", 1, "anna")]
    with runtime.db.reading() as session:
        kinds = [(k, audit.readable(session, p)) for k, p in session.execute(  # payloads sealed: opened
            select(AuditEvent.kind, AuditEvent.payload).where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.seq)).all()]
    produced = [p for k, p in kinds if k == "document_produced"]
    assert [(p["document"], p["version"], p["language"]) for p in produced] == [
        ("cooperation_agreement", 1, "en"), ("case_log", 1, "hu"), ("case_log", 2, "hu")]
    assert len([k for k, _ in kinds if k == "document_downloaded"]) == 3


def test_signed_copies_are_read_by_their_content(runtime, people, case_at_casework):
    case_id = case_at_casework
    task_id = task_of(runtime, case_id, "step_3_3")
    pdf = documents.upload(runtime, case_id, "cooperation_agreement", PDF, people.anna, "aláírt.pdf", task_id)
    png = documents.upload(runtime, case_id, "cooperation_agreement", PNG, people.anna, "scan.jpg", task_id)
    jpeg = documents.upload(runtime, case_id, "action_plan", JPEG, people.anna, "photo.png")
    assert [(d["kind"], d["version"], d["media_type"], d["step"]) for d in (pdf, png, jpeg)] == [
        ("signed", 1, "application/pdf", "3.3"), ("signed", 2, "image/png", "3.3"),
        ("signed", 1, "image/jpeg", None)]
    assert png["file_name"].endswith(".png") and jpeg["file_name"].endswith(".jpg")
    assert documents.download(runtime, case_id, png["document_id"], people.lea)[1] == PNG

    refusals = [(b"just text, named .pdf", "not a PDF, PNG or JPEG", 422), (b"", "empty", 422),
                (b"%PDF-1.4\n1 0 obj", "an incomplete PDF", 422),
                (b"%PDF-" + b"0" * documents.MAX_UPLOAD_BYTES, "too large", 413),
                (b"<html><script>alert(1)</script></html>", "not a PDF, PNG or JPEG", 422)]
    for content, why, status in refusals:
        with pytest.raises(documents.FileRefused) as refused:
            documents.upload(runtime, case_id, "cooperation_agreement", content, people.anna, "x.pdf")
        assert refused.value.status == status and refused.value.details[0] == {"field": "file", "message": why}
    with pytest.raises(NotFound, match="no document 'passport'"):
        documents.upload(runtime, case_id, "passport", PDF, people.anna, "x.pdf")
    with runtime.db.reading() as session:
        uploaded = [(audit.readable(session, p),) for (p,) in session.execute(
            select(AuditEvent.payload).where(AuditEvent.case_id == case_id,
                                             AuditEvent.kind == "document_uploaded")).all()]
    assert [p["uploaded_name"] for (p,) in uploaded] == ["aláírt.pdf", "scan.jpg", "photo.png"]


def test_the_case_access_rules_hold(runtime, people, case_at_casework):
    case_id = case_at_casework
    made = documents.produce(runtime, case_id, "action_plan", people.anna)
    for call in (lambda: documents.produce(runtime, case_id, "action_plan", people.bela),
                 lambda: documents.download(runtime, case_id, made["document_id"], people.bela),
                 lambda: documents.upload(runtime, case_id, "action_plan", PDF, people.bela, "x.pdf"),
                 lambda: documents.list_documents(runtime, case_id, people.bela)):
        with pytest.raises(Forbidden):
            call()
    other = new_family_case(runtime, people, 1)
    with pytest.raises(NotFound):
        documents.download(runtime, other, made["document_id"], people.anna)
    with pytest.raises(ValidationFailed, match=r"not one of step 3\.1's documents"):
        documents.produce(runtime, other, "cooperation_agreement", people.anna,
                          task_id=task_of(runtime, other, "step_3_1"))
    with pytest.raises(ValidationFailed, match="made in hu, en, not in 'de'"):
        documents.produce(runtime, other, "action_plan", people.anna, "de")


def _document_rows(runtime, case_id: int) -> list[tuple]:
    with runtime.db.reading() as session:
        return [tuple(r) for r in session.execute(
            select(CaseDocument.id, CaseDocument.document_key, CaseDocument.kind, CaseDocument.version,
                   CaseDocument.task_id, CaseDocument.sha256).where(CaseDocument.case_id == case_id)
            .order_by(CaseDocument.id)).all()]


def test_a_signed_copy_at_a_step_is_one_of_its_documents_and_the_list_names_people(runtime, people,
                                                                                     case_at_casework):
    case_id = case_at_casework
    task_id = task_of(runtime, case_id, "step_3_3")  # offers the plan, agreement, log and register, not the memo
    with runtime.db.unit_of_work() as session:
        users.update_user(session, people.anna.id, "test", clock.now(), display_name="Kovács Anna")
    documents.upload(runtime, case_id, "case_conference_memo", PDF, people.anna, "memo.pdf")  # the case's: kept
    documents.upload(runtime, case_id, "cooperation_agreement", PNG, people.anna, "scan.png", task_id)
    before, rows = snapshot(runtime, case_id), _document_rows(runtime, case_id)
    with pytest.raises(documents.NotOffered) as refused:
        documents.upload(runtime, case_id, "case_conference_memo", JPEG, people.anna, "memo.jpg", task_id)
    assert isinstance(refused.value, ValidationFailed) and refused.value.status == 422
    assert refused.value.message == "document 'case_conference_memo' is not one of step 3.3's documents"
    assert refused.value.details == [{"field": "document", "message": "not offered at step 3.3",
                                      "kind": "not_offered"}]
    assert (snapshot(runtime, case_id), _document_rows(runtime, case_id)) == (before, rows)

    listed = documents.list_documents(runtime, case_id, people.lea)
    assert [(d["document"], d["by"], d["by_name"]) for d in listed] == [
        ("cooperation_agreement", "anna", "Kovács Anna"), ("case_conference_memo", "anna", "Kovács Anna")]
    described, _content = documents.download(runtime, case_id, listed[0]["document_id"], people.lea)
    assert described["by_name"] == "Kovács Anna"


def test_a_draft_at_the_step_fills_the_document_before_the_step_is_completed(runtime, people):
    from engine.cases import tasks

    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", {**demo_data.assessment_data(), "action_plan": ACCENTED_PLAN}, people.anna)
    task_id = task_of(runtime, case_id, "step_3_2")
    tasks.save_draft(runtime, task_id, {"agreement_date": "2026-03-04", "review_frequency": "monthly"}, people.anna)
    made = documents.produce(runtime, case_id, "cooperation_agreement", people.anna, task_id=task_id)
    assert "2026.03.04." in text_of(_content(runtime, people.anna, case_id, made["document_id"]))


def _package_copy(tmp_path: Path) -> Path:
    target = tmp_path / "family_care"
    shutil.copytree(BPMN_DIR / "family_care", target)
    return target


def test_the_package_check_names_each_problem_with_its_file_and_line(runtime, tmp_path):
    folder = _package_copy(tmp_path)
    yaml_file = folder / "documents" / "documents.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    text = text.replace("steps: [step_3_1, step_3_3, step_3_7]", "steps: [step_3_1, step_9_9]")
    text = text.replace("fields: [taken_into_care_date, agreement_date, meetings,",
                        "fields: [taken_into_care_date, agreement_date, meeting_notes, meetings,")
    yaml_file.write_text(text, encoding="utf-8")
    (folder / "documents" / "action_plan.html").write_text(
        (folder / "documents" / "action_plan.html").read_text(encoding="utf-8")
        .replace('{{ field("household_size") }}', '{{ data.client_name }}'), encoding="utf-8")
    (folder / "documents" / "case_log.html").write_text("{% extends '_layout.html' %}\n{% block body %}\n{% if %}"
                                                        "\n{% endblock %}\n", encoding="utf-8")
    (folder / "documents" / "logo.png").write_bytes(PNG)
    with pytest.raises(PackageInvalid) as refused:
        packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    found = {f"{d['file']}:{d['line']}: {d['message']}" for d in refused.value.details}
    lines = text.splitlines()
    step_line = next(i for i, x in enumerate(lines, 1) if "step_9_9" in x)
    field_line = next(i for i, x in enumerate(lines, 1) if "meeting_notes" in x)
    assert f"documents/documents.yaml:{step_line}: documents.0.steps.1: no process of this package has a user " \
           "task 'step_9_9'" in found
    assert f"documents/documents.yaml:{field_line}: documents.2.fields.2: no form of this package has a field " \
           "'meeting_notes'" in found
    assert "documents/case_log.html:3: template syntax: Expected an expression, got 'end of statement block'" in found
    assert "documents/logo.png:None: documents/ holds documents.yaml and templates (*.html, *.css) only, no " \
           "subfolders" in found
    (folder / "documents" / "case_log.html").write_text(
        (BPMN_DIR / "family_care" / "documents" / "case_log.html").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "documents" / "logo.png").unlink()
    yaml_file.write_text(text.replace("meeting_notes, ", "").replace("step_9_9", "step_3_3"), encoding="utf-8")
    with pytest.raises(PackageInvalid) as refused:
        packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    template_line = next(i for i, x in enumerate((folder / "documents" / "action_plan.html")
                                                 .read_text(encoding="utf-8").splitlines(), 1) if "client_name" in x)
    assert [f"{d['file']}:{d['line']}" for d in refused.value.details] == [
        f"documents/action_plan.html:{template_line}"]
    assert "data.client_name: the document does not declare the field 'client_name'" in \
        refused.value.details[0]["message"]


def test_a_designer_changes_a_template_by_deploying_the_package_and_earlier_cases_keep_theirs(
        runtime, people, case_at_casework, tmp_path):
    earlier_case = case_at_casework
    folder = _package_copy(tmp_path)
    template = folder / "documents" / "case_log.html"
    before = "Az esetnapló bejegyzéseit a családgondozó rögzítette"
    after = "Az esetnaplót a szakmai vezető minden hónap végén átnézi"
    template.write_text(template.read_text(encoding="utf-8").replace(before, after), encoding="utf-8")
    [deployed] = packages.deploy(runtime, [packages.from_folder(folder)], "dora", clock.now())
    assert deployed["created"] and deployed["processes"], "a changed template alone is a new package version"
    new_case = new_family_case(runtime, people, 1)

    def case_log(case_id: int) -> str:
        made = documents.produce(runtime, case_id, "case_log", people.anna)
        return squeezed(text_of(_content(runtime, people.anna, case_id, made["document_id"])))

    assert squeezed(after) in case_log(new_case) and squeezed(before) not in case_log(new_case)
    # A case keeps the templates of the version it runs on (docs/documents.md, "Storage").
    assert squeezed(before) in case_log(earlier_case) and squeezed(after) not in case_log(earlier_case)


# ---- the pages ----------------------------------------------------------------------------------------------------

def test_the_task_page_produces_and_uploads_and_the_case_page_lists_in_both_languages(runtime, people,
                                                                                       case_at_casework):
    from .web_client import browser, make_app

    case_id = case_at_casework
    task_id = task_of(runtime, case_id, "step_3_3")
    app = make_app(runtime)
    anna = browser(app, "anna")
    page = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Dokumentumok" in page and "Együttműködési megállapodás" in page and "PDF készítése (magyar)" in page
    produced = anna.post(f"/cases/{case_id}/documents/produce", {"document": "cooperation_agreement",
                                                                 "language": "hu", "task_id": str(task_id)})
    assert produced.status_code == 302 and produced.headers["Location"].endswith(f"/tasks/{task_id}#documents-title")
    page = anna.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Együttműködési megállapodás: elkészült a(z) 1. verzió." in page and "Aláírt példányra vár" in page
    uploaded = anna.post(f"/cases/{case_id}/documents/upload",
                         {"document": "cooperation_agreement", "task_id": str(task_id),
                          "file": (io.BytesIO(PNG), "aláírt.png")}, content_type="multipart/form-data")
    assert uploaded.status_code == 302
    bad = anna.post(f"/cases/{case_id}/documents/upload",
                    {"document": "cooperation_agreement", "file": (io.BytesIO(b"MZ\x90\x00 not a scan"), "scan.pdf")},
                    content_type="multipart/form-data")
    assert bad.status_code == 422 and "Az aláírt példány PDF, PNG vagy JPEG fájl lehet" in bad.get_data(as_text=True)
    missing = anna.post(f"/cases/{case_id}/documents/upload", {"document": "cooperation_agreement"},
                        content_type="multipart/form-data")
    assert missing.status_code == 422 and "Válassza ki az aláírt példány fájlját" in missing.get_data(as_text=True)
    large = anna.post(f"/cases/{case_id}/documents/upload",
                      {"document": "cooperation_agreement", "file": (io.BytesIO(b"%PDF-" + b"0" * (6 << 20)), "a.pdf")},
                      content_type="multipart/form-data")
    assert large.status_code == 413 and "az aláírt példány megengedett 5 MiB-ja" in large.get_data(as_text=True)
    huge = anna.post(f"/cases/{case_id}/documents/upload",
                     {"document": "cooperation_agreement", "file": (io.BytesIO(b"%PDF-" + b"0" * (9 << 20)), "a.pdf")},
                     content_type="multipart/form-data")
    assert huge.status_code == 413 and "legfeljebb 5 MiB lehet" in huge.get_data(as_text=True)
    case_page = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert case_page.count('data-testid="document-row"') == 2 and "Aláírt példány" in case_page
    assert "Aláírt példányra vár" not in case_page
    assert "Dokumentum elkészítve" in case_page and "Aláírt példány feltöltve" in case_page  # the timeline
    links = re.findall(rf'href="(/cases/{case_id}/documents/\d+)" data-testid="download"', case_page)
    pdf = anna.client.get(links[-1])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="cooperation_agreement-{case_id}-v1.pdf"'
    png = anna.client.get(links[0])
    assert png.mimetype == "image/png" and png.data == PNG

    anna.post("/language", {"locale": "en"})
    english = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Every version of the case's documents" in english and "Produce PDF (English)" in english
    assert "Signed copy" in english and "Dokumentumok" not in english
    bela = browser(app, "bela")
    assert bela.client.get(links[0]).status_code == 403
    assert bela.post(f"/cases/{case_id}/documents/produce", {"document": "case_log"}).status_code == 403


def test_the_pages_name_who_and_refuse_a_step_s_foreign_document_in_the_reader_s_language(runtime, people,
                                                                                          case_at_casework):
    from .web_client import browser, make_app

    case_id = case_at_casework
    task_id = task_of(runtime, case_id, "step_3_3")
    with runtime.db.unit_of_work() as session:
        users.update_user(session, people.anna.id, "test", clock.now(), display_name="Kovács Anna")
    anna = browser(make_app(runtime), "anna")
    kept = anna.post(f"/cases/{case_id}/documents/upload",
                     {"document": "cooperation_agreement", "task_id": str(task_id),
                      "file": (io.BytesIO(PNG), "scan.png")}, content_type="multipart/form-data")
    assert kept.status_code == 302
    rows = _document_rows(runtime, case_id)

    def foreign():
        return anna.post(f"/cases/{case_id}/documents/upload",
                         {"document": "case_conference_memo", "task_id": str(task_id),
                          "file": (io.BytesIO(PDF), "memo.pdf")}, content_type="multipart/form-data")

    refused = foreign()
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert ("A(z) Feljegyzés – esetkonferencia nem tartozik a(z) 3.3. lépés (" in page
            and ") dokumentumai közé" in page and "not one of" not in page), page
    produced = anna.post(f"/cases/{case_id}/documents/produce", {"document": "case_conference_memo",
                                                                 "task_id": str(task_id)})
    assert produced.status_code == 422 and "nem tartozik a(z) 3.3. lépés" in produced.get_data(as_text=True)
    assert _document_rows(runtime, case_id) == rows
    case_page = anna.get(f"/cases/{case_id}").get_data(as_text=True)
    who = re.findall(r'data-label="Ki">([^<]*)</td>', case_page)
    assert who == ["Kovács Anna"], who

    anna.post("/language", {"locale": "en"})
    english = foreign().get_data(as_text=True)
    assert "Memo – case conference is not one of the documents of step 3.3 (" in english \
        and "nem tartozik" not in english, english
    assert _document_rows(runtime, case_id) == rows
    who = re.findall(r'data-label="Who">([^<]*)</td>', anna.get(f"/cases/{case_id}").get_data(as_text=True))
    assert who == ["Kovács Anna"], who


def test_job_retention_follow_up_plan_and_employer_certificate(runtime, people):
    from engine.cases import tasks

    code = demo_data.run_intake(runtime, people.anna, 3)
    case_id = cases.start_case(runtime, "job_retention", people.anna, code)["case_id"]
    do(runtime, case_id, "jr_entry", {"entry_route": "development_plan", "development_plan_date": "2026-02-20",
                                      "employer_name": "Tűzőgép Gyártó Kft.", "employer_kind": "employer",
                                      "job_title": "gépkezelő, őr", "employment_start": "2026-02-20"}, people.anna)
    plan_task = task_of(runtime, case_id, "jr_plan")
    tasks.save_draft(runtime, plan_task, {
        "earlier_services_analysis": "A munkába helyezés tapasztalatai: pontos, de a műszakváltás nehéz neki.",
        "self_assessments": [{"date": "2026-02-25", "analysis": "Önértékelés: a betanulás jól halad, fáradékony."}],
        "employer_evaluation_agreed": True, "employer_evaluation_date": "2026-02-27",
        "employer_evaluation": "A művezető elégedett.", "follow_up_months": 6, "intensity": "standard",
        "interventions": ["client_consultation", "employer_consultation"], "methods": "Személyes konzultáció.",
        "plan_notes": "Első hónapban heti látogatás."}, people.anna)
    data = {**cases.get_case(runtime, case_id, people.anna)["data"],
            **tasks.get_task(runtime, plan_task, people.anna)["values"]}
    made = documents.produce(runtime, case_id, "follow_up_plan", people.anna, task_id=plan_task)
    text = text_of(_content(runtime, people.anna, case_id, made["document_id"]))
    declaration = _declaration(runtime, case_id, "follow_up_plan")
    for value in _shown(declaration, data, "hu"):
        assert squeezed(value) in squeezed(text), f"follow_up_plan: {value!r} missing"
    assert "Mentor aláírása" in text and "családgondozó" not in text.casefold() and "ő" in text and "ű" in text
    with pytest.raises(ValidationFailed, match="not one of step 4"):
        documents.produce(runtime, case_id, "employer_certificate", people.anna, task_id=plan_task)
    english = text_of(_content(runtime, people.anna, case_id, documents.produce(
        runtime, case_id, "employer_certificate", people.anna, "en")["document_id"]))
    assert "EMPLOYER'S CERTIFICATE" in english and "Tűzőgép Gyártó Kft." in english and "2026-02-20" in english


def test_the_command_line_produces_uploads_lists_and_fetches(runtime, people, database_url, tmp_path):
    from .test_cli import Segito

    segito = Segito(database_url)
    case_id = new_family_case(runtime, people)
    do(runtime, case_id, "step_3_1", {**demo_data.assessment_data(), "action_plan": ACCENTED_PLAN}, people.anna)
    out = tmp_path / "plan.pdf"
    made = segito.ok("document", "produce", case_id, "action_plan", "--out", out, "--as", "anna")
    assert made["version"] == 1 and made["created"] and out.read_bytes().startswith(b"%PDF-")
    assert squeezed(ACCENTED_PLAN) in squeezed(text_of(out.read_bytes()))
    scan = tmp_path / "scan.jpg"
    scan.write_bytes(JPEG)
    assert segito.ok("document", "upload", case_id, "action_plan", scan, "--as", "anna")["media_type"] == \
        "image/jpeg"
    listed = segito.ok("document", "list", case_id, "--as", "anna")
    assert [(d["kind"], d["version"]) for d in listed] == [("signed", 1), ("produced", 1)]
    copy = tmp_path / "copy.jpg"
    segito.ok("document", "get", case_id, listed[0]["document_id"], "--out", copy, "--as", "lea")
    assert copy.read_bytes() == JPEG
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"not a scan")
    refused = segito("document", "upload", case_id, "action_plan", fake, "--as", "anna")
    assert refused.exit_code == 2 and "must be a PDF, PNG or JPEG" in refused.output
    assert segito("document", "list", case_id, "--as", "bela").exit_code == 2


def test_case_management_consent_statement_and_individual_plan(runtime, people):
    from tests import case_management_data as cm

    code = demo_data.run_intake(runtime, people.anna, 4)
    case_id = cases.start_case(runtime, "case_management", people.anna, code)["case_id"]
    entry_task = task_of(runtime, case_id, "cm_entry")
    statement = documents.produce(runtime, case_id, "consent_statement", people.anna, task_id=entry_task)
    text = text_of(_content(runtime, people.anna, case_id, statement["document_id"]))
    assert "ADATKEZELÉSI NYILATKOZAT" in text and "Az ügyfél aláírása" in text and code in text
    do(runtime, case_id, "cm_entry", cm.entry(), people.anna)
    goals = [cm.goal("1", "employment", text="Elhelyezkedés őszig, gyűjtőszámla rendezése.")]
    do(runtime, case_id, "cm_assessment", cm.assessment(goals=goals), people.anna)
    data = cases.get_case(runtime, case_id, people.anna)["data"]
    made = documents.produce(runtime, case_id, "individual_plan", people.anna)
    text = text_of(_content(runtime, people.anna, case_id, made["document_id"]))
    for value in _shown(_declaration(runtime, case_id, "individual_plan"), data, "hu"):
        assert squeezed(value) in squeezed(text), f"individual_plan: {value!r} missing"
    assert "ő" in text and "ű" in text and "Esetmenedzser aláírása" in text
