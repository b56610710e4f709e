"""A case with members: several registered clients, each joining and leaving on a date (docs/services.md,
"Cases with members"; docs/forms.md, ``x-members``).

A process whose manifest declares ``members`` keeps, beside its workflow, one row per membership
(``case_members``): the client, the day they joined, the day they left, and what the joining and leaving rows of
the form recorded about them. Its forms change the membership with repeatable blocks marked ``x-members``:
``join`` rows (``client_code``, ``joined_on``) add members, ``leave`` rows (``client_code``, ``left_on``) end a
membership, ``attendance`` rows (``client_code``) name members present at something. Everything is checked
inside the completing step's transaction and refused with a 422 naming the row: a code the register does not
know, a member joining twice, a leaving before the joining, more members at a time than the manifest allows.

The workflow sees the membership as data the engine writes (``case_members``: every membership with its days
and fields; ``current_members``: the codes of those who have not left; ``member_count``; and ``joined_in_step`` /
``left_in_step``, how many joined and left in the step just completed), so gateways, scripts,
forms and declared reports read it like any other case data. ``leaving_starts`` in the manifest starts a case of
that process for each member who leaves, for that member as its client (the follow-up after leaving), linked to
this case in both histories.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ..errors import ValidationFailed
from ..forms.member_blocks import ATTENDANCE, JOIN, LEAVE, blocks
from ..store import audit, keys
from ..store.models import CaseMember, Client
from . import clients

_ORDER = {LEAVE: 0, JOIN: 1, ATTENDANCE: 2}


def memberships(session, case_id: int) -> list[CaseMember]:
    return list(session.execute(select(CaseMember).where(CaseMember.case_id == case_id)
                                .order_by(CaseMember.joined_on, CaseMember.id)).scalars())


def listing(session, case_id: int, with_names: bool) -> list[dict]:
    """The case's members for the case page and the API: code, days, and names only ``with_names``."""
    rows = session.execute(select(CaseMember, Client).join(Client, Client.id == CaseMember.client_id)
                           .where(CaseMember.case_id == case_id)
                           .order_by(CaseMember.joined_on, CaseMember.id)).all()
    found = []
    for member, client in rows:
        item = {"client_code": client.client_code, "joined_on": member.joined_on.isoformat(),
                "left_on": member.left_on.isoformat() if member.left_on else None,
                "current": member.left_on is None}
        if with_names:
            person = clients.identity(session, client)
            item.update(family_name=person["family_name"], given_name=person["given_name"])
        found.append(item)
    return found


