"""Consent and legal basis: the statements a person signs, their lifecycle (given, withdrawn, expired), and the
rule that a case of a process whose legal basis is consent takes no personal data while none is in force
(docs/operations.md, "Consent and legal basis"; the manifest's ``legal_basis``, docs/services.md).

A consent belongs to the person (the client code) and to the statement (its key and version): one signed for
one case covers every case of the same client whose process declares the same statement and version, so a new
version of a statement needs fresh consent. It is recorded on a case: by hand (the case page, the command line,
the API) or by the step the manifest names (``consent.taken_at``), whose form records the signature. That step
is the one step of such a process that runs without consent in force: it is where consent is taken.

Withdrawal (GDPR Art. 7(3)) stops further processing: from the day it is recorded every step of every case the
consent covered is refused, so the running case waits where it is, its data kept as it was lawfully recorded,
until the person consents again (a new statement recorded, the case goes on) or the data-protection officer
acts on an erasure request. Expiry works the same way from the day after ``expires_on``.
Every change is an event of the case's audit chain: ``consent_given``, ``consent_withdrawn``.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select

from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..forms import input_check
from ..forms.forms import service_today
from ..packages import settings as package_settings
from ..people import access
from ..people.users import CASEWORKER, DATA_PROTECTION_OFFICER, MANAGER, PROFESSIONAL_LEAD, Actor
from ..runtime.runtime import Runtime
from ..store import audit, clock
from ..store.consent_models import Consent
from ..store.models import Case, Client, User
from . import masking

CONSENT_GIVEN = "consent_given"
CONSENT_WITHDRAWN = "consent_withdrawn"
# A case's consent state: ``not_needed`` (its process relies on another basis), ``in_force``, ``missing``,
# ``withdrawn``, ``expired``.
NOT_NEEDED, IN_FORCE, MISSING, WITHDRAWN, EXPIRED = "not_needed", "in_force", "missing", "withdrawn", "expired"
# Who records and withdraws a person's statement: whoever may see the case (its caseworker, the lead, the
# manager) and the data-protection officer, who answers a person's withdrawal sent to the service.
RECORDERS = (CASEWORKER, PROFESSIONAL_LEAD, MANAGER, DATA_PROTECTION_OFFICER)
EXPIRING_DAYS = 30
MAX_REASON = 2000


class ConsentRequired(ValidationFailed):
    """A step of a process whose legal basis is consent, while no consent is in force: nothing was saved."""

    code = "consent_required"


def _table():
    return Consent.__table__


def status_of(row, today: dt.date) -> str:
    if row.withdrawn_at is not None:
        return WITHDRAWN
    if row.expires_on is not None and row.expires_on < today:
        return EXPIRED
    return IN_FORCE


def _expiry(given_on: dt.date, statement: dict) -> dt.date | None:
    months = statement.get("valid_months")
    if not months:
        return None
    month = given_on.month - 1 + months
    year, month = given_on.year + month // 12, month % 12 + 1
    for day in (given_on.day, 30, 29, 28):  # the last day of a shorter month
        try:
            return dt.date(year, month, day) - dt.timedelta(days=1)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _about(statement: dict, case_id: int, client_id: int | None):
    """The rows of this statement and version that cover a case: the client's, or the case's own before its
    client was registered."""
    t = _table()
    whose = t.c.case_id == case_id if client_id is None else or_(t.c.client_id == client_id, t.c.case_id == case_id)
    return select(t).where(t.c.statement_key == statement["statement"],
                           t.c.statement_version == str(statement["version"]), whose)


def latest(connection, statement: dict, case_id: int, client_id: int | None, today: dt.date):
    """(state, row): the consent in force that covers the case, or the latest one and why it is not in force."""
    t = _table()
    rows = connection.execute(_about(statement, case_id, client_id)
                              .order_by(t.c.given_on.desc(), t.c.id.desc())).all()
    for row in rows:
        if status_of(row, today) == IN_FORCE and row.given_on <= today:
            return IN_FORCE, row
    if not rows:
        return MISSING, None
    return status_of(rows[0], today), rows[0]


def require_for_step(connection, view, case, bpmn_id: str, today: dt.date) -> None:
    """Refuse a step of a consent-based process while no consent is in force (the step that takes it excepted)."""
    statement = package_settings.consent_statement(view.manifest, view.process_key)
    if statement is None or (statement.get("taken_at") or {}).get("task") == bpmn_id:
        return
    state, row = latest(connection, statement, case.id, case.client_id, today)
    if state == IN_FORCE:
        return
    if state == WITHDRAWN and row is not None:
        why = f"the data-processing consent was withdrawn on {row.withdrawn_on}"
    elif state == EXPIRED and row is not None:
        why = f"the data-processing consent expired on {row.expires_on}"
    else:
        why = "no data-processing consent is on record"
    raise ConsentRequired(
        f"case {case.id}: {why} (statement '{statement['statement']}', version {statement['version']}), so no "
        f"personal data may be recorded; record the person's signed statement first: on the case page "
        f"(Consent), or `segito consent give {case.id} --given YYYY-MM-DD`, or POST /api/cases/{case.id}/consents",
        [{"field": "consent", "code": f"consent_{state}", "case_id": case.id, "statement": statement["statement"],
          "version": str(statement["version"]), "message": why}])


def take_from_step(connection, view, case, bpmn_id: str, clean: dict, actor: str, at: dt.datetime,
                   events: audit.CaseAudit) -> None:
    """The step that records the signature (``consent.taken_at``) puts it in the register, once."""
    statement = package_settings.consent_statement(view.manifest, view.process_key)
    taken_at = (statement or {}).get("taken_at") or {}
    if statement is None or taken_at.get("task") != bpmn_id or clean.get(taken_at["given"]) is not True:
        return
    today = service_today()
    raw = clean.get(taken_at.get("date") or "")
    given_on = dt.date.fromisoformat(raw) if isinstance(raw, str) and raw else today
    if latest(connection, statement, case.id, case.client_id, today)[0] == IN_FORCE:
        return
    _insert(connection, statement, case, given_on, actor, at, events, via="step")


def _insert(connection, statement: dict, case, given_on: dt.date, actor: str, at: dt.datetime,
            events: audit.CaseAudit, via: str) -> dict:
    expires_on = _expiry(given_on, statement)
    values = {"case_id": case.id, "client_id": case.client_id, "statement_key": statement["statement"],
              "statement_version": str(statement["version"]), "statement_text": dict(statement["text"]),
              "given_on": given_on, "expires_on": expires_on, "recorded_by": actor, "recorded_at": at}
    consent_id = connection.execute(_table().insert().values(**values)).inserted_primary_key[0]
    events.add(CONSENT_GIVEN, {"consent_id": consent_id, "statement": statement["statement"],
                               "version": str(statement["version"]), "given_on": given_on.isoformat(),
                               "expires_on": expires_on.isoformat() if expires_on else None, "via": via})
    return {"consent_id": consent_id, **{k: v for k, v in values.items() if k != "statement_text"}}


def _may_record(actor: Actor, session, case: Case) -> None:
    access.require_role(actor, *RECORDERS)
    if DATA_PROTECTION_OFFICER in actor.role_codes:
        return
    from .cases import _has_task_in_case

    access.require_case(actor, case, _has_task_in_case(session, actor, case.id))


def _day(field: str, raw, today: dt.date, not_before: dt.date | None = None) -> dt.date:
    if isinstance(raw, dt.date):
        day = raw
    else:
        try:
            day = dt.date.fromisoformat(str(raw or "").strip())
        except ValueError:
            raise ValidationFailed(f"{field}: '{raw}' is not a date (YYYY-MM-DD)",
                                   [{"field": field, "message": "not a date (YYYY-MM-DD)"}]) from None
    if day > today:
        raise ValidationFailed(f"{field}: {day.isoformat()} is in the future",
                               [{"field": field, "message": "in the future"}])
    if not_before is not None and day < not_before:
        raise ValidationFailed(f"{field}: {day.isoformat()} is before the consent was given ({not_before})",
                               [{"field": field, "message": f"before {not_before.isoformat()}"}])
    return day


def give(runtime: Runtime, actor: Actor, case_id: int, given_on, signed: bool = True) -> dict:
    """Record that the case's client signed the statement its process declares, on ``given_on``."""
    input_check.check_id("case", case_id)
    if signed is not True:
        raise ValidationFailed("consent is recorded only once the person has signed the statement",
                               [{"field": "signed", "message": "the person must have signed the statement"}])
    at = clock.now()
    today = service_today()
    day = _day("given_on", given_on, today)
    with runtime.db.unit_of_work() as session:
        case = runtime.lock_case(session, case_id)
        _may_record(actor, session, case)
        view = runtime.definition(session, case.definition_id)
        statement = package_settings.consent_statement(view.manifest, view.process_key)
        if statement is None:
            raise ValidationFailed(f"case {case_id}: process '{case.process_key}' relies on another legal basis "
                                   "and declares no consent statement to sign",
                                   [{"field": "case_id", "message": "its process needs no consent"}])
        if case.erased_at is not None:
            raise Conflict(f"case {case_id}'s personal data was erased: it takes no consent")
        connection = session.connection()
        if latest(connection, statement, case.id, case.client_id, today)[0] == IN_FORCE:
            raise Conflict(f"case {case_id}: a consent to statement '{statement['statement']}' version "
                           f"{statement['version']} is already in force")
        events = audit.CaseAudit(case, actor.username, at)
        found = _insert(connection, statement, case, day, actor.username, at, events, via="recorded")
        events.flush(session)
    return _jsonable(found)


