"""Reports and audit over HTTP: the JSON API (against openapi.yaml) and the pages, with who may see what."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.store.models import AuditEvent
from tests import demo_data

from .test_api import conforms
from .web_client import browser, make_app

PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}


@pytest.fixture
def world(runtime, people):
    code_a = demo_data.run_intake(runtime, people.anna, 0)
    closed = demo_data.run_family_care(runtime, people.anna, people.lea, code_a, loops=1)  # closed 2026-06-30
    code_b = demo_data.run_intake(runtime, people.bela, 1)
    running = demo_data.run_family_care(runtime, people.bela, people.lea, code_b, stop_at="3.6")
    return {"closed": closed, "running": running}


@pytest.fixture
def app(runtime):
    return make_app(runtime)


class Api:
    def __init__(self, app):
        self.client = app.test_client()

    def get(self, path, who, **query):
        return self.client.get(path, query_string=query, auth=(who, f"pw-{who}"))


@pytest.fixture
def api(app):
    return Api(app)


def values(report):
    return {i["id"]: i["value"] for i in report["indicators"]}


REPORT, SPEC = "/api/reports/family_care", "/api/reports/{report}"


def test_api_report_for_the_manager_and_the_caseworker(world, api, people):
    everyone = conforms(api.get(REPORT, "mark", **PERIOD), SPEC, "get")
    assert values(everyone)["I1"] == 2 and values(everyone)["I13"] is None
    assert values(everyone)["I12"] == 148.0  # 2026-02-02 → 2026-06-30
    own = conforms(api.get(REPORT, "anna", **PERIOD), SPEC, "get")
    assert own["caseworker_id"] == people.anna.id and values(own)["I1"] == 1
    refused = api.get(REPORT, "anna", caseworker=people.bela.id, **PERIOD)
    assert refused.status_code == 403
    conforms(refused, SPEC, "get")
    bad = api.get(REPORT, "mark", **{"from": "2026-02-30", "to": "2026-12-31"})
    assert bad.status_code == 422 and "'from'" in conforms(bad, SPEC, "get")["message"]
    missing = api.get(REPORT, "mark", to="2026-12-31")
    assert missing.status_code == 400
    assert api.get(REPORT, "dora", **PERIOD).status_code == 403
    assert conforms(api.get("/api/reports/nothing", "mark", **PERIOD), SPEC, "get") and \
        api.get("/api/reports/nothing", "mark", **PERIOD).status_code == 404
    listed = conforms(api.get("/api/reports", "anna"), "/api/reports", "get")
    assert "family_care" in {r["key"] for r in listed}
    assert conforms(api.get("/api/reports", "dora"), "/api/reports", "get") == []


def test_api_drill_down_and_names(world, api, people):
    path, spec = "/api/reports/family_care/cases", "/api/reports/{report}/cases"
    listing = conforms(api.get(path, "mark", indicator="I13", key="successful", **PERIOD), spec, "get")
    assert [i["case_id"] for i in listing["items"]] == [world["closed"]]
    named = conforms(api.get(path, "lea", indicator="I1", names="1", **PERIOD), spec, "get")
    assert all(i["name"] for i in named["items"]) and named["total"] == 2
    assert api.get(path, "anna", indicator="I1", names="1", **PERIOD).status_code == 403
    mine = conforms(api.get(path, "anna", indicator="I1", **PERIOD), spec, "get")
    assert [i["case_id"] for i in mine["items"]] == [world["closed"]] and "name" not in mine["items"][0]
    assert api.get(path, "mark", indicator="I42", **PERIOD).status_code == 422


def test_api_exports_csv_and_xlsx(world, api):
    csv_text = api.get(REPORT, "mark", format="csv", **PERIOD).get_data(as_text=True)
    assert "I1,Family-care processes in the interval,2,pcs" in csv_text
    assert "I14,Share of closures by reason,—" in csv_text
    xlsx = api.get(REPORT, "mark", format="xlsx", lang="hu", **PERIOD)
    book = load_workbook(io.BytesIO(xlsx.get_data()))
    # Hungarian content under Hungarian headings: the export follows the reader's language.
    assert book.sheetnames == ["Mutatószámok", "Jövedelemsávok (I5)", "Problématípusok (I6 I7 I17)",
                               "Lezárás okai (I13 I14)", "Családgondozók", "Hónapok"]
    rows = list(book["Mutatószámok"].iter_rows(values_only=True))
    assert ("azonosító", "mutató", "érték", "mértékegység", "lásd") in rows
    assert ("I1", "Családgondozási folyamatok száma adott időintervallumban", 2, "db", None) in rows
    reasons = list(book["Lezárás okai (I13 I14)"].iter_rows(values_only=True))
    assert reasons[1][0] == "sikeres együttműködés, újabb probléma nem merült fel" and reasons[1][1] == 1


def test_api_job_retention_figures_answer_even_without_follow_ups(world, api):
    body = conforms(api.get("/api/reports/job_retention", "mark", **PERIOD), SPEC, "get")
    values = {i["id"]: i["value"] for i in body["indicators"]}
    assert values["O1"] == 0 and values["O5"] == 0  # clients followed up; lay helpers: a sum of nothing is 0
    assert values["R3"] is None  # employed on day 180: no checks, no share
    # The key as the old address wrote it, with hyphens, is the same report.
    assert conforms(api.get("/api/reports/job-retention", "mark", **PERIOD), SPEC, "get")["report"] == "job_retention"


def test_api_audit_log_for_the_manager_only(world, api, runtime):
    path = "/api/audit/events"
    page = conforms(api.get(path, "mark", case=world["closed"], kind="task_completed"), path, "get")
    assert page["total"] >= 6 and {e["case_id"] for e in page["items"]} == {world["closed"]}
    assert api.get(path, "anna").status_code == 403
    history = conforms(api.get(f"/api/audit/cases/{world['running']}", "mark"), "/api/audit/cases/{case_id}", "get")
    assert history["problems"] == [] and history["events"][0]["kind"] == "case_started"
    viewed = conforms(api.get(path, "mark", kind="case_viewed"), path, "get")
    assert viewed["items"][0]["case_id"] == world["running"]  # reading the history was itself logged
    verified = conforms(api.get("/api/audit/verify", "mark"), "/api/audit/verify", "get")
    assert verified["ok"] is True
    assert api.get("/api/audit/verify", "lea").status_code == 403


@pytest.mark.parametrize("path", ["/api/reports", "/api/reports/family_care", "/api/reports/family_care/cases",
                                  "/api/reports/job_retention", "/api/audit/events", "/api/audit/cases/1",
                                  "/api/audit/verify"])
def test_api_routes_need_credentials(app, path):
    response = app.test_client().get(path, query_string=PERIOD)
    assert response.status_code == 401


def test_report_page_with_charts_drill_down_and_downloads(world, app):
    mark = browser(app, "mark")
    listing = mark.get("/reports/").get_data(as_text=True)
    assert 'href="/reports/family_care"' in listing
    page = mark.get("/reports/family_care", query_string=PERIOD)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="value-I1"' in html and "<svg" in html and 'class="bar"' in html
    assert "/reports/family_care/cases?indicator=I1" in html and "names-income_bands-0" in html
    drill = mark.get("/reports/family_care/cases",
                     query_string=dict(PERIOD, indicator="I13", key="successful", names="1"))
    assert drill.status_code == 200 and f"#{world['closed']}" in drill.get_data(as_text=True)
    assert "Kovács" in drill.get_data(as_text=True)  # names, for the manager
    csv_resp = mark.get("/reports/family_care/export.csv", query_string=PERIOD)
    assert csv_resp.status_code == 200 and "attachment" in csv_resp.headers["Content-Disposition"]
    xlsx = mark.client.get("/reports/family_care/export.xlsx", query_string=PERIOD)
    assert load_workbook(io.BytesIO(xlsx.get_data())).sheetnames[0] == "Mutatószámok"
    assert mark.get("/reports/job_retention", query_string=PERIOD).status_code == 200
    wrong = mark.get("/reports/family_care", query_string={"from": "2026-12-31", "to": "2026-01-01"})
    assert wrong.status_code == 200 and "after it ends" in wrong.get_data(as_text=True)


def test_a_caseworker_sees_her_own_report_and_no_names(world, app, people):
    anna = browser(app, "anna")
    html = anna.get("/reports/family_care", query_string=PERIOD).get_data(as_text=True)
    assert "names-income_bands-0" not in html and 'name="caseworker"' not in html
    assert anna.get("/reports/family_care", query_string=dict(PERIOD, caseworker=people.bela.id)).status_code == 403
    assert anna.get("/reports/family_care/cases",
                    query_string=dict(PERIOD, indicator="I1", names="1")).status_code == 403
    assert anna.get("/audit/").status_code == 403
    assert browser(app, "dora").get("/reports/family_care").status_code == 403


def test_audit_pages_for_the_manager(world, app, runtime):
    mark = browser(app, "mark")
    listing = mark.get("/audit/", query_string={"case": world["closed"], "kind": "task_completed"})
    assert listing.status_code == 200 and "Lépés elvégezve" in listing.get_data(as_text=True)
    history = mark.get(f"/audit/cases/{world['closed']}")
    assert history.status_code == 200 and 'data-testid="chain-intact"' in history.get_data(as_text=True)
    with runtime.db.reading() as session:
        seen = session.execute(select(AuditEvent).where(AuditEvent.case_id == world["closed"],
                                                        AuditEvent.kind == "case_viewed")).scalars().all()
    assert [(e.actor, e.payload["via"]) for e in seen] == [("mark", "audit")]
    assert 'data-testid="log-intact"' in mark.get("/audit/verify").get_data(as_text=True)


def test_the_band_field_is_named_after_the_table_it_splits(world, app):
    mark = browser(app, "mark")
    label = '<label for="r-bands">'
    assert f"{label}Sávok: Jövedelemsávok (I5)</label>" in mark.get("/reports/family_care").get_data(as_text=True)
    mark.post("/language", {"locale": "en", "next": "/reports/family_care"})
    assert f"{label}Bands: Income bands (I5)</label>" in mark.get("/reports/family_care").get_data(as_text=True)
    # A report without reader-entered bands asks for none.
    assert 'id="r-bands"' not in mark.get("/reports/job_retention").get_data(as_text=True)
