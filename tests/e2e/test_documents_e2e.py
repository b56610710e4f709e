"""Step documents in a real browser: at 3.3 the caseworker produces the cooperation agreement as a PDF, uploads its
signed copy, and finds both listed on the case page with their versions — in Hungarian, then in English (a second
PDF, in English). Screenshots go to test-artifacts/documents-*.png."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.documents import documents
from tests.integration.helpers import do, new_family_case, task_of, through_agreement

MEETING = {"date": "2026-02-06", "place": "client_home", "log": "Családlátogatás: a tűzifa ügye rendeződött."}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_produce_upload_and_list_in_hungarian_and_english(page, live_server, login, shot, tmp_path):
    rt, people = live_server.runtime, live_server.people
    case_id = new_family_case(rt, people)
    through_agreement(rt, people, case_id)
    do(rt, case_id, "step_3_3", {"meetings": [MEETING], "casework_next": "continue"}, people.anna)
    task_id = task_of(rt, case_id, "step_3_3")

    # ---- Hungarian: produce at the step, then upload the signed copy ------------------------------------
    login(page, "anna")
    page.goto(f"/tasks/{task_id}")
    agreement = page.get_by_test_id("document-cooperation_agreement")
    expect(agreement).to_contain_text("Együttműködési megállapodás")
    agreement.get_by_test_id("produce-cooperation_agreement-hu").click()
    page.wait_for_url(re.compile(rf"/tasks/{task_id}"))
    expect(page.locator(".flash-success")).to_have_text("Együttműködési megállapodás: elkészült a(z) 1. verzió.")
    expect(agreement.get_by_test_id("awaiting-signature")).to_have_text("Aláírt példányra vár")
    with page.expect_download() as download:
        agreement.get_by_test_id("download-latest").click()
    saved = tmp_path / "agreement.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")

    scan = tmp_path / "aláírt-megállapodás.png"
    scan.write_bytes(PNG)
    page.get_by_test_id("upload-document").select_option("cooperation_agreement")
    page.get_by_test_id("upload-file").set_input_files(str(scan))
    shot(page, "documents-task-hungarian")
    page.get_by_test_id("upload").click()
    page.wait_for_url(re.compile(rf"/tasks/{task_id}"))
    expect(page.locator(".flash-success")).to_contain_text("az aláírt példány megőrizve (1. verzió)")
    expect(agreement.get_by_test_id("awaiting-signature")).to_have_count(0)

    # A file that is no scan, named .pdf: refused with the reason.
    fake = tmp_path / "scan.pdf"
    fake.write_bytes(b"MZ\x90\x00 a program, not a scan")
    page.get_by_test_id("upload-file").set_input_files(str(fake))
    page.get_by_test_id("upload").click()
    expect(page.locator("body")).to_contain_text("Az aláírt példány PDF, PNG vagy JPEG fájl lehet")
    page.go_back()

    # ---- the case page lists both; in English, a PDF in English ------------------------------------------
    page.goto(f"/cases/{case_id}")
    rows = page.get_by_test_id("document-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Aláírt példány")
    expect(rows.nth(1)).to_contain_text("Elkészített PDF (magyar)")
    expect(rows.nth(1)).to_contain_text("Anna")  # who produced it, by display name
    page.get_by_test_id("switch-language").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.get_by_test_id("documents")).to_contain_text("Documents")
    page.get_by_test_id("document-cooperation_agreement").get_by_test_id(
        "produce-cooperation_agreement-en").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}"))
    expect(page.locator(".flash-success")).to_have_text("Cooperation agreement: version 2 produced.")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Produced PDF (English)")
    expect(rows.nth(1)).to_contain_text("Signed copy")
    shot(page, "documents-case-english")
    listed = documents.list_documents(rt, case_id, people.anna)
    assert [(d["kind"], d["version"], d["language"]) for d in listed] == [
        ("produced", 2, "en"), ("signed", 1, None), ("produced", 1, "hu")]