def withdraw(runtime: Runtime, actor: Actor, consent_id: int, withdrawn_on, reason: str) -> dict:
    """Record that the person withdrew the consent on ``withdrawn_on``: every case it covered takes no further
    step from then (see the module's docstring)."""
    input_check.check_id("consent", consent_id)
    text = str(reason or "").strip()
    if not text:
        raise ValidationFailed("reason: say how the person withdrew the consent (e.g. their letter of 2026-12-01)",
                               [{"field": "reason", "message": "required"}])
    if len(text) > MAX_REASON:
        raise ValidationFailed(f"the reason is {len(text)} characters long; at most {MAX_REASON}",
                               [{"field": "reason", "message": f"at most {MAX_REASON} characters"}])
    input_check.check_text("reason", text)
    at = clock.now()
    today = service_today()
    t = _table()
    with runtime.db.unit_of_work() as session:
        connection = session.connection()
        found = connection.execute(select(t.c.case_id).where(t.c.id == consent_id)).first()
        if found is None:
            raise NotFound(f"consent {consent_id} does not exist")
        case = runtime.lock_case(session, found.case_id)
        _may_record(actor, session, case)
        row = connection.execute(select(t).where(t.c.id == consent_id)).one()
        if row.withdrawn_at is not None:
            raise Conflict(f"consent {consent_id} was withdrawn already on {row.withdrawn_on} (by {row.withdrawn_by})")
        day = _day("withdrawn_on", withdrawn_on, today, not_before=row.given_on)
        client_id = row.client_id or case.client_id
        connection.execute(t.update().where(t.c.id == consent_id, t.c.withdrawn_at.is_(None)).values(
            withdrawn_on=day, withdrawn_by=actor.username, withdrawn_at=at, withdrawal_reason=text,
            client_id=client_id))
        stopped = _covered_running_cases(runtime, session, row, client_id)
        events = audit.CaseAudit(case, actor.username, at)
        events.add(CONSENT_WITHDRAWN, {"consent_id": consent_id, "statement": row.statement_key,
                                       "version": row.statement_version, "withdrawn_on": day.isoformat(),
                                       "reason": text, "cases_stopped": stopped})
        events.flush(session)
    return {"consent_id": consent_id, "withdrawn_on": day.isoformat(), "withdrawn_by": actor.username,
            "cases_stopped": stopped}