def _refuse(field: str, code: str, message: str, value=None, **figures) -> ValidationFailed:
    """A refused membership change: ``code`` and its figures for whoever words it in the reader's language
    (web/form_errors.py), ``message`` in English for the API's and the command line's reader."""
    detail = {"field": field, "kind": "x-members", "code": code, "message": message, **figures}
    if value is not None:
        detail["value"] = value
    return ValidationFailed(f"{field}: {message}", [detail])


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def apply(session, settings: dict, form, clean: dict, case, task, actor: str, at: dt.datetime, case_audit) -> dict:
    """Check and record the membership changes of a completing step's ``x-members`` blocks; add the data keys
    the workflow reads to ``clean``. Returns ``{"left": [(code, row, member)]}`` for the caller's follow-ups.
    Nothing is written when anything is refused (the caller's transaction is rolled back by the 422)."""
    marked = blocks(form.schema)
    if not marked:
        return {"left": []}
    if not settings:
        field = next(iter(marked))
        raise _refuse(field, "no_members",
                      f"process '{case.process_key}' keeps no members: its manifest declares no 'members'")
    current = {m.client_id: m for m in memberships(session, case.id) if m.left_on is None}
    codes = {code for rows in (clean.get(f) or [] for f in marked) for code in
             (r.get("client_code") for r in rows if isinstance(r, dict)) if isinstance(code, str)}
    ids = dict(session.execute(select(Client.client_code, Client.id).where(Client.client_code.in_(codes))).all()) \
        if codes else {}
    left: list = []
    # Leavings first: a member who leaves and another who joins in one step keep the group within its limit.
    for field, kind in sorted(marked.items(), key=lambda fk: _ORDER[fk[1]]):
        rows = clean.get(field) or []
        seen: set[str] = set()
        if kind == LEAVE:
            for i, row in enumerate(rows):
                code = row["client_code"]
                member = current.get(ids.get(code, -1))
                if code in seen:
                    raise _refuse(f"{field}/{i}/client_code", "listed_twice", f"{code} is listed twice", code)
                seen.add(code)
                if member is None:
                    raise _refuse(f"{field}/{i}/client_code", "not_a_member_now", f"{code} is not a member now", code)
                left_on = _day(row["left_on"])
                if left_on < member.joined_on:
                    raise _refuse(f"{field}/{i}/left_on", "left_before_joining", f"{code} joined on "
                                  f"{member.joined_on.isoformat()}; leaving on {left_on.isoformat()} would be earlier",
                                  row["left_on"], joined_on=member.joined_on.isoformat(), client_code=code)
                member.left_on, member.left_task_id = left_on, task.id
                member.data = keys.seal_json(session, case.data_key_id, {
                    **(recorded(session, member) or {}), **{k: v for k, v in row.items() if k != "client_code"}},
                    keys.MEMBER)
                left.append((code, row, member))
                del current[member.client_id]
                case_audit.add(audit.MEMBER_LEFT, {"client_code": code, "left_on": left_on.isoformat(), "field": field},
                               task.id)
            if form.schema["properties"][field].get("x-members-all") and current:
                rest = ", ".join(sorted(_code(session, c) for c in current))
                raise _refuse(field, "all_must_leave", f"every member must be listed here; still in: {rest}",
                              codes=rest)
        elif kind == JOIN:
            for i, row in enumerate(rows):
                code = row["client_code"]
                if code in seen:
                    raise _refuse(f"{field}/{i}/client_code", "listed_twice", f"{code} is listed twice", code)
                seen.add(code)
                if code not in ids:
                    raise _refuse(f"{field}/{i}/client_code", "unknown_code",
                                  f"no registered client has the code {code}: register them first", code)
                if ids[code] in current:
                    raise _refuse(f"{field}/{i}/client_code", "already_a_member", f"{code} is already a member", code)
                member = CaseMember(case_id=case.id, client_id=ids[code], joined_on=_day(row["joined_on"]),
                                    left_on=None, joined_task_id=task.id, left_task_id=None,
                                    data=keys.seal_json(session, case.data_key_id,
                                                        {k: v for k, v in row.items() if k != "client_code"},
                                                        keys.MEMBER), recorded_at=at,
                                    recorded_by=actor)
                session.add(member)
                current[ids[code]] = member
                case_audit.add(audit.MEMBER_JOINED, {"client_code": code, "joined_on": member.joined_on.isoformat(),
                                               "field": field}, task.id)
            limit = settings.get("max")
            if limit is not None and len(current) > limit:
                raise _refuse(field, "too_many_members", f"at most {limit} members at a time: with {len(rows)} "
                              f"joining there would be {len(current)}", len(current), limit=limit,
                              joining=len(rows))
        else:  # attendance: members of the case (present now, or leaving in this step)
            members = set(current) | {m.client_id for _, _, m in left}
            for i, row in enumerate(rows):
                code = row["client_code"]
                if code in seen:
                    raise _refuse(f"{field}/{i}/client_code", "listed_twice", f"{code} is listed twice", code)
                seen.add(code)
                if ids.get(code) not in members:
                    raise _refuse(f"{field}/{i}/client_code", "not_a_member", f"{code} is not a member", code)
            missing = members - {ids[c] for c in seen}
            if form.schema["properties"][field].get("x-members-all") and missing:
                missed = ", ".join(sorted(_code(session, c) for c in missing))
                raise _refuse(field, "missing_from_sheet", f"every member must be on the sheet; missing: {missed}",
                              codes=missed)
    session.flush()
    clean.update(data_of(session, case.id))
    # How many joined and left in this step: a process may ask each of them something (e.g. one questionnaire
    # per member who joined, docs/processes.md), without learning who.
    clean["joined_in_step"] = sum(len(clean.get(f) or []) for f, k in marked.items() if k == JOIN)
    clean["left_in_step"] = len(left)
    return {"left": left}


def _code(session, client_id: int) -> str:
    return session.execute(select(Client.client_code).where(Client.id == client_id)).scalar_one()


def data_of(session, case_id: int) -> dict:
    """The membership as the workflow reads it (``DATA_KEYS``)."""
    rows = session.execute(select(CaseMember, Client.client_code).join(Client, Client.id == CaseMember.client_id)
                           .where(CaseMember.case_id == case_id)
                           .order_by(CaseMember.joined_on, CaseMember.id)).all()
    listed = [{**(recorded(session, m) or {}), "client_code": code, "joined_on": m.joined_on.isoformat(),
               "left_on": m.left_on.isoformat() if m.left_on else None} for m, code in rows]
    current = [item["client_code"] for item in listed if item["left_on"] is None]
    return {"case_members": listed, "current_members": current, "member_count": len(current)}


def overlay(session, settings: dict, case_id: int, data: dict) -> dict:
    """``data`` with the membership as it is now. A case with parallel branches (a questionnaire per member
    waiting beside the meetings) has waiting tasks that branched off before the latest change; the membership is
    the engine's, so whoever reads the case's data (its page, the reports) sees it current."""
    if not settings:
        return data
    return {**data, **data_of(session, case_id)}


def recorded(session, member: CaseMember) -> dict | None:
    """What a membership's joining and leaving rows recorded, opened (sealed under the case's data key)."""
    return keys.open_json(session, member.data, keys.MEMBER)


def follow_up_seed(session, code: str, row: dict, member: CaseMember, case_id: int) -> dict:
    """The data a case started for a member who left begins with: what was recorded at their joining and
    leaving, the days, and the case they left."""
    data = {k: v for k, v in (recorded(session, member) or {}).items()}
    data.update({k: v for k, v in row.items() if k != "client_code"})
    data.update(joined_on=member.joined_on.isoformat(), left_on=member.left_on.isoformat() if member.left_on
                else None, members_case_id=case_id)
    return data

