"""A small data set for the indicators, built through the real engine (intake, family care, the lead's agreement).

Period of the tests: 2025-01-01 … 2025-06-30. Every case's facts come from real task completions; the hand
computation of every figure is in test_indicators.py.

case  cw    client        taken       closed (reason, follow-up)        hh  income  problems (agreement)
A     anna  X (new)       2024-11-10  open                              3   300000  financial, child_rearing (yes)
B     anna  Y (returning) 2024-10-01  2025-03-31 successful, yes        2   100000  financial (yes)
C     bela  Z (new)       2025-02-01  2025-08-15 lack_of_coop (3.11)    1    80000  employment (yes)
D     anna  W (new)       2025-08-01  open (after the period)           1    50000  financial (yes)
E     bela  X (returning) 2025-04-01  open, waiting at 3.2              1   150000  financial, mental (no)
F     bela  V (new)       2025-01-20  2025-06-30 referred_service, no   4   200000  family_relationship (yes)
G     anna  U (new)       2025-03-01  2025-05-05 lack_of_coop (3.11)    2    60000  financial (yes)
H     anna  T (new)       2025-02-15  2025-04-15 referred_inst., yes    5   500000  child_rearing (yes)
I     bela  S (new)       2024-12-20  2025-01-01 contact_broken (3.11)  1        0  mental (yes)
J     anna  R (new)       2025-05-01  2025-06-01 other, yes             3    90000  financial (yes)
K     bela  Q (new)       2024-05-01  2024-12-31 successful, no         2   100000  financial (yes)
"""
from __future__ import annotations

import datetime as dt

from engine.cases import cases, tasks
from engine.store import clock
from tests import demo_data

from .helpers import do, waiting, waiting_steps

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def assessment(taken: str, household: int, income: int, problems: list[str]) -> dict:
    data = {"taken_into_care_date": taken, "presented_problem": "Lakhatási és megélhetési gondok.",
            "problem_types": problems, "household_size": household, "needs_other_helpers": False,
            "action_plan": "Költségvetés, ügyintézés."}
    if income:
        data.update(client_income_types=["work"], client_work_incomes=[{"kind": "wage", "amount": income}])
    else:
        data.update(client_income_types=["none"])
    return data


def intake(runtime, caseworker, i: int, when: str, returning: bool = False) -> str:
    clock.freeze(at(when))
    started = cases.start_case(runtime, "intake", caseworker)
    data = demo_data.intake_data(100 + i)
    if returning:
        data["client_status"] = "returning"
    task_id = waiting(runtime, started["case_id"])[0].id
    tasks.complete(runtime, task_id, data, caseworker)
    return cases.get_case(runtime, started["case_id"], caseworker, with_data=False)["client"]["client_code"]


def family_case(runtime, people, caseworker, code: str, taken: str, household: int, income: int,
                problems: list[str], agreement: str | None, meetings=(), actions=(), closure: dict | None = None,
                no_cooperation: bool = False, confirm: bool = False) -> int:
    lead = people.lea
    case_id = cases.start_case(runtime, "family_care", caseworker, code, confirm=confirm)["case_id"]
    do(runtime, case_id, "step_3_1", assessment(taken, household, income, problems), caseworker)
    if agreement is None:
        return case_id
    do(runtime, case_id, "step_3_2", {"agreement_date": agreement, "review_frequency": "monthly"}, caseworker)
    casework = {"meetings": [{"date": d, "place": "institution", "log": "Találkozás."} for d in meetings],
                "actions": [{"date": d, "log": "Intézkedés."} for d in actions]}
    if closure is None:
        do(runtime, case_id, "step_3_3", dict(casework, casework_next="continue"), caseworker)
        return case_id
    do(runtime, case_id, "step_3_3", dict(casework, casework_next="review"), caseworker)
    if no_cooperation:
        do(runtime, case_id, "step_3_6", demo_data.review_data(False, on=agreement), caseworker)
        do(runtime, case_id, "step_3_9", {"further_service_available": False}, caseworker)
        do(runtime, case_id, "step_3_11", closure, caseworker)
        do(runtime, case_id, "agree_closure_no_cooperation", {"closure_agreed": True}, lead)
    else:
        do(runtime, case_id, "step_3_6", demo_data.review_data(True, on=agreement), caseworker)
        do(runtime, case_id, "step_3_8", closure, caseworker)
        do(runtime, case_id, "agree_closure_success", {"closure_agreed": True}, lead)
    return case_id