def _covered_running_cases(runtime: Runtime, session, row, client_id: int | None) -> list[int]:
    """The running cases the consent covered: the client's cases whose process declares the same statement."""
    cond = Case.id == row.case_id if client_id is None else or_(Case.client_id == client_id, Case.id == row.case_id)
    found = session.execute(select(Case.id, Case.definition_id).where(cond, Case.status == "running")).all()
    covered = []
    for case_id, definition_id in found:
        view = runtime.definition(session, definition_id)
        statement = package_settings.consent_statement(view.manifest, view.process_key) or {}
        if statement.get("statement") == row.statement_key and str(statement.get("version")) == row.statement_version:
            covered.append(case_id)
    return sorted(covered)


def for_case(runtime: Runtime, actor: Actor, case_id: int) -> dict:
    """The case's legal basis, its statement, and the consents on record that cover it (newest first)."""
    from .cases import authorised_case

    input_check.check_id("case", case_id)
    today = service_today()
    with runtime.db.reading() as session:
        if DATA_PROTECTION_OFFICER in actor.role_codes and not actor.role_codes & access.OVERSEERS:
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound(f"case {case_id} does not exist")
        else:
            case = authorised_case(session, actor, case_id)
        view = runtime.definition(session, case.definition_id)
        basis = package_settings.legal_basis(view.manifest, view.process_key)
        statement = package_settings.consent_statement(view.manifest, view.process_key)
        result: dict = {"case_id": case.id, "process_key": case.process_key, "legal_basis": basis,
                        "statement": statement, "state": NOT_NEEDED, "consents": [], "in_force": None,
                        "may_record": bool(actor.role_codes & set(RECORDERS))}
        if statement is None:
            return result
        connection = session.connection()
        t = _table()
        rows = connection.execute(_about(statement, case.id, case.client_id)
                                  .order_by(t.c.given_on.desc(), t.c.id.desc())).all()
        # Other versions of the statement on record for the person are shown too: they no longer count.
        state, current = latest(connection, statement, case.id, case.client_id, today)
        result["state"] = state
        result["consents"] = [_row(r, today) for r in rows]
        result["in_force"] = _row(current, today) if state == IN_FORCE and current is not None else None
        if not masking.sees_names(actor, case):  # a withdrawal's reason is typed text (engine.cases.masking)
            for item in result["consents"]:
                if item["withdrawal_reason"]:
                    item["withdrawal_reason"] = masking.MASK
        if state == IN_FORCE and current is not None and current.expires_on is not None:
            result["expires_soon"] = (current.expires_on - today).days <= EXPIRING_DAYS
        return result


