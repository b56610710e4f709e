"""The step documents built from rows (docs/documents.md): family care's client-contact register and its case
conference papers, the self-help group's application forms and attendance sheet, job retention's follow-up log of
every visit and case management's case log and service log, each produced from a demo case and read back with a
PDF text extractor (every value present, accents intact)."""
from __future__ import annotations

from engine.cases import cases, tasks
from engine.documents import documents, render
from tests import demo_data

from .helpers import do, new_family_case, task_of, through_agreement
from .test_documents import _content, squeezed, text_of
from .test_documents import case_at_casework as case_at_casework  # the fixture, shared


def produced(runtime, actor, case_id: int, key: str, lang: str = "hu", task_id: int | None = None) -> str:
    made = documents.produce(runtime, case_id, key, actor, lang, task_id=task_id)
    # SEGITO_DOCUMENTS_OUT keeps the PDF to look at (test_documents.py, _content).
    return text_of(_content(runtime, actor, case_id, made["document_id"]))


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


def test_the_self_help_groups_application_forms_and_attendance_sheet(runtime, people):
    from .test_self_help_groups import at, first_meeting, register, setup_data

    codes = register(runtime, people, 3)
    case_id = cases.start_case(runtime, "self_help_groups", people.anna)["case_id"]
    setup = {**setup_data(codes[:2]), "group_name": "Szerdai csoport – Győr, Bűnmegelőzési Ház"}
    setup["members_joining"][1].update(sex="male", entry_route="own_request", job_search_months=14)
    setup_task = task_of(runtime, case_id, "shg_setup")
    tasks.save_draft(runtime, setup_task, setup, people.anna)
    # Before the group is composed, the forms are those of the members joining at this step.
    before = produced(runtime, people.anna, case_id, "application_form", task_id=setup_task)
    has_all(before, ["JELENTKEZÉSI LAP", "Jelentkező 1 / 2", "Jelentkező 2 / 2", *codes[:2], "nő", "férfi",
                     "maga kérte", "a munkaügyi kirendeltség ajánlotta", "14", "2026.03.02.", "Kiss Anna",
                     "munkavállalásra felkészítő", "heti 1", "A jelentkező aláírása", "Csoportvezető aláírása",
                     "Győr, Bűnmegelőzési Ház"], "application_form")
    assert "ő" in before and "ű" in before
    do(runtime, case_id, "shg_setup", setup, people.anna)
    at("2026-03-04")
    from engine.timers import timers
    timers.fire_due(runtime, "w")
    meeting_task = task_of(runtime, case_id, "shg_first_meeting")
    tasks.save_draft(runtime, meeting_task, {"members_joining": [{"client_code": codes[2], "joined_on": "2026-03-04",
                                                                  "sex": "female", "entry_route": "labour_office",
                                                                  "labour_market_status": "employed"}]},
                     people.anna)
    sheet = produced(runtime, people.anna, case_id, "attendance_sheet", task_id=meeting_task)
    has_all(sheet, ["JELENLÉTI ÍV", *codes, "új tag", "2026.03.04.", "Szerdai csoport", "Aláírás",
                    "Csoportvezető aláírása"], "attendance_sheet")
    assert "ő" in sheet and "ű" in sheet
    forms = produced(runtime, people.anna, case_id, "application_form", "en", task_id=meeting_task)
    has_all(forms, ["APPLICATION FORM", "Applicant 3 / 3", *codes, "employed", "Applicant's signature"],
            "application_form (en)")
    assert "Jelentkező" not in forms
    first_meeting(runtime, people, case_id, codes[:2])
    assert documents.list_documents(runtime, case_id, people.anna)[0]["document"] == "application_form"


def test_the_follow_up_log_holds_every_recorded_visit(runtime, people):
    from engine.store import clock
    from engine.timers import timers

    from .timer_helpers import VISIT, complete, local, start_follow_up

    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    visits = [{**VISIT, "visit_date": "2026-02-07", "client_notes": "Beilleszkedik, a műszakbeosztás jó neki.",
               "visit_notes": "Első hét: a művezető elégedett, őszinte visszajelzés."},
              {**VISIT, "visit_date": "2026-02-14", "contacts": ["client", "lay_helpers"], "employer_persons": None,
               "employer_satisfaction": None, "client_help": ["legal_advice"], "lay_helpers_involved": 2,
               "visit_notes": "Második hét: jogi tanácsadás a munkaszerződésről."}]
    for visit in visits:
        clock.freeze(local(visit["visit_date"], 8))
        timers.fire_due(runtime, "w")
        complete(runtime, case_id, "jr_visit", {k: v for k, v in visit.items() if v is not None}, people.anna)
    task_id = task_of(runtime, case_id, "jr_plan_change")
    text = produced(runtime, people.anna, case_id, "follow_up_log", task_id=task_id)
    has_all(text, ["UTÓKÖVETÉSI NAPLÓ", "1. látogatás", "2. látogatás", "2026.02.07.", "2026.02.14.",
                   *[v["visit_notes"] for v in visits], visits[0]["client_notes"], "Igen", "2", "anna",
                   "Mentor aláírása"], "follow_up_log")
    assert "3. látogatás" not in text and "ő" in text and "ű" in text
    # The second visit's empty fields stay empty: the first visit's employer satisfaction is not carried over.
    second = text.upper()[text.upper().index("2. LÁTOGATÁS"):]
    assert "2026.02.14." in second and "MUNKÁLTATÓI ELÉGEDETTSÉG" not in second
    english = produced(runtime, people.anna, case_id, "follow_up_log", "en", task_id=task_id)
    assert "FOLLOW-UP LOG" in english and "2. VISIT" in english and "2026-02-14" in english


