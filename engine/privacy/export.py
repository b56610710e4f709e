"""A person's data handed to them (the right of access): everything Segito holds about one client, as JSON a
machine reads and as an HTML page a person reads, in Hungarian or English.

Everything: the client register's row, each intake's record, and every case of theirs — its data, its case
log with who recorded and corrected each row, its steps (with drafts), its legal hold, and its whole audit
history (who did and saw what, when). A case the client is a *member* of (a group) is shown by their membership
only: the group's data and history are about its other members too. Anonymous answers are not included: they
were never linked to anyone, so nothing finds them. The export is itself an audit event (``privacy`` stream).
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import json

from sqlalchemy import select

from ..cases import clients, members
from ..cases.cases import case_data_and_entries
from ..documents.models import CaseDocument
from ..people import access
from ..people.users import Actor
from ..runtime.runtime import Runtime
from ..store import audit, clock, keys
from ..store.models import AuditEvent, Case, CaseMember, HumanTask, Intake, User
from . import erasure, retention

FORMAT = "segito-personal-data/1"


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _event(session, e: AuditEvent) -> dict:
    return {"position": e.seq, "at": e.occurred_at.isoformat(), "actor": e.actor, "kind": e.kind,
            "task_id": e.task_id, "payload": audit.readable(session, e.payload)}


def _labels(view) -> dict:
    """field -> {hu, en} as the process's forms name it."""
    found: dict = {}
    for form in view.forms.values():
        for name, prop in (form.schema.get("properties") or {}).items():
            if isinstance(prop, dict) and isinstance(prop.get("x-label"), dict):
                found.setdefault(name, prop["x-label"])
    return found


def collect(runtime: Runtime, actor: Actor, client_code: str) -> dict:
    """Everything about one client (see the module's docstring); the export is recorded as an audit event."""
    access.require_role(actor, *access.PRIVACY_REQUESTS)
    at = clock.now()
    with runtime.db.reading() as session:
        client = retention.find_client(session, client_code)
        usernames = dict(session.execute(select(User.id, User.username)).all())
        out: dict = {
            "format": FORMAT, "generated_at": at.isoformat(), "generated_by": actor.username,
            "client": {"client_code": client.client_code,
                       **{f: _iso(v) for f, v in clients.identity(session, client).items()},
                       "registered_at": client.registered_at.isoformat(), "registered_by": client.registered_by,
                       "erased_at": _iso(client.erased_at)},
            "intakes": [{"case_id": i.case_id, "client_status": i.client_status,
                         "problem": keys.open_text(session, i.problem, keys.INTAKE),
                         "phone": keys.open_text(session, i.phone, keys.INTAKE), "taken_at": i.taken_at.isoformat()}
                        for i in session.execute(select(Intake).where(Intake.client_id == client.id)
                                                 .order_by(Intake.id)).scalars()],
            "cases": [], "memberships": [],
            "register_history": [_event(session, e) for e in erasure.stream_events_about(session, client.client_code)],
        }
        for case in session.execute(select(Case).where(Case.client_id == client.id).order_by(Case.id)).scalars():
            out["cases"].append(_case(runtime, session, case, usernames))
        memberships = session.execute(select(CaseMember, Case).join(Case, Case.id == CaseMember.case_id)
                                      .where(CaseMember.client_id == client.id).order_by(CaseMember.id)).all()
        for member, case in memberships:
            view = runtime.definition(session, case.definition_id)
            out["memberships"].append({"case_id": case.id, "process_key": case.process_key, "process": view.name,
                                       "joined_on": _iso(member.joined_on), "left_on": _iso(member.left_on),
                                       "data": members.recorded(session, member),
                                       "recorded_by": member.recorded_by,
                                       "caseworker": usernames.get(case.caseworker_id or 0)})
        out["consents"] = _consents(session, client.id, [c["case_id"] for c in out["cases"]])
    with runtime.db.unit_of_work() as session:
        audit.record_system_event(session, actor.username, at, audit.CLIENT_DATA_EXPORTED,
                                  {"client": client.client_code, "cases": [c["case_id"] for c in out["cases"]]},
                                  stream=erasure.PRIVACY_STREAM)
    return out


