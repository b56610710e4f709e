"""Self-help groups (seed 002, bpmn/self_help_groups): a group is a case with members (engine/cases/members.py),
its meetings come on their day by timer with an attendance sheet, members join and leave with their days (at most
12 at a time), and each member who leaves gets the day-180 follow-up as a case of their own."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.cases import cases, tasks
from engine.errors import ValidationFailed
from engine.store import clock
from engine.timers import caseload, timers
from tests import demo_data

from .helpers import do, task_of, waiting
from .test_api import Api
from .web_client import browser, make_app


def waiting_steps(runtime, case_id):
    """The group's waiting steps other than the questionnaires (step D), which wait beside them."""
    return [t.step for t in waiting(runtime, case_id) if t.step != "D"]


def questionnaires(runtime, case_id):
    return sorted(t.bpmn_id for t in waiting(runtime, case_id) if t.step == "D")


def members_joining(codes, day="2026-03-02", sex="female"):
    return [{"client_code": c, "joined_on": day, "sex": sex, "entry_route": "labour_office",
             "labour_market_status": "not_employed"} for c in codes]


def setup_data(codes, frequency="weekly", first="2026-03-04"):
    return {"group_name": "Szerdai csoport", "topic": "work_preparation", "composition_basis": "group_needs",
            "composition": "homogeneous", "leader_name": "Kiss Anna", "meeting_frequency": frequency,
            "first_meeting_date": first, "members_joining": members_joining(codes)}


def attendance(codes, absent=()):
    return [{"client_code": c, "present": c not in absent} for c in codes]


def register(runtime, people, n):
    return [demo_data.run_intake(runtime, people.anna, i) for i in range(n)]


def at(day: str, hour: int = 9) -> None:
    clock.freeze(dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.timezone.utc))


def start_group(runtime, people, codes, **kw) -> int:
    case_id = cases.start_case(runtime, "self_help_groups", people.anna)["case_id"]
    do(runtime, case_id, "shg_setup", setup_data(codes, **kw), people.anna)
    return case_id


def first_meeting(runtime, people, case_id, codes, group_form="open", **extra):
    data = {"meeting_date": "2026-03-04", "duration_minutes": 180, "attendance": attendance(codes),
            "group_form": group_form, "group_next": "continue",
            "professional_present": False}
    if group_form in ("open", "semi_open"):
        data["joining_rules"] = "Új tag a hónap első összejövetelén csatlakozhat."
    data.update(extra)
    return do(runtime, case_id, "shg_first_meeting", data, people.anna)


def test_a_group_is_a_case_with_members_and_its_meetings_come_on_their_day(runtime, people):
    codes = register(runtime, people, 3)
    case_id = start_group(runtime, people, codes)
    case = cases.get_case(runtime, case_id, people.anna)
    assert [m["client_code"] for m in case["members"]] == codes
    assert case["members_max"] == 12 and case["client"] is None
    assert case["data"]["current_members"] == codes and case["data"]["member_count"] == 3
    assert waiting_steps(runtime, case_id) == [], "the first meeting waits for its day"
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    [task] = [t for t in tasks.inbox(runtime, people.anna)["items"] if t["case_id"] == case_id and t["step"] != "D"]
    assert task["bpmn_id"] == "shg_first_meeting" and task["due_at"].startswith("2026-03-04")
    opened = tasks.get_task(runtime, task["task_id"], people.anna)
    assert opened["values"]["meeting_date"] == "2026-03-04"
    assert opened["values"]["attendance"] == [{"client_code": c} for c in codes]
    first_meeting(runtime, people, case_id, codes)
    assert waiting_steps(runtime, case_id) == [], "the next meeting waits a week"
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    assert waiting_steps(runtime, case_id) == ["C"]
    task_id = task_of(runtime, case_id, "shg_meeting")
    assert tasks.get_task(runtime, task_id, people.anna)["values"]["meeting_date"] == "2026-03-11"


