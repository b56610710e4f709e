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

from .helpers import do, task_of, waiting_steps


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
    [task] = [t for t in tasks.inbox(runtime, people.anna)["items"] if t["case_id"] == case_id]
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
    assert cases.get_case(runtime, case_id, people.anna)["data"]["group_form"] == "closed_follow_up"


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
                                          "wish_to_continue": False, "members_leaving": []}, people.anna)
    closed = tasks.complete(runtime, task_id, {
        "closing_date": "2026-03-11", "results_summary": "Jól haladt.", "wish_to_continue": False,
        "members_leaving": [{"client_code": codes[1], "left_on": "2026-03-11", "leaving_reason": "group_closed",
                             "employed_on_leaving": False}]}, people.anna)
    assert closed["case_status"] == "completed" and len(closed["started_cases"]) == 1
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