def _row(r, today: dt.date) -> dict:
    return _jsonable({"consent_id": r.id, "case_id": r.case_id, "statement": r.statement_key,
                      "version": r.statement_version, "text": r.statement_text, "given_on": r.given_on,
                      "expires_on": r.expires_on, "recorded_by": r.recorded_by, "recorded_at": r.recorded_at,
                      "withdrawn_on": r.withdrawn_on, "withdrawn_by": r.withdrawn_by,
                      "withdrawal_reason": r.withdrawal_reason, "status": status_of(r, today)})


def _jsonable(item: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in item.items()}


def expiring(runtime: Runtime, actor: Actor, days: int = EXPIRING_DAYS) -> dict:
    """Running cases of consent-based processes whose consent expires within ``days`` days or is no longer in
    force (missing, withdrawn, expired), soonest first. A caseworker sees her own cases; the lead, the manager and
    the data-protection officer see all."""
    access.require_role(actor, *RECORDERS)
    if type(days) is not int or not 0 <= days <= 3660:
        raise ValidationFailed(f"'days' must be a whole number from 0 to 3660, not '{days}'",
                               [{"field": "days", "message": "a whole number from 0 to 3660"}])
    today = service_today()
    sees_all = bool(actor.role_codes & {PROFESSIONAL_LEAD, MANAGER, DATA_PROTECTION_OFFICER})
    items = []
    with runtime.db.reading() as session:
        connection = session.connection()
        query = (select(Case.id, Case.process_key, Case.definition_id, Case.client_id, Case.caseworker_id,
                        Client.client_code, User.display_name)
                 .outerjoin(Client, Client.id == Case.client_id).outerjoin(User, User.id == Case.caseworker_id)
                 .where(Case.status == "running"))
        if not sees_all:
            query = query.where(or_(Case.caseworker_id == actor.id, and_(Case.caseworker_id.is_(None),
                                                                          Case.started_by == actor.username)))
        for case in connection.execute(query.order_by(Case.id)).all():
            view = runtime.definition(session, case.definition_id)
            statement = package_settings.consent_statement(view.manifest, view.process_key)
            if statement is None:
                continue
            state, row = latest(connection, statement, case.id, case.client_id, today)
            if state == MISSING and not _started_consent_step(connection, case.id, statement):
                continue  # the step that takes consent has not run yet: nothing is overdue
            expires_on = row.expires_on if row is not None else None
            if state == IN_FORCE and (expires_on is None or (expires_on - today).days > days):
                continue
            items.append({"case_id": case.id, "process_key": case.process_key, "client_code": case.client_code,
                          "caseworker": case.display_name, "statement": statement["statement"],
                          "version": str(statement["version"]), "state": state,
                          "consent_id": row.id if row is not None else None,
                          "expires_on": expires_on.isoformat() if expires_on else None,
                          "days_left": (expires_on - today).days if expires_on else None,
                          "withdrawn_on": row.withdrawn_on.isoformat() if row is not None and row.withdrawn_on
                          else None})
    items.sort(key=lambda i: (i["state"] == IN_FORCE, i["days_left"] if i["days_left"] is not None else -10**6,
                              i["case_id"]))
    return {"as_of": today.isoformat(), "days": days, "items": items}


def _started_consent_step(connection, case_id: int, statement: dict) -> bool:
    """Whether the case is past the step that takes consent (or the process names none)."""
    from ..store.models import HumanTask

    task = (statement.get("taken_at") or {}).get("task")
    if not task:
        return True
    return connection.execute(select(HumanTask.id).where(HumanTask.case_id == case_id, HumanTask.bpmn_id == task,
                                                          HumanTask.state == "completed").limit(1)).first() is not None


def require_viewer(actor: Actor) -> None:
    if not actor.role_codes & set(RECORDERS):
        raise Forbidden("this needs one of the roles: " + ", ".join(RECORDERS))