def test_at_most_twelve_members_at_a_time_with_a_clear_message(runtime, people):
    codes = register(runtime, people, 13)
    case_id = cases.start_case(runtime, "self_help_groups", people.anna)["case_id"]
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "shg_setup", setup_data(codes), people.anna)
    assert refused.value.details[0]["field"] == "members_joining"
    assert "more than 12" in str(refused.value)  # the form bounds one step; the engine the group (below)
    assert cases.get_case(runtime, case_id, people.anna)["members"] == [], "nothing was saved"
    do(runtime, case_id, "shg_setup", setup_data(codes[:12]), people.anna)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    # A member leaves and another joins at the same meeting: still twelve.
    first_meeting(runtime, people, case_id, codes[:12])
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    meeting = {"meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance(codes[:12]),
               "group_next": "continue", "professional_present": False,
               "members_joining": members_joining([codes[12]], "2026-03-11")}
    with pytest.raises(ValidationFailed, match="at most 12 members"):
        do(runtime, case_id, "shg_meeting", meeting, people.anna)
    meeting["members_leaving"] = [{"client_code": codes[0], "left_on": "2026-03-11",
                                   "leaving_reason": "found_work", "employed_on_leaving": True}]
    meeting["attendance"] = attendance(codes[:12] + [codes[12]])
    do(runtime, case_id, "shg_meeting", meeting, people.anna)
    members = cases.get_case(runtime, case_id, people.anna)["members"]
    assert [m["client_code"] for m in members if m["current"]] == codes[1:13]
    assert [m["left_on"] for m in members if m["client_code"] == codes[0]] == ["2026-03-11"]


def test_unknown_codes_twice_joined_and_early_leavings_are_refused_naming_the_row(runtime, people):
    codes = register(runtime, people, 2)
    case_id = cases.start_case(runtime, "self_help_groups", people.anna)["case_id"]
    bad = setup_data(codes)
    bad["members_joining"][1]["client_code"] = "K-NOPE0000"
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "shg_setup", bad, people.anna)
    assert refused.value.details[0]["field"] == "members_joining/1/client_code"
    twice = setup_data([codes[0], codes[0]])
    with pytest.raises(ValidationFailed, match="listed twice"):
        do(runtime, case_id, "shg_setup", twice, people.anna)
    do(runtime, case_id, "shg_setup", setup_data(codes), people.anna)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    with pytest.raises(ValidationFailed, match="every member must be on the sheet"):
        first_meeting(runtime, people, case_id, codes, attendance=attendance(codes[:1]))
    with pytest.raises(ValidationFailed, match="already a member"):
        first_meeting(runtime, people, case_id, codes, members_joining=members_joining(codes[:1], "2026-03-04"))
    first_meeting(runtime, people, case_id, codes)
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    meeting = {"meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance(codes),
               "group_next": "continue", "professional_present": False,
               "members_leaving": [{"client_code": codes[1], "left_on": "2026-03-01", "leaving_reason": "other",
                                    "employed_on_leaving": False}]}
    with pytest.raises(ValidationFailed) as refused:
        do(runtime, case_id, "shg_meeting", meeting, people.anna)
    assert refused.value.details[0]["field"] == "members_leaving/0/left_on"


def test_a_meeting_lasts_at_most_four_hours(runtime, people):
    codes = register(runtime, people, 2)
    case_id = start_group(runtime, people, codes)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    with pytest.raises(ValidationFailed) as refused:
        first_meeting(runtime, people, case_id, codes, duration_minutes=300)
    assert refused.value.details[0]["field"] == "duration_minutes"