def _consents(session, client_id: int, case_ids: list[int]) -> list[dict]:
    """The data-processing statements the person signed, each with its text, and whether it still holds."""
    from ..cases.consent import status_of
    from ..forms.forms import service_today
    from ..store.consent_models import Consent

    t = Consent.__table__
    whose = t.c.client_id == client_id if not case_ids else (t.c.client_id == client_id) | t.c.case_id.in_(case_ids)
    rows = session.execute(select(t).where(whose).order_by(t.c.given_on, t.c.id)).all()
    today = service_today()
    return [{"consent_id": r.id, "case_id": r.case_id, "statement": r.statement_key, "version": r.statement_version,
             "text": r.statement_text, "given_on": _iso(r.given_on), "expires_on": _iso(r.expires_on),
             "recorded_by": r.recorded_by, "withdrawn_on": _iso(r.withdrawn_on), "withdrawn_by": r.withdrawn_by,
             "withdrawal_reason": r.withdrawal_reason, "status": status_of(r, today)} for r in rows]


def _case(runtime: Runtime, session, case: Case, usernames: dict) -> dict:
    view = runtime.definition(session, case.definition_id)
    log_fields = sorted({f for form in view.forms.values() for f in form.append_only})
    if case.erased_at is None:
        data, described = case_data_and_entries(runtime, session, case, log_fields)
        data = {k: v for k, v in data.items() if k not in described}  # the log rows are listed with their history
    else:
        data, described = {}, {}
    tasks = session.execute(select(HumanTask).where(HumanTask.case_id == case.id).order_by(HumanTask.id)).scalars()
    events = session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)
                             .order_by(AuditEvent.seq)).scalars()
    documents = session.execute(select(CaseDocument).where(CaseDocument.case_id == case.id)
                                .order_by(CaseDocument.id)).scalars()
    return {
        "case_id": case.id, "process_key": case.process_key, "process": view.name, "status": case.status,
        "started_at": case.started_at.isoformat(), "completed_at": _iso(case.completed_at),
        "caseworker": usernames.get(case.caseworker_id or 0), "erased_at": _iso(case.erased_at),
        "legal_hold": retention.hold_of(case) if case.hold_reason else None,
        "labels": _labels(view), "data": data, "case_log": described,
        "tasks": [{"task_id": t.id, "step": t.step, "name": t.name, "state": t.state,
                   "created_at": t.created_at.isoformat(), "completed_at": _iso(t.completed_at),
                   "completed_by": t.completed_by,
                   "draft": keys.open_json(session, t.draft, keys.DRAFT)} for t in tasks],
        "documents": [{"document_key": d.document_key, "kind": d.kind, "version": d.version, "step": d.step,
                       "file_name": d.file_name, "media_type": d.media_type, "produced_by": d.produced_by,
                       "produced_at": d.produced_at.isoformat(), "sha256": d.sha256,
                       "content_base64": base64.b64encode(keys.open_sealed(session, bytes(d.content), keys.DOCUMENT))
                       .decode("ascii") if d.content else None}
                      for d in documents],
        "history": [_event(session, e) for e in events],
    }


def to_json(export: dict) -> str:
    return json.dumps(export, ensure_ascii=False, indent=1, default=str)