def closure(date: str, reason: str, follow_up: bool | None = None) -> dict:
    data = {"closure_date": date, "closure_reason": reason}
    if reason not in ("lack_of_cooperation", "contact_broken"):  # a successful closure (3.8) evaluates first
        data.update(demo_data.evaluation_data())
    if reason == "other":
        data["closure_reason_other"] = "Elköltözött."
    if reason.startswith("referred_"):
        data.update(referral_to="Adósságkezelési szolgáltatás", referral_reason="Adósságrendezés.")
    if follow_up is not None:
        data["follow_up"] = follow_up
        if follow_up:
            data.update(follow_up_agreement="Havonta.", follow_up_frequency="monthly", follow_up_months=3)
    return data


def build(runtime, people) -> dict[str, int]:
    anna, bela = people.anna, people.bela
    x = intake(runtime, anna, 1, "2024-11-09T10:00:00")
    y = intake(runtime, anna, 2, "2024-09-30T10:00:00", returning=True)
    z = intake(runtime, bela, 3, "2025-01-31T10:00:00")
    w = intake(runtime, anna, 4, "2025-07-31T10:00:00")
    v = intake(runtime, bela, 6, "2024-12-31T23:30:00")  # 00:30 on 1 January in Budapest: inside the period
    u = intake(runtime, anna, 7, "2025-02-28T10:00:00")
    t = intake(runtime, anna, 8, "2025-02-14T10:00:00")
    s = intake(runtime, bela, 9, "2024-12-19T10:00:00")
    r = intake(runtime, anna, 10, "2025-04-30T10:00:00")
    q = intake(runtime, bela, 11, "2024-04-30T10:00:00")
    intake(runtime, anna, 12, "2025-05-10T10:00:00")  # sought the service, no family care
    intake(runtime, bela, 13, "2025-06-30T22:30:00")  # 00:30 on 1 July in Budapest: outside
    clock.freeze(at("2025-08-20T09:00:00"))
    ids = {
        "A": family_case(runtime, people, anna, x, "2024-11-10", 3, 300000, ["financial", "child_rearing"],
                         "2024-11-15", meetings=["2024-12-01", "2025-02-01", "2025-03-01"], actions=["2025-02-10"]),
        "B": family_case(runtime, people, anna, y, "2024-10-01", 2, 100000, ["financial"], "2024-10-05",
                         meetings=["2025-01-15"], closure=closure("2025-03-31", "successful", True)),
        "C": family_case(runtime, people, bela, z, "2025-02-01", 1, 80000, ["employment"], "2025-02-05",
                         meetings=["2025-02-10", "2025-07-01"], actions=["2025-07-01"],
                         closure=closure("2025-08-15", "lack_of_cooperation"), no_cooperation=True),
        "D": family_case(runtime, people, anna, w, "2025-08-01", 1, 50000, ["financial"], "2025-08-02",
                         meetings=["2025-08-03"]),
    }
    clock.freeze(at("2025-08-21T09:00:00"))
    x_again = intake(runtime, bela, 1, "2025-03-31T10:00:00")  # the same person: returning
    assert x_again == x
    clock.freeze(at("2025-08-22T09:00:00"))
    ids.update({
        # X's second open case (A is open): started on confirmation
        "E": family_case(runtime, people, bela, x, "2025-04-01", 1, 150000, ["financial", "mental"], None,
                         confirm=True),
        "F": family_case(runtime, people, bela, v, "2025-01-20", 4, 200000, ["family_relationship"], "2025-01-25",
                         actions=["2025-03-03", "2025-06-30"],
                         closure=closure("2025-06-30", "referred_service", False)),
        "G": family_case(runtime, people, anna, u, "2025-03-01", 2, 60000, ["financial"], "2025-03-02",
                         meetings=["2025-03-05"], closure=closure("2025-05-05", "lack_of_cooperation"),
                         no_cooperation=True),
        "H": family_case(runtime, people, anna, t, "2025-02-15", 5, 500000, ["child_rearing"], "2025-02-16",
                         closure=closure("2025-04-15", "referred_institution", True)),
        "I": family_case(runtime, people, bela, s, "2024-12-20", 1, 0, ["mental"], "2024-12-21",
                         closure=closure("2025-01-01", "contact_broken"), no_cooperation=True),
        "J": family_case(runtime, people, anna, r, "2025-05-01", 3, 90000, ["financial"], "2025-05-01",
                         meetings=["2025-05-02", "2025-05-20"], actions=["2025-06-01"],
                         closure=closure("2025-06-01", "other", True)),
        "K": family_case(runtime, people, bela, q, "2024-05-01", 2, 100000, ["financial"], "2024-05-02",
                         actions=["2024-12-01"], closure=closure("2024-12-31", "successful", False)),
    })
    assert waiting_steps(runtime, ids["E"]) == ["3.2"]
    return ids