def test_a_fortnightly_group_meets_every_second_week_from_its_first_meeting(runtime, people):
    codes = register(runtime, people, 2)
    case_id = start_group(runtime, people, codes, frequency="fortnightly")
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, case_id, codes)
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    assert waiting_steps(runtime, case_id) == [], "fortnightly: no meeting a week after the first"
    at("2026-03-17")
    timers.fire_due(runtime, "w")
    assert waiting_steps(runtime, case_id) == [], "fortnightly: the next meeting is on 18 March, not before"
    at("2026-03-18")
    timers.fire_due(runtime, "w")
    task_id = task_of(runtime, case_id, "shg_meeting")
    assert tasks.get_task(runtime, task_id, people.anna)["step"]
    do(runtime, case_id, "shg_meeting", {"meeting_date": "2026-03-18", "duration_minutes": 120,
                                         "attendance": attendance(codes), "group_next": "continue",
                                         "professional_present": False}, people.anna)
    at("2026-03-31")
    timers.fire_due(runtime, "w")
    assert waiting_steps(runtime, case_id) == [], "fortnightly: then 1 April"
    at("2026-04-01")
    timers.fire_due(runtime, "w")
    assert task_of(runtime, case_id, "shg_meeting")


def test_a_group_following_a_closed_service_is_closed_and_takes_no_new_members(runtime, people):
    codes = register(runtime, people, 3)
    case_id = start_group(runtime, people, codes[:2], frequency="monthly")
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    with pytest.raises(ValidationFailed):  # a group following a closed service records which one
        first_meeting(runtime, people, case_id, codes[:2], group_form="closed_follow_up")
    with pytest.raises(ValidationFailed):  # and a closed group has no joining rules to decide
        first_meeting(runtime, people, case_id, codes[:2], group_form="closed_follow_up",
                      closed_service_name="Álláskereső tréning", joining_rules="bármikor")
    first_meeting(runtime, people, case_id, codes[:2], group_form="closed_follow_up",
                  closed_service_name="Álláskereső tréning")
    at("2026-04-03")
    timers.fire_due(runtime, "w")
    assert waiting_steps(runtime, case_id) == [], "monthly: the next meeting is on 4 April"
    at("2026-04-04")
    timers.fire_due(runtime, "w")
    task_id = task_of(runtime, case_id, "shg_meeting_closed")
    assert "members_joining" not in tasks.get_task(runtime, task_id, people.anna)["form"]["properties"]
    assert tasks.get_task(runtime, task_id, people.anna)["values"]["attendance"] == [
        {"client_code": c} for c in codes[:2]]