TEXT = {
    "hu": {"title": "Személyes adatok – {code}", "intro": "A Segito által a kliensről tárolt összes adat, "
           "{at} állapot szerint ({by} állította össze). A géppel olvasható változat a JSON fájl.",
           "identity": "Nyilvántartási adatok", "family_name": "Családi név", "given_name": "Utónév",
           "birth_date": "Születési idő", "birth_place": "Születési hely", "mother_name": "Anyja neve",
           "phone": "Telefonszám", "registered_at": "Nyilvántartásba vétel", "erased_at": "Törölve",
           "intakes": "Esetfelvételek", "case": "Eset", "status": "Állapot", "started_at": "Kezdete",
           "completed_at": "Lezárva", "caseworker": "Esetgazda", "data": "Adatok", "case_log": "Esetnapló",
           "recorded_by": "Rögzítette", "corrections": "Javítások", "tasks": "Lépések", "history": "Előzmények",
           "hold": "Jogi zárolás", "memberships": "Csoporttagságok", "joined_on": "Belépés", "left_on": "Kilépés",
           "register_history": "A nyilvántartás módosításai",
           "consents": "Adatkezelési hozzájárulások", "statement": "Nyilatkozat", "given_on": "Megadva",
           "expires_on": "Lejár", "withdrawn_on": "Visszavonva", "in_force": "érvényes", "withdrawn": "visszavonva",
           "expired": "lejárt", "none": "nincs", "problem": "Hozott probléma",
           "when": "Időpont", "who": "Ki", "what": "Mi történt", "details": "Részletek", "step": "Lépés",
           "draft": "Piszkozat", "documents": "Dokumentumok",
           "erased_case": "Az eset személyes adatait törölték: {at}."},
    "en": {"title": "Personal data – {code}", "intro": "All the data Segito holds about the client, as of {at} "
           "(compiled by {by}). The machine-readable version is the JSON file.",
           "identity": "Register", "family_name": "Family name", "given_name": "Given name(s)",
           "birth_date": "Date of birth", "birth_place": "Place of birth", "mother_name": "Mother's name",
           "phone": "Phone", "registered_at": "Registered", "erased_at": "Erased", "intakes": "Intakes",
           "case": "Case", "status": "Status", "started_at": "Started", "completed_at": "Closed",
           "caseworker": "Caseworker", "data": "Data", "case_log": "Case log", "recorded_by": "Recorded by",
           "corrections": "Corrections", "tasks": "Steps", "history": "History", "hold": "Legal hold",
           "memberships": "Group memberships", "joined_on": "Joined", "left_on": "Left",
           "register_history": "Changes to the register",
           "consents": "Data-processing consents", "statement": "Statement", "given_on": "Given on",
           "expires_on": "Expires on", "withdrawn_on": "Withdrawn on", "in_force": "in force",
           "withdrawn": "withdrawn", "expired": "expired", "none": "none", "problem": "Presented problem",
           "when": "When", "who": "Who", "what": "What happened", "details": "Details", "step": "Step",
           "draft": "Draft", "documents": "Documents", "erased_case": "The case's personal data was erased on {at}."},
}