def test_case_managements_case_log_and_service_log(runtime, people):
    from engine.store import clock
    from tests import case_management_data as cm

    from .test_case_management import MONDAY, through_assessment
    clock.freeze(MONDAY)
    case_id = through_assessment(runtime, people)
    meeting = cm.meeting({}, "2026-03-16", next_step="plan_review")
    meeting["case_log"][0].update(activities="Önéletrajz írása, műszakváltás egyeztetése.",
                                  client_assessment="Hasznos volt, őszintén beszéltünk.")
    meeting["service_log"][0].update(event="Konzultáció: önéletrajz és állásajánlatok, tűzvédelmi tanfolyam.")
    do(runtime, case_id, "cm_meeting", meeting, people.anna)
    row, service = meeting["case_log"][0], meeting["service_log"][0]
    log = produced(runtime, people.anna, case_id, "case_log")
    has_all(log, ["ESETNAPLÓ", "1. találkozás", "2026.03.16.", row["activities"], row["client_assessment"],
                  row["case_manager_assessment"], "személyes konzultáció" if row["contact"] == "personal" else "",
                  "Az ügyfél aláírása"], "case_log")
    assert "ő" in log and "ű" in log
    service_log = produced(runtime, people.anna, case_id, "service_log")
    has_all(service_log, ["SZOLGÁLTATÁSI NAPLÓ", "2026.03.16.", service["event"], service["progress"],
                          "Szakmai vezető"], "service_log")
    assert "ő" in service_log and "ű" in service_log
    english = produced(runtime, people.anna, case_id, "service_log", "en")
    assert "SERVICE LOG" in english and "Szolgáltatási" not in english


def test_the_day_180_employer_certificate_or_client_statement_of_a_former_member(runtime, people):
    from engine.timers import timers

    from .test_self_help_groups import at, attendance, first_meeting, register, start_group

    codes = register(runtime, people, 2)
    group = start_group(runtime, people, codes)
    at("2026-03-04")
    timers.fire_due(runtime, "w")
    first_meeting(runtime, people, group, codes)
    at("2026-03-11")
    timers.fire_due(runtime, "w")
    done = do(runtime, group, "shg_meeting", {
        "meeting_date": "2026-03-11", "duration_minutes": 120, "attendance": attendance(codes),
        "group_next": "continue", "professional_present": False,
        "members_leaving": [{"client_code": codes[0], "left_on": "2026-03-10", "leaving_reason": "found_work",
                             "employed_on_leaving": True}]}, people.anna)
    [started] = done["started_cases"]
    at("2026-09-06")
    timers.fire_due(runtime, "w")
    task_id = task_of(runtime, started["case_id"], "shg_day_180")
    tasks.save_draft(runtime, task_id, {"checked_on": "2026-09-06", "employed": True, "same_job": False,
                                        "evidence": "own_statement",
                                        "notes": "Új munkahely: Győri Kőfaragó Műhely, betanított munkás."},
                     people.anna)
    text = produced(runtime, people.anna, started["case_id"], "employment_statement", task_id=task_id)
    has_all(text, ["MUNKÁLTATÓI IGAZOLÁS VAGY A KLIENS NYILATKOZATA", codes[0], "2026.09.06.", "Igen", "Nem",
                   "Győri Kőfaragó Műhely, betanított munkás.", "Munkáltató cégszerű aláírása",
                   "A kliens aláírása", "Csoportvezető"], "employment_statement")
    assert "ő" in text and "ű" in text
    english = produced(runtime, people.anna, started["case_id"], "employment_statement", "en", task_id=task_id)
    assert "CLIENT'S STATEMENT" in english and "2026-09-06" in english and "Igen" not in english