def test_leaving_starts_the_day_180_follow_up_for_that_member(runtime, people):
    codes = register(runtime, people, 2)
    case_id = start_group(runtime, people, codes)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, case_id, codes)
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    done = do(runtime, case_id, "shg_meeting", {
        "meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance(codes),
        "group_next": "close", "professional_present": False,
        "members_leaving": [{"client_code": codes[0], "left_on": "2026-03-10", "leaving_reason": "found_work",
                             "employed_on_leaving": True}]}, people.anna)
    [started] = done["started_cases"]
    assert started["process_key"] == "self_help_follow_up" and started["client_code"] == codes[0]
    follow = cases.get_case(runtime, started["case_id"], people.anna)
    assert follow["client"]["client_code"] == codes[0]
    assert follow["data"]["left_on"] == "2026-03-10" and follow["data"]["sex"] == "female"
    assert follow["data"]["members_case_id"] == case_id
    assert [link["case_id"] for link in follow["links"]] == [case_id]
    # Closing: every member still in leaves on the closing day, each with a follow-up of their own.
    task_id = task_of(runtime, case_id, "shg_closing")
    assert tasks.get_task(runtime, task_id, people.anna)["values"]["members_leaving"] == [{"client_code": codes[1]}]
    with pytest.raises(ValidationFailed, match="every member must be listed"):
        tasks.complete(runtime, task_id, {"closing_date": "2026-03-11", "results_summary": "Jól haladt.",
                                          "wish_to_continue": False, "satisfaction_sheets": 0,
                                          "members_leaving": []}, people.anna)
    closed = tasks.complete(runtime, task_id, {
        "closing_date": "2026-03-11", "results_summary": "Jól haladt.", "wish_to_continue": False,
        "satisfaction_sheets": 0,
        "members_leaving": [{"client_code": codes[1], "left_on": "2026-03-11", "leaving_reason": "group_closed",
                             "employed_on_leaving": False}]}, people.anna)
    assert len(closed["started_cases"]) == 1
    # The group's case ends once the close questionnaires of the members who left are recorded.
    assert closed["case_status"] == "running"
    for task in [t for t in waiting(runtime, case_id) if t.step == "D"]:
        tasks.complete(runtime, task.id, {"jelszo": "titok", **ANSWERS}, people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"
    # Day 180 after leaving (10 March + 180 days = 6 September): the outcome comes to the leader.
    at("2026-09-05")
    timers.fire_due(runtime, "w")
    assert waiting_steps(runtime, started["case_id"]) == []
    at("2026-09-06")
    timers.fire_due(runtime, "w")
    task_id = task_of(runtime, started["case_id"], "shg_day_180")
    assert tasks.get_task(runtime, task_id, people.anna)["values"]["checked_on"] == "2026-09-06"
    tasks.complete(runtime, task_id, {"checked_on": "2026-09-06", "employed": True, "same_job": True,
                                      "evidence": "employer_certificate"}, people.anna)
    assert cases.get_case(runtime, started["case_id"], people.anna)["status"] == "completed"


def test_members_by_code_names_only_for_the_leader_and_the_lead(runtime, people):
    codes = register(runtime, people, 1)
    case_id = start_group(runtime, people, codes)
    assert "family_name" in cases.get_case(runtime, case_id, people.anna)["members"][0]
    assert "family_name" in cases.get_case(runtime, case_id, people.lea)["members"][0]
    assert "family_name" not in cases.get_case(runtime, case_id, people.mark)["members"][0]


def test_groups_count_on_the_leaders_caseload(runtime, people):
    codes = register(runtime, people, 2)
    start_group(runtime, people, codes[:1])
    start_group(runtime, people, codes[1:])
    [load] = [c for c in caseload.overview(runtime, people.mark) if c["caseload"] == "self_help_groups"]
    assert {r["username"]: r["active"] for r in load["rows"]}["anna"] == 2


ANSWERS = {"confidence": 2, "not_alone": 2, "can_talk": 3, "adapting": 3, "intends_to_work": 4}


def test_the_attitude_questionnaires_pair_by_the_members_own_password_and_stay_anonymous(runtime, people):
    from engine.reports import anonymous

    codes = register(runtime, people, 3)
    case_id = start_group(runtime, people, codes)
    # One start questionnaire per member who joined; nothing about who answers which.
    assert questionnaires(runtime, case_id) == ["shg_attitude_start_setup"] * 3
    for i, task in enumerate(t for t in waiting(runtime, case_id) if t.step == "D"):
        tasks.complete(runtime, task.id, {"jelszo": f"Kék ég {i}", **ANSWERS}, people.anna)
    assert questionnaires(runtime, case_id) == []
    history = cases.history(runtime, case_id, people.anna)
    answered = [e for e in history if e["kind"] == "task_completed" and "anonymous_answer" in e["payload"]]
    assert len(answered) == 3 and all("jelszo" not in str(e["payload"]) for e in answered)
    assert "jelszo" not in cases.get_case(runtime, case_id, people.anna)["data"]
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, case_id, codes)
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    do(runtime, case_id, "shg_meeting", {
        "meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance(codes),
        "group_next": "close", "professional_present": False,
        "members_leaving": [{"client_code": codes[0], "left_on": "2026-03-11", "leaving_reason": "found_work",
                             "employed_on_leaving": True}]}, people.anna)
    assert questionnaires(runtime, case_id) == ["shg_attitude_close"]
    [task] = [t for t in waiting(runtime, case_id) if t.step == "D"]
    # "kek eg 0": the same password, other case and accents: the member's start answer is found by it alone.
    tasks.complete(runtime, task.id, {"jelszo": "kek eg 0", **dict(ANSWERS, confidence=5)}, people.anna)
    do(runtime, case_id, "shg_closing", {
        "closing_date": "2026-03-11", "results_summary": "Jól haladt.", "wish_to_continue": True,
        "satisfaction_sheets": 1,
        "members_leaving": [{"client_code": c, "left_on": "2026-03-11", "leaving_reason": "group_closed",
                             "employed_on_leaving": False} for c in codes[1:]]}, people.anna)
    assert questionnaires(runtime, case_id) == ["shg_attitude_close_closing"] * 2 + ["shg_satisfaction"]
    close = [t for t in waiting(runtime, case_id) if t.bpmn_id == "shg_attitude_close_closing"]
    tasks.complete(runtime, close[0].id, {"jelszo": "Kék ég 1", **dict(ANSWERS, confidence=4)}, people.anna)
    tasks.complete(runtime, close[1].id, {"jelszo": "Kék ég 2", **dict(ANSWERS, confidence=3)}, people.anna)
    [satisfied] = [t for t in waiting(runtime, case_id) if t.bpmn_id == "shg_satisfaction"]
    tasks.complete(runtime, satisfied.id, {"overall": 5, "useful": 4, "recommend": True}, people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"
    figures = anonymous.figures(runtime, people.lea, "self_help_groups", "attitude_close", dt.date(2026, 1, 1),
                                dt.date(2026, 12, 31))
    pairs = figures["pairs"]
    # Hand-computed: confidence 2 -> 5, 2 -> 4, 2 -> 3: start mean 2, close mean 4, change +2; can_talk 3 -> 3.
    assert pairs["pairs"] == 3 and not pairs["withheld"]
    changes = {c["field"]: (c["mean_start"], c["mean_close"], c["mean_change"]) for c in pairs["changes"]}
    assert changes["confidence"] == (2, 4, 2) and changes["can_talk"] == (3, 3, 0)


def test_the_monitoring_report_by_sex_and_age_group_against_hand_computed_figures(runtime, people):
    """One group: Kovács Éva (1970, female), Szabó Péter (1971, male), Horváth Zsófia (1972, female) from the
    start, Szabó Péter 25 (1995, male) joining at the second meeting; all leave by the close on 11 March; on day 180
    (7 September) Éva has found work, Péter kept his job, Zsófia is not employed, Péter 25 is not followed up yet.
    Ages on 31 December 2026: 56, 55, 54, 31."""
    from engine.reports import run
    from engine.reports.request import parse_request

    c0, c1, c2 = register(runtime, people, 3)
    c25 = demo_data.run_intake(runtime, people.anna, 25)
    case_id = cases.start_case(runtime, "self_help_groups", people.anna)["case_id"]
    data = setup_data([c0, c1, c2])
    data["members_joining"][1]["sex"] = "male"
    do(runtime, case_id, "shg_setup", data, people.anna)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, case_id, [c0, c1, c2])
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    do(runtime, case_id, "shg_meeting", {
        "meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance([c0, c1, c2, c25]),
        "group_next": "close", "professional_present": False,
        "members_joining": members_joining([c25], "2026-03-11", sex="male"),
        "members_leaving": [{"client_code": c0, "left_on": "2026-03-11", "leaving_reason": "found_work",
                             "employed_on_leaving": False}]}, people.anna)
    do(runtime, case_id, "shg_closing", {
        "closing_date": "2026-03-11", "results_summary": "Összegzés.", "wish_to_continue": False,
        "satisfaction_sheets": 0,
        "members_leaving": [{"client_code": c, "left_on": "2026-03-11", "leaving_reason": "group_closed",
                             "employed_on_leaving": c == c1} for c in (c1, c2, c25)]}, people.anna)
    at("2026-09-07")
    timers.fire_due(runtime, "w")
    outcomes = {c0: {"employed": True, "same_job": False, "evidence": "own_statement"},
                c1: {"employed": True, "same_job": True, "evidence": "employer_certificate"},
                c2: {"employed": False, "evidence": "own_statement"}}
    for item in tasks.inbox(runtime, people.anna, limit=200)["items"]:
        if item["bpmn_id"] == "shg_day_180" and item["client_code"] in outcomes:
            tasks.complete(runtime, item["task_id"], {"checked_on": "2026-09-07",
                                                      **outcomes[item["client_code"]]}, people.anna)
    result = run.report(runtime, people.mark, "self_help_groups", parse_request("2026-01-01", "2026-12-31"))
    values = {i["id"]: i["value"] for i in result["indicators"] if not i["id"].startswith("A")}
    assert values == {"groups": 1, "participants": 4, "joined": 4, "meetings": 2, "left": 4, "checked": 3,
                      "employed": 2, "share": 66.67}  # the attitude figures: test_self_help_attitude_report.py
    by_sex = {r["key"]: (r["participants"], r["joined"]) for r in result["tables"]["participants_by_sex"]}
    assert by_sex == {"female": (2, 2), "male": (2, 2)}
    by_age = [(r["participants"], r["joined"]) for r in result["tables"]["participants_by_age"]]
    assert by_age == [(0, 0), (1, 1), (0, 0), (1, 1), (2, 2)]  # under 25, 25–34, 35–44, 45–54, 55+
    day_180 = {r["key"]: (r["checked"], r["employed"], r["found"], r["kept"])
               for r in result["tables"]["day_180_by_sex"]}
    assert day_180 == {"female": (2, 1, 1, 0), "male": (1, 1, 0, 1)}
    day_180_age = [(r["checked"], r["employed"], r["found"], r["kept"])
                   for r in result["tables"]["day_180_by_age"]]
    assert day_180_age == [(0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (1, 0, 0, 0), (2, 2, 1, 1)]


def test_the_follow_up_after_leaving_is_started_by_the_engine_only(runtime, people):
    """``start.manual: false``: the day-180 follow-up needs the leaving's day and reason, which only a member
    leaving hands it; it is offered nowhere and refused by hand, naming the process, with nothing saved."""
    code = demo_data.run_intake(runtime, people.anna, 0)
    assert "self_help_follow_up" not in {p["process_key"] for p in cases.startable(runtime, people.anna)}
    with pytest.raises(ValidationFailed, match="'self_help_follow_up' is not started by hand") as refused:
        cases.start_case(runtime, "self_help_follow_up", people.anna, code)
    assert refused.value.details[0]["field"] == "process_key"
    assert refused.value.details[0]["value"] == "self_help_follow_up"
    api = Api(make_app(runtime).test_client()).as_("anna")
    answer = api.post("/api/cases", json={"process_key": "self_help_follow_up", "client_code": code})
    assert answer.status_code == 422 and "self_help_follow_up" in answer.get_json()["message"]
    anna = browser(make_app(runtime), "anna")
    assert "start-self-help-follow-up" not in anna.get("/cases").get_data(as_text=True)
    assert anna.get("/cases/new?process_key=self_help_follow_up").status_code == 400
    posted = anna.post("/cases/start", {"process_key": "self_help_follow_up", "client_code": code})
    assert posted.status_code == 422 and "self_help_follow_up" in posted.get_data(as_text=True)
    # The intake's page offers the processes that start from its client, the follow-up not among them.
    [intake] = [c["case_id"] for c in cases.list_cases(runtime, people.anna) if c["process_key"] == "intake"]
    page = anna.get(f"/cases/{intake}").get_data(as_text=True)
    assert "start-self-help-groups" not in page and "start-self-help-follow-up" not in page
    assert "start-job-retention" in page
    assert not [c for c in cases.list_cases(runtime, people.anna) if c["process_key"] == "self_help_follow_up"]
