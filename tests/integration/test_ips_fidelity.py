"""The IPS report and the 25-item fidelity review (seed 004, DOMAIN.md 8): the report's figures against values
computed by hand, the review's items pre-filled from those live figures with their evidence (x-prefill-report),
a consensus that departs from the data only with a reason (x-required-when-differs), the total and its band
(declared x-computed), and the trend across reviews; on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import lxml.html
import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from engine.reports import run
from engine.reports.request import ReportRequest
from engine.store import clock

from .helpers import do, task_of
from .test_api import Api, conforms
from .test_language_pages import _problems, _user_data, _visible_text
from .test_supported_employment import ENTRY, PROFILE, start_ips
from .timer_helpers import local
from .web_client import browser, make_app

ITEMS = ["caseload", "staff_focus", "generalist", "team_assignment", "team_contact", "rehab_collaboration",
         "vocational_unit", "supervisor_role", "zero_exclusion", "competitive_focus", "executive_support",
         "benefits_planning", "disclosure", "work_based_assessment", "rapid_search", "individualised_search",
         "employer_contact_frequency", "employer_contact_quality", "job_type_diversity", "employer_diversity",
         "competitive_jobs", "individualised_follow_along", "time_unlimited", "community_based", "outreach"]
PERIOD = ReportRequest(dt.date(2026, 1, 1), dt.date(2026, 2, 28))


def contact(day: str, employer: str) -> dict:
    return {"date": day, "employer": employer, "contact_kind": "in_person", "outcome": "vacancy"}


def job(employer: str, job_type: str, day: str, competitive: bool) -> dict:
    return {"employer": employer, "job_type": job_type, "start_date": day, "weekly_hours": 30,
            "competitive": competitive}


def entered(runtime, coach, i: int, day: str) -> int:
    case_id = start_ips(runtime, coach, i)
    do(runtime, case_id, "ips_entry", {**ENTRY, "entry_date": day, "agreement_date": day}, coach)
    do(runtime, case_id, "ips_profile", {**PROFILE, "profile_date": day}, coach)
    return case_id


def employed(runtime, coach, case_id: int, contacts: list[dict], the_job: dict) -> None:
    do(runtime, case_id, "ips_first_search", {"employer_contacts": contacts, "job_search_next": "job_started"}, coach)
    do(runtime, case_id, "ips_job_start", {"jobs": [the_job]}, coach)


@pytest.fixture
def world(runtime, people):
    """Anna's three clients and Béla's one, January–February 2026 (worked out by hand in each test)."""
    clock.freeze(local("2026-03-01", 10))
    a = entered(runtime, people.anna, 0, "2026-01-05")   # first contact after 10 days, competitive job
    employed(runtime, people.anna, a, [contact("2026-01-15", "Alfa Kft."), contact("2026-01-18", "Gamma Zrt.")],
             job("Alfa Kft.", "raktáros", "2026-01-20", True))
    b = entered(runtime, people.anna, 1, "2026-01-10")   # after 40 days, not competitive; the service ends it
    employed(runtime, people.anna, b, [contact("2026-02-19", "Béta Bt.")],
             job("Béta Bt.", "takarító", "2026-02-20", False))
    do(runtime, b, "ips_follow_along", {"support_contacts": [{"date": "2026-02-21", "setting": "at_work",
                                                              "with_whom": "both"}],
                                        "follow_along_next": "leave", "exit_date": "2026-02-25",
                                        "exit_reason": "service_ended"}, people.anna)
    c = entered(runtime, people.anna, 2, "2026-02-01")   # after 4 days, competitive, the same employer as A
    employed(runtime, people.anna, c, [contact("2026-02-05", "Alfa Kft.")], job("Alfa Kft.", "raktáros", "2026-02-10",
                                                                               True))
    d = entered(runtime, people.bela, 3, "2026-02-10")   # no employer contact yet
    return {"a": a, "b": b, "c": c, "d": d}


def figures(runtime, actor, req=PERIOD, key="supported_employment") -> dict:
    result = run.report(runtime, actor, key, req)
    return {i["id"]: i["value"] for i in result["indicators"]} | {"tables": result["tables"]}


def test_the_ips_report_against_hand_computed_values(runtime, people, world):
    got = figures(runtime, people.mark)
    # 4 clients entered and active; first contacts after 10, 40 and 4 days (D has none): mean 18, 2 within 30.
    assert (got["S1"], got["S2"], got["S4"], got["S5"]) == \
        (4, 4, 18, 2)
    # 4 employer contacts; 3 job starts, 2 competitive (A, C): 66.67 %; job types raktáros ×2, takarító: 2 of 3;
    # employers Alfa ×2, Béta: 2 of 3.
    assert (got["S6"], got["S7"], got["S9"], got["S8"]) == \
        (4, 3, 2, 2)
    assert (got["S10"], got["S12"], got["S14"]) == (66.67, 66.67, 66.67)
    # B left, the service ended the support: 1 of 1.
    assert (got["S15"], got["S16"], got["S17"]) == (1, 1, 100)
    assert {r["key"]: r["clients"] for r in got["tables"]["phases"]} == {"follow_along": 2, "job_search": 1,
                                                                         "left": 1}
    per_coach = {r["name"]: (r["clients"], r["employer_contacts"], r["job_starts"], r["competitive"], r["employers"])
                 for r in got["tables"]["per_coach"]}
    assert per_coach == {"Anna": (3, 4, 3, 2, 2), "Bela": (1, 0, 0, 0, 0)}
    assert [r["days_to_first_contact"] for r in got["tables"]["per_coach"]] == [18, None]
    # On the period's last day B has left: Anna has 2 clients.
    last_day = figures(runtime, people.mark, ReportRequest(dt.date(2026, 2, 28), dt.date(2026, 2, 28)))
    assert {r["name"]: r["clients"] for r in last_day["tables"]["per_coach"]} == {"Anna": 2, "Bela": 1}
    # The drill-down lists exactly the cases behind a figure.
    behind = run.cases_behind(runtime, people.mark, "supported_employment", PERIOD, "S5")
    assert sorted(i["case_id"] for i in behind["items"]) == sorted([world["a"], world["c"]])


def setup_review(runtime, lead, day: str = "2026-03-01") -> int:
    case_id = cases.start_case(runtime, "ips_fidelity_review", lead)["case_id"]
    do(runtime, case_id, "fr_setup", {"review_date": day, "period_from": "2026-01-01",
                                      "period_to": "2026-02-28", "service_reviewed": "IPS csoport",
                                      "reviewers": [{"name": "Lea", "external": False},
                                                    {"name": "Külső Értékelő", "organisation": "Egyetem",
                                                     "external": True}],
                                      "sources": ["system_data", "case_records"]}, lead)
    return case_id


DATA_SCORES = {"caseload": "5", "rapid_search": "5", "employer_contact_frequency": "1", "job_type_diversity": "3",
               "employer_diversity": "3", "competitive_jobs": "2", "time_unlimited": "1"}


def test_the_fidelity_review_pre_fills_the_items_the_data_answers_with_their_evidence(runtime, people, world):
    case_id = setup_review(runtime, people.lea)
    opened = tasks.get_task(runtime, task_of(runtime, case_id, "fr_scoring"), people.lea)
    values = opened["values"]
    # Caseload on the last day: Anna 2, Béla 1 → at most 20 → 5. Mean 18 days to the first contact → 5.
    # Employer contacts per coach: (4 + 0) / 2 = 2 in 59 days = 0.24 a week → 1. Job types and employers 66.67 %
    # → 3 (55–69 %); competitive 66.67 % → 2 (64–74 %); the service ended 100 % of the exits → 1.
    assert {k: values[f"data_{k}"] for k in DATA_SCORES} == DATA_SCORES
    # The evidence is written in both languages, so each reader reads it in theirs (engine/forms/texts.py).
    assert all(set(values[f"data_{k}_evidence"]) == {"hu", "en"} for k in DATA_SCORES)
    evidence = values["data_rapid_search_evidence"]["en"]
    assert evidence.startswith("Live data: Supported employment (IPS), 2026-01-01 – 2026-02-28.")
    assert "Days to the first employer contact (mean) (days): 18 → 5 points" in evidence
    for case in ("a", "b", "c"):
        assert f"#{world[case]} " in evidence
    assert f"#{world['d']} " not in evidence
    assert "days to the first employer contact: 40" in evidence
    caseload = values["data_caseload_evidence"]["en"]
    assert "Per job coach: clients (persons) (largest): 2 → 5 points" in caseload
    assert "Anna: 2; Bela: 1" in caseload
    assert "0.24 a week → 1 points" in values["data_employer_contact_frequency_evidence"]["en"]
    assert values["data_rapid_search_evidence"]["hu"].startswith("Élő adat: Támogatott foglalkoztatás (IPS), ")
    assert "kliensek (fő) (legnagyobb): 2 → 5 pont" in values["data_caseload_evidence"]["hu"]
    # The data's score is the server's: a submitted one is refused.
    scores = [{"reviewer": name, **{item: "4" for item in ITEMS}} for name in ("Lea", "Külső Értékelő")]
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "fr_scoring", {"reviewer_scores": scores, "data_caseload": "1"}, people.lea)
    assert refused.value.details[0]["kind"] == "x-computed"
    # Each reviewer scores at a step of their own: the first reviewer's row, and the step comes again.
    do(runtime, case_id, "fr_scoring",
       {"reviewer_scores": scores[:1],
        "item_evidence": [{"item": "disclosure", "evidence": "Interjú a tanácsadókkal."}]}, people.lea)
    second = tasks.get_task(runtime, task_of(runtime, case_id, "fr_scoring"), people.lea)
    [kept] = second["carried"]["reviewer_scores"]
    assert (kept["row"]["reviewer"], kept["recorded_by"], kept["step"]) == ("Lea", "lea", "F2")
    # A later step cannot change or drop an earlier reviewer's scores (append-only rows), nor add none.
    changed = {**scores[0], "caseload": "1"}
    for rows, kind in (([changed, scores[1]], "x-append-only"), ([scores[1]], "x-append-only"),
                       ([scores[0]], "x-min-new-rows")):
        with pytest.raises(ValidationFailed) as refused:
            do(runtime, case_id, "fr_scoring", {"reviewer_scores": rows}, people.lea)
        assert refused.value.details[0]["kind"] == kind, rows
    do(runtime, case_id, "fr_scoring", {"reviewer_scores": scores}, people.lea)
    assert [r["reviewer"] for r in cases.get_case(runtime, case_id, people.lea)["data"]["reviewer_scores"]] == \
        ["Lea", "Külső Értékelő"]
    data = cases.get_case(runtime, case_id, people.lea)["data"]
    assert {k: data[f"data_{k}"] for k in DATA_SCORES} == DATA_SCORES
    assert data["data_rapid_search_evidence"]["hu"].startswith("Élő adat: ")
    assert data["data_rapid_search_evidence"]["en"].startswith("Live data: ")

    # The consensus opens on the data's scores; departing from one needs a reason.
    consensus = tasks.get_task(runtime, task_of(runtime, case_id, "fr_consensus"), people.lea)["values"]
    assert {k: consensus[k] for k in DATA_SCORES} == DATA_SCORES
    agreed = {item: DATA_SCORES.get(item, "4") for item in ITEMS}
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "fr_consensus", {**agreed, "caseload": "4"}, people.lea)
    [error] = refused.value.details
    assert (error["field"], error["kind"]) == ("caseload_reason", "x-required-when-differs")
    plan = [{"item": "employer_contact_frequency", "action": "Heti hat munkáltatói látogatás tanácsadónként.",
             "responsible": "Lea", "due_date": "2026-06-30"}]
    do(runtime, case_id, "fr_consensus", {**agreed, "action_plan": plan}, people.lea)
    done = cases.get_case(runtime, case_id, people.lea)
    # 18 items × 4 + 5 + 5 + 1 + 3 + 3 + 2 + 1 = 92: fair (74–99), qualifies.
    assert done["status"] == "completed"
    assert (done["data"]["fidelity_total"], done["data"]["fidelity_band"], done["data"]["qualifies"]) == \
        (92, "fair", True)


def test_bands_and_the_trend_across_reviews(runtime, people, world):
    totals = []
    clock.freeze(local("2026-06-02", 10))
    for day, score in (("2026-03-01", "2"), ("2026-06-01", "5")):
        case_id = setup_review(runtime, people.lea, day)
        scores = [{"reviewer": name, **{item: score for item in ITEMS}} for name in ("Lea", "Béla")]
        do(runtime, case_id, "fr_scoring", {"reviewer_scores": scores}, people.lea)
        reasons = {f"{k}_reason": "A csoport megbeszélte." for k, v in DATA_SCORES.items() if v != score}
        do(runtime, case_id, "fr_consensus", {**{item: score for item in ITEMS}, **reasons}, people.lea)
        data = cases.get_case(runtime, case_id, people.lea)["data"]
        totals.append((data["fidelity_total"], data["fidelity_band"], data["qualifies"]))
    assert totals == [(50, "not_supported", False), (125, "exemplary", True)]
    got = figures(runtime, people.mark, ReportRequest(dt.date(2026, 1, 1), dt.date(2026, 12, 31)), "ips_fidelity")
    assert (got["F1"], got["F2"], got["F3"]) == (2, 87.5, 1)
    assert got["tables"]["trend"] == [{"key": "2026-03-01", "total": 50}, {"key": "2026-06-01", "total": 125}]
    assert {r["key"]: r["reviews"] for r in got["tables"]["bands"]} == {"exemplary": 1, "not_supported": 1}
    # The trend is drawn on the report page: a bar per review, in date order, longer for the higher total.
    manager = browser(make_app(runtime), "mark")
    for lang, title in (("hu", "Összpontszám vizsgálatonként (trend)"), ("en", "Total per review (trend)")):
        manager.post("/language", {"locale": lang, "next": "/inbox"})
        page = manager.get("/reports/ips_fidelity", query_string={"from": "2026-01-01", "to": "2026-12-31"})
        assert page.status_code == 200
        doc = lxml.html.fromstring(page.get_data(as_text=True))
        [chart] = [svg for svg in doc.xpath("//svg[@aria-label]") if svg.get("aria-label") == title]
        labels = [t.text_content() for t in chart.xpath(".//*[@class='bar-label']")]
        assert [label.replace(".", "-") for label in labels] == ["2026-03-01", "2026-06-01"]
        values = [t.text_content().strip() for t in chart.xpath(".//*[@class='bar-value']")]
        assert [v.split()[0] for v in values] == ["50", "125"]
        widths = [float(r.get("width")) for r in chart.xpath(".//*[@class='bar']")]
        assert 0 < widths[0] < widths[1]


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_the_consensus_shows_each_items_reviewer_scores_side_by_side(runtime, people, lang):
    case_id = setup_review(runtime, people.lea)
    lea = {"reviewer": "Lea", **{item: "4" for item in ITEMS}, "note": "A 6. tételnél bizonytalan voltam."}
    other = {"reviewer": "Külső Értékelő", **{item: "4" for item in ITEMS}, "caseload": "2"}
    do(runtime, case_id, "fr_scoring", {"reviewer_scores": [lea]}, people.lea)
    do(runtime, case_id, "fr_scoring", {"reviewer_scores": [lea, other]}, people.lea)
    lead = browser(make_app(runtime), "lea")
    lead.post("/language", {"locale": lang, "next": "/inbox"})
    html = lead.get(f"/tasks/{task_of(runtime, case_id, 'fr_consensus')}").get_data(as_text=True)
    page = lxml.html.fromstring(html)
    [table] = page.xpath("//table[@data-testid='side-by-side']")
    assert [th.text_content() for th in table.xpath(".//thead//th")][1:] == ["Lea", "Külső Értékelő"]
    lines = {tr.get("data-testid")[len("side-by-side-"):]: [td.text_content() for td in tr.xpath("td")]
             for tr in table.xpath(".//tbody/tr")}
    assert list(lines)[:2] == ["caseload", "staff_focus"] and len(lines) == 26  # 25 items and the note
    assert lines["caseload"] == ["4", "2"] and lines["staff_focus"] == ["4", "4"]
    assert lines["note"] == ["A 6. tételnél bizonytalan voltam.", "–"]
    [differ] = table.xpath(".//tbody/tr[@class='differ']")
    assert differ.get("data-testid") == "side-by-side-caseload"
    header = differ.xpath("th")[0].text_content()
    assert header.startswith("1. Esetszám" if lang == "hu" else "1. Caseload size")
    assert ("eltérő pontok" if lang == "hu" else "scores differ") in header
    allowed = [*_user_data(runtime), "Külső Értékelő", "A 6. tételnél bizonytalan voltam.", "IPS csoport"]
    assert not _problems(lang, _visible_text(lxml.html.tostring(table, encoding="unicode")), allowed, [])


@pytest.mark.parametrize("lang", ["hu", "en"])
def test_a_later_reviewer_cannot_change_or_drop_an_earlier_reviewers_evidence(runtime, people, lang):
    case_id = setup_review(runtime, people.lea)
    scores = [{"reviewer": name, **{item: "4" for item in ITEMS}} for name in ("Lea", "Külső Értékelő")]
    first = {"item": "disclosure", "evidence": "Interjú a tanácsadókkal."}
    do(runtime, case_id, "fr_scoring", {"reviewer_scores": scores[:1], "item_evidence": [first]}, people.lea)
    api = Api(make_app(runtime).test_client())
    task_id = task_of(runtime, case_id, "fr_scoring")
    opened = conforms(api.as_("lea").get(f"/api/tasks/{task_id}"), "/api/tasks/{task_id}", "get")
    [kept] = opened["carried"]["item_evidence"]
    assert (kept["row"], kept["recorded_by"], kept["step"]) == (first, "lea", "F2")
    # The second reviewer's round: the first reviewer's row changed, dropped or moved to another item is refused.
    second = {"item": "disclosure", "evidence": "Három esetdokumentáció."}
    for rows, field in (([{**first, "evidence": "Felülírva."}, second], "item_evidence/0"),
                        ([{**first, "item": "caseload"}, second], "item_evidence/0"),
                        ([second], "item_evidence/0"), ([], "item_evidence")):
        response = api.as_("lea").post(f"/api/tasks/{task_id}/complete",
                                       json={"data": {"reviewer_scores": scores, "item_evidence": rows}})
        body = conforms(response, "/api/tasks/{task_id}/complete", "post")
        assert response.status_code == 422, rows
        assert [(d["field"], d["kind"]) for d in body["details"]] == [(field, "x-append-only")], rows
    assert cases.get_case(runtime, case_id, people.lea)["data"]["item_evidence"] == [first]
    response = api.as_("lea").post(f"/api/tasks/{task_id}/complete",
                                   json={"data": {"reviewer_scores": scores, "item_evidence": [first, second]}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert cases.get_case(runtime, case_id, people.lea)["data"]["item_evidence"] == [first, second]

    # The consensus shows both rows under their item, each with who recorded it and when.
    lead = browser(make_app(runtime), "lea")
    lead.post("/language", {"locale": lang, "next": "/inbox"})
    html = lead.get(f"/tasks/{task_of(runtime, case_id, 'fr_consensus')}").get_data(as_text=True)
    page = lxml.html.fromstring(html)
    [group] = page.xpath("//div[@data-testid='grouped-disclosure']")
    shown = group.text_content()
    assert ("13. A munkavégző képességet" if lang == "hu" else "13. Disclosure at work") in shown
    lines = [li.text_content() for li in group.xpath(".//li")]
    assert [line.split(" ")[0] for line in lines] == ["Interjú", "Három"]
    assert all(("Rögzítette: lea" if lang == "hu" else "Recorded by lea") in line for line in lines)
    assert all(("(F2. lépés)" if lang == "hu" else "(step F2)") in line for line in lines)
    assert not page.xpath("//div[@data-testid='grouped-caseload']")
    allowed = [*_user_data(runtime), first["evidence"], second["evidence"]]
    assert not _problems(lang, _visible_text(lxml.html.tostring(group, encoding="unicode")), allowed, [])