def test_the_minutes_of_the_meetings_with_the_employer(runtime, people):
    from engine.store import clock
    from engine.timers import timers

    from .timer_helpers import VISIT, complete, local, ready_tasks, start_follow_up

    clock.freeze(local("2026-01-28", 10))
    case_id = start_follow_up(runtime, people.anna)
    clock.freeze(local("2026-02-07", 8))
    timers.fire_due(runtime, "w")
    complete(runtime, case_id, "jr_visit", {**VISIT, "visit_date": "2026-02-07",
                                            "employer_notes": "A művezető szerint pontos, a gépkezelés jól megy."},
             people.anna)
    clock.freeze(local("2026-02-14", 8))
    timers.fire_due(runtime, "w")
    [visit] = ready_tasks(runtime, case_id, "jr_visit")
    tasks.save_draft(runtime, visit.id, {"visit_date": "2026-02-14", "contacts": ["employer"],
                                         "employer_persons": ["manager", "co_workers"],
                                         "employer_satisfaction": "partly",
                                         "employer_notes": "Túlórát kérnek; a műszakcsere őszre rendeződik."},
                     people.anna)
    text = produced(runtime, people.anna, case_id, "employer_meeting_minutes", task_id=visit.id)
    has_all(text, ["EMLÉKEZTETŐ A MUNKÁLTATÓVAL VALÓ TALÁLKOZÁSRÓL", "2026.02.07.", "2026.02.14.",
                   "A művezető szerint pontos, a gépkezelés jól megy.", "közvetlen irányító", "elégedett",
                   "vezető, munkatársak", "részben elégedett", "Túlórát kérnek; a műszakcsere őszre rendeződik.",
                   "A munkáltató képviselőjének aláírása"], "employer_meeting_minutes")
    assert "ő" in text and "ű" in text and "3. TALÁLKOZÁS" not in text
    english = produced(runtime, people.anna, case_id, "employer_meeting_minutes", "en", task_id=visit.id)
    assert "MINUTES OF THE MEETINGS WITH THE EMPLOYER" in english and "partly satisfied" in english


def test_a_second_case_conference_has_papers_of_its_own(runtime, people):
    from .helpers import conference

    case_id = new_family_case(runtime, people)
    through_agreement(runtime, people, case_id)
    do(runtime, case_id, "step_3_3", {"casework_next": "case_conference"}, people.anna)
    conference(runtime, case_id, people.anna, [demo_data.action(25)])
    do(runtime, case_id, "step_3_3", {"casework_next": "case_conference"}, people.anna)
    task_id = task_of(runtime, case_id, "step_3_5")
    carried = tasks.get_task(runtime, task_id, people.anna)["carried"]
    first = {field: [e["row"] for e in carried.get(field, [])] for field in ("conference_participants",
                                                                           "conference_tasks")}
    assert [p["name"] for p in first["conference_participants"]] == ["Kovács János", "Szabó Ilona"]
    tasks.save_draft(runtime, task_id, {
        "conference_date": "2026-04-20", "invitation_date": "2026-04-13",
        "conference_participants": first["conference_participants"] + [
            {"name": "Kovács János", "kind": "family_member", "invited": True, "attended": True},
            {"name": "Tóth Ödön", "kind": "professional", "organisation": "Gyermekjóléti Szolgálat",
             "invited": True, "attended": True}],
        "conference_tasks": first["conference_tasks"] + [
            {"participant": "Tóth Ödön", "task": "Védőnői családlátogatás szervezése.", "due_date": "2026-05-04"}]},
        people.anna)
    for key in ("case_conference_invitation", "case_conference_attendance", "case_conference_memo"):
        text = produced(runtime, people.anna, case_id, key, task_id=task_id)
        has_all(text, ["2026.04.20.", "Tóth Ödön", "Gyermekjóléti Szolgálat"], key)
        assert "Szabó Ilona" not in text and text.count("Kovács János") == 1, f"{key}: the first conference's rows"
    memo = produced(runtime, people.anna, case_id, "case_conference_memo", task_id=task_id)
    assert "Védőnői családlátogatás szervezése." in memo and "Havi költségvetés vezetése." not in memo


def test_a_draft_adds_its_new_rows_after_those_the_case_holds(runtime, people, case_at_casework):
    """A draft keeps only the new rows of an append-only block; the document shows the earlier rows first."""
    case_id = case_at_casework
    task_id = task_of(runtime, case_id, "step_3_3")
    earlier = cases.get_case(runtime, case_id, people.anna)["data"]["meetings"]
    new = {"date": "2026-02-20", "place": "institution", "log": "Második találkozás: a védőnő is részt vett."}
    tasks.save_draft(runtime, task_id, {"meetings": [*earlier, new]}, people.anna)
    text = produced(runtime, people.anna, case_id, "case_log", task_id=task_id)
    has_all(text, [earlier[0]["log"], new["log"], "2026.02.20."], "case_log")
    assert text.index(render.show_date(earlier[0]["date"], "hu")) < text.index("2026.02.20.")