def _value(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "–"
    if isinstance(value, (dict, list)):
        return f"<pre>{html.escape(json.dumps(value, ensure_ascii=False, indent=1, default=str))}</pre>"
    return html.escape(str(value))


def _table(rows: list[tuple[str, object]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in rows) \
        + "</table>"


def to_html(export: dict, lang: str = "hu") -> str:
    """The export as one self-contained page (no scripts, no outside resources) in ``lang`` (hu or en)."""
    t = TEXT["en" if lang == "en" else "hu"]
    client = export["client"]
    parts = [f"<h1>{html.escape(t['title'].format(code=client['client_code']))}</h1>",
             f"<p>{html.escape(t['intro'].format(at=export['generated_at'], by=export['generated_by']))}</p>",
             f"<h2>{t['identity']}</h2>",
             _table([(t[f], client[f]) for f in (*erasure.CLIENT_FIELDS, "registered_at", "erased_at")])]
    parts.append(f"<h2>{t['intakes']}</h2>")
    parts += [_table([(t["case"], i["case_id"]), (t["status"], i["client_status"]), (t["problem"], i["problem"]),
                      (t["phone"], i["phone"]), (t["when"], i["taken_at"])]) for i in export["intakes"]] \
        or [f"<p>{t['none']}</p>"]
    for case in export["cases"]:
        name = case["process"] if isinstance(case["process"], str) else case["process_key"]
        if " / " in name:  # "magyar / English", as process names are written
            name = name.split(" / ", 1)[1 if lang == "en" else 0]
        parts.append(f"<h2>{t['case']} {case['case_id']}: {html.escape(name)}</h2>")
        parts.append(_table([(t["status"], case["status"]), (t["started_at"], case["started_at"]),
                             (t["completed_at"], case["completed_at"]), (t["caseworker"], case["caseworker"]),
                             (t["hold"], (case["legal_hold"] or {}).get("reason"))]))
        if case["erased_at"]:
            parts.append(f"<p>{html.escape(t['erased_case'].format(at=case['erased_at']))}</p>")
        labels = case["labels"]

        def label(field: str, labels=labels) -> str:
            return (labels.get(field) or {}).get(lang) or field

        if case["data"]:
            parts.append(f"<h3>{t['data']}</h3>")
            parts.append(_table([(label(k), v) for k, v in sorted(case["data"].items())]))
        for field, rows in case["case_log"].items():
            parts.append(f"<h3>{t['case_log']}: {html.escape(label(field))}</h3>")
            parts.append(_table([(f"{r['index'] + 1}. ({t['recorded_by']}: {r.get('recorded_by') or '–'})",
                                  {**r["row"], **({t["corrections"]: r["corrections"]} if r["corrections"] else {})})
                                 for r in rows]))
        parts.append(f"<h3>{t['tasks']}</h3>")
        parts.append(_table([(f"{task['step'] or ''} {task['name']}",
                              f"{task['state']} · {task['completed_at'] or task['created_at']} · "
                              f"{task['completed_by'] or ''}" + (f" · {t['draft']}: {task['draft']}"
                                                                  if task["draft"] else ""))
                             for task in case["tasks"]]))
        if case["documents"]:
            parts.append(f"<h3>{t['documents']}</h3>")
            parts.append(_table([(f"{d['file_name']} ({d['version']})", f"{d['produced_at']} · {d['produced_by']}")
                                 for d in case["documents"]]))
        parts.append(f"<h3>{t['history']}</h3>")
        parts.append(_events(case["history"], t))
    if export["memberships"]:
        parts.append(f"<h2>{t['memberships']}</h2>")
        parts += [_table([(t["case"], f"{m['case_id']}: {m['process']}"), (t["joined_on"], m["joined_on"]),
                          (t["left_on"], m["left_on"]), (t["data"], m["data"])]) for m in export["memberships"]]
    parts.append(f"<h2>{t['consents']}</h2>")
    parts += [_table([(t["statement"], f"{c['statement']} ({c['version']}): {c['text'].get(lang, '')}"),
                      (t["given_on"], c["given_on"]), (t["expires_on"], c["expires_on"]),
                      (t["withdrawn_on"], c["withdrawn_on"]), (t["status"], t[c["status"]])])
              for c in export.get("consents") or ()] or [f"<p>{t['none']}</p>"]
    parts.append(f"<h2>{t['register_history']}</h2>")
    parts.append(_events(export["register_history"], t) if export["register_history"] else f"<p>{t['none']}</p>")
    style = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:"
             "collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem;text-align:left;"
             "vertical-align:top}th{width:30%;background:#f4f4f4}pre{margin:0;white-space:pre-wrap}")
    return (f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "hu"}"><head><meta charset="utf-8">'
            f"<title>{html.escape(t['title'].format(code=client['client_code']))}</title><style>{style}</style>"
            f"</head><body>{''.join(parts)}</body></html>")


def _events(events: list[dict], t: dict) -> str:
    head = f"<tr><th>{t['when']}</th><th>{t['who']}</th><th>{t['what']}</th><th>{t['details']}</th></tr>"
    rows = "".join(f"<tr><td>{html.escape(e['at'])}</td><td>{html.escape(e['actor'])}</td>"
                   f"<td>{html.escape(e['kind'])}</td><td>{_value(e['payload'])}</td></tr>" for e in events)
    return f"<table>{head}{rows}</table>"


def summary(runtime: Runtime, actor: Actor, client_code: str) -> dict:
    """What a request page shows of a client: the register's row and, per case, whether it could be erased now
    and why not (``retention.erase_for_client``'s dry run). Opening it is recorded (``client_viewed``)."""
    access.require_role(actor, *access.PRIVACY_REQUESTS)
    at = clock.now()
    plan = retention.erase_for_client(runtime, actor, client_code, dry_run=True)
    with runtime.db.unit_of_work() as session:
        client = retention.find_client(session, client_code)
        found = {"client_code": client.client_code, **clients.identity(session, client),
                 "registered_at": client.registered_at, "erased_at": client.erased_at, "plan": plan}
        audit.record_system_event(session, actor.username, at, audit.CLIENT_VIEWED,
                                  {"client": client.client_code, "via": "web"}, stream=erasure.PRIVACY_STREAM)
    return found
