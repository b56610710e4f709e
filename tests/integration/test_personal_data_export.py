"""A person's data handed to them: everything about one client, as JSON and as a page in both languages; the
commands of a person's requests (engine/privacy/, `segito privacy …`, `segito retention …`)."""
from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli import main
from engine.errors import Forbidden, NotFound
from engine.people import users
from engine.privacy import export
from engine.store import audit, clock
from engine.store.models import AuditEvent
from tests import demo_data

from .helpers import do


@pytest.fixture
def dpo(runtime, people):
    with runtime.db.unit_of_work() as session:
        users.create_user(session, "dora_dpo", "Dóra", [users.DATA_PROTECTION_OFFICER], None, "test", clock.now())
        return users.actor(session, "dora_dpo")


def _client_with_a_family_case(runtime, people):
    code = demo_data.run_intake(runtime, people.anna)
    from engine.cases import cases

    case_id = cases.start_case(runtime, "family_care", people.anna, code)["case_id"]
    do(runtime, case_id, "step_3_1", demo_data.assessment_data(), people.anna)
    return code, case_id


def test_the_export_holds_everything_about_the_client_and_is_audited(runtime, people, dpo):
    code, family = _client_with_a_family_case(runtime, people)
    other = demo_data.run_intake(runtime, people.anna, 1)  # another person: nothing of theirs may appear
    found = export.collect(runtime, dpo, code)
    assert found["format"] == export.FORMAT and found["client"]["family_name"] == "Kovács"
    assert found["client"]["birth_date"] == "1970-01-10" and found["client"]["mother_name"] == "Tóth Mária"
    assert [i["problem"] for i in found["intakes"]] == ["Lakbérhátralék, a család megélhetése bizonytalan."]
    by_process = {c["process_key"]: c for c in found["cases"]}
    assert set(by_process) == {"intake", "family_care"}
    family_case = by_process["family_care"]
    assert family_case["case_id"] == family and family_case["caseworker"] == "anna"
    assert family_case["data"] and family_case["tasks"] and family_case["history"]
    assert {t["step"] for t in family_case["tasks"]} >= {"3.1"}
    assert any(e["kind"] == "task_completed" for e in family_case["history"])
    text = export.to_json(found)
    assert json.loads(text)["client"]["client_code"] == code
    assert other not in text and "Szabó" not in text
    with runtime.db.reading() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.kind == audit.CLIENT_DATA_EXPORTED)).scalar_one()
    assert event.actor == "dora_dpo" and event.payload["client"] == code
    assert sorted(event.payload["cases"]) == sorted(c["case_id"] for c in found["cases"])
    with pytest.raises(Forbidden):
        export.collect(runtime, people.anna, code)
    with pytest.raises(NotFound, match="no client"):
        export.collect(runtime, dpo, "K-00000000")


def test_the_readable_page_is_complete_in_both_languages_and_escapes_what_was_typed(runtime, people, dpo):
    code, _family = _client_with_a_family_case(runtime, people)
    found = export.collect(runtime, dpo, code)
    found["client"]["birth_place"] = "<script>alert(1)</script>"
    hu, en = export.to_html(found, "hu"), export.to_html(found, "en")
    assert '<html lang="hu">' in hu and '<html lang="en">' in en
    for page, words in ((hu, ("Személyes adatok", "Anyja neve", "Esetfelvételek", "Előzmények", "Családi név")),
                        (en, ("Personal data", "Mother&#x27;s name", "Intakes", "History", "Family name"))):
        for word in words:
            assert word in page, word
        assert "Kovács" in page and code in page
        assert "<script>" not in page and "&lt;script&gt;" in page
    assert set(export.TEXT["hu"]) == set(export.TEXT["en"])


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _segito(database_url, *args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"DATABASE_URL": database_url, "SEGITO_USER": None},
                              catch_exceptions=False)


def test_the_commands_of_a_persons_request(runtime, people, dpo, database_url, tmp_path):
    code, family = _client_with_a_family_case(runtime, people)
    out_json, out_html = tmp_path / "req" / "data.json", tmp_path / "req" / "data.html"
    done = _segito(database_url, "privacy", "export", code, "--json", out_json, "--html", out_html, "--lang", "en",
                   "--as", "dora_dpo")
    assert done.exit_code == 0, done.output
    assert json.loads(out_json.read_text())["client"]["client_code"] == code
    assert "Personal data" in out_html.read_text()
    assert _mode(out_json) == _mode(out_html) == 0o600 and _mode(out_json.parent) == 0o700

    fixed = _segito(database_url, "privacy", "correct", code, "--data", '{"given_name": "Éva Mária"}',
                    "--reason", "birth certificate", "--as", "dora_dpo")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)["corrected"] == ["given_name"]
    refused = _segito(database_url, "privacy", "correct", code, "--data", '{"birth_date": "soon"}',
                      "--reason", "x", "--as", "dora_dpo")
    assert refused.exit_code == 2 and "birth_date" in refused.output

    held = _segito(database_url, "privacy", "hold", family, "--reason", "authority request", "--as", "mark")
    assert held.exit_code == 0 and json.loads(held.stdout)["held"]
    assert _segito(database_url, "privacy", "hold", family, "--reason", "x", "--as", "anna").exit_code == 2
    request = json.loads(_segito(database_url, "privacy", "erase", code, "--as", "dora_dpo").stdout)
    assert request["dry_run"] and request["erasable"] == []
    assert {k["kept_because"] for k in request["kept"]} == {"retention_running", "legal_hold"}
    assert _segito(database_url, "privacy", "release", family, "--reason", "closed", "--as", "mark").exit_code == 0

    clock.advance(dt.timedelta(days=5 * 366 + 1))
    planned = _segito(database_url, "retention", "report", "--as", "dora_dpo")
    assert planned.exit_code == 0 and [c["process_key"] for c in json.loads(planned.stdout)["cases"]] == ["intake"]
    applied = _segito(database_url, "retention", "apply", "--as", "dora_dpo")
    assert applied.exit_code == 0 and len(json.loads(applied.stdout)["cases"]) == 1
    assert _segito(database_url, "audit", "verify").exit_code == 0
