"""Audit events as a person reads them: the event's name in the user's language, field changes as a before/after
table with the field's label and seed field number, values unescaped (options by their label, yes/no, dates and
times in the language's format), and a run of views of a case by one person as one line.

Shared by the audit pages (web/audit_views.py) and the case page's timeline (web/case_views.py); see
docs/web.md, "The audit log".
"""
from __future__ import annotations

import re

from engine.forms import texts

from .formatting import date, datetime_, role_name
from .i18n import N_, ngettext
from .i18n import gettext as translate
from .labels import bilingual, caseload_label, field_schema, lang, option_label, step_name, text

# Every kind of event engine/ writes (engine/store/audit.py, audit_log.py, timer_sync.py, timers.py, agenda.py,
# caseload.py); an unknown kind is shown with its words, never as a code.
EVENT_NAMES = {
    "case_started": N_("Case started"), "case_completed": N_("Case closed"), "task_created": N_("Step waiting"),
    "task_completed": N_("Step completed"), "task_cancelled": N_("Step withdrawn"),
    "task_claimed": N_("Step claimed"), "task_released": N_("Step released"), "draft_saved": N_("Draft saved"),
    "form_data_changed": N_("Data changed"), "decision_taken": N_("Decision"),
    "entry_corrected": N_("Entry corrected"), "case_linked": N_("Case linked"),
    "member_joined": N_("Member joined"), "member_left": N_("Member left"),
    "client_registered": N_("Client registered"), "client_returned": N_("Returning client recognised"),
    "definition_deployed": N_("Process version deployed"), "package_deployed": N_("Service package deployed"),
    "package_exported": N_("Service package version exported"),
    "package_draft_saved": N_("Service package draft saved"),
    "package_published": N_("Service package version published"),
    "case_migrated": N_("Case moved to another version"), "cases_migrated": N_("Cases moved to another version"),
    "user_created": N_("User created"),
    "user_changed": N_("User changed"), "user_locale_changed": N_("Language changed"),
    "user_logged_in": N_("Logged in"), "user_logged_out": N_("Logged out"),
    "sessions_ended": N_("Sessions ended"), "login_failed": N_("Failed login"),
    "access_denied": N_("Access refused"), "case_viewed": N_("Case viewed"), "task_viewed": N_("Step viewed"),
    "timer_fired": N_("Deadline reached"), "timers_scheduled": N_("Deadlines set"),
    "timers_cancelled": N_("Deadlines withdrawn"), "timer_failed": N_("Deadline failed, will be retried"),
    "timer_incident_opened": N_("Deadline in trouble"), "timer_incident_closed": N_("Deadline trouble closed"),
    "timer_retried": N_("Deadline retried"), "calendar_feed_created": N_("Calendar feed link made"),
    "caseload_limit_exceeded": N_("Caseload limit exceeded"), "time_limit_exceeded": N_("Weekly time limit exceeded"),
    "legal_hold_set": N_("Legal hold set"), "legal_hold_cleared": N_("Legal hold cleared"),
    "consent_given": N_("Consent recorded"), "consent_withdrawn": N_("Consent withdrawn"),
    "client_names_listed": N_("Clients listed by name"),
    "personal_data_erased": N_("Personal data erased"), "client_data_exported": N_("Personal data handed out"),
    "client_corrected": N_("Register rectified"), "client_viewed": N_("Personal data viewed"),
    "document_produced": N_("Document produced"), "document_uploaded": N_("Signed copy uploaded"),
    "document_downloaded": N_("Document downloaded"),
    "api_token_issued": N_("API token issued"), "api_token_revoked": N_("API token revoked"),
    "api_tokens_listed": N_("API tokens looked at"), "api_tokens_revoked": N_("API tokens revoked"),
}
# The warnings of a limit a service sets (web/limit_warnings.py): their figures, named here.
LIMIT_KINDS = ("caseload_limit_exceeded", "time_limit_exceeded")
DOCUMENT_KINDS = ("document_produced", "document_uploaded", "document_downloaded")
VIEW_KINDS = ("case_viewed", "task_viewed")

# Payload keys shown as details (the rest are ids and internals an auditor does not need to read).
CONSENT_KINDS = ("consent_given", "consent_withdrawn")
DETAIL_NAMES = {
    "via": N_("Through"), "what": N_("What"), "reason": N_("Reason"), "username": N_("User"),
    "client_code": N_("Client code"), "client_status": N_("Client"), "label": N_("Deadline"),
    "due_at": N_("Due"), "late_seconds": N_("Late by"), "attempt": N_("Attempt"), "error": N_("Error"),
    "retry_at": N_("Retried at"), "method": N_("Request"), "path": N_("Address"), "process_key": N_("Process"),
    "version": N_("Version"), "display_name": N_("Name"), "roles": N_("Roles"), "locale": N_("Language"),
    "active": N_("Active"), "sessions": N_("Login sessions"),
    "confirmed_with_open_cases": N_("Started beside open cases"),
    "client_id": N_("Client"), "times": N_("Times"), "row": N_("Row"), "step": N_("Step"),
    "session": N_("Login session"), "remote_addr": N_("From address"), "limit": N_("Limit"), "timers": N_("Deadlines"),
    "created_at": N_("Created"), "joined_on": N_("Joined"), "left_on": N_("Left"),
    "client": N_("Client code"), "hold": N_("Legal hold"), "held_by": N_("Held by"),
    "erased_by": N_("Erased; the erasure is the event at position"),
    "token_name": N_("Token name"), "scopes": N_("Scopes"), "expires_at": N_("Expires"), "tokens": N_("API tokens"),
}
VALUE_NAMES = {
    "web": N_("the web page"), "api": N_("the API"), "audit": N_("the audit log"), "history": N_("the history"),
    "cli": N_("the command line"), "user_deactivated": N_("user deactivated"),
    "password_changed": N_("password changed"), "new": N_("new"), "returning": N_("returning"),
    "hu": N_("Hungarian"), "en": N_("English"), "incident": N_("in trouble"), "scheduled": N_("scheduled"),
    "cancelled": N_("withdrawn"), "fired": N_("reached"), "locked_out": N_("locked out"), "locked": N_("locked out"),
    "bad_credentials": N_("wrong user name or password"), "running": N_("Running"), "completed": N_("Closed"),
    "failed": N_("Failed"),
    "consent": N_("the data-processing consent"),
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def event_name(kind: str) -> str:
    return translate(EVENT_NAMES[kind]) if kind in EVENT_NAMES else kind.replace("_", " ").capitalize()


def show_value(value, schema: dict | None = None) -> str:
    """One value as a person reads it: options by their label, yes/no, dates and times in the user's format."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return translate("Yes") if value else translate("No")
    if texts.is_text(value):
        return texts.in_language(value, lang())
    if schema and (schema.get("x-options") or (schema.get("items") or {}).get("x-options")):
        return option_label(schema, value)
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            return date(value)
        if _ISO_INSTANT.match(value):
            return datetime_(value)
        return value
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return ", ".join(show_value(v) for v in value)
        if value and all(isinstance(v, dict) and all(not isinstance(x, (dict, list)) for x in v.values())
                         for v in value):
            # Case-log rows (a meeting, an action): their values, so an earlier value stays readable here.
            props = ((schema or {}).get("items") or {}).get("properties") or {}
            return " | ".join(" · ".join(show_value(x, props.get(k)) for k, x in v.items()) for v in value)
        return translate("%(count)d entries", count=len(value))
    if isinstance(value, dict):
        return "; ".join(f"{_detail_name(k)}: {show_value(v)}" for k, v in value.items())
    return str(value)


def duration(seconds: float) -> str:
    """A length of time as a person reads it: days, hours and minutes (seconds only under a minute)."""
    total = max(0, round(seconds))
    if total < 60:
        return ngettext("%(num)d second", "%(num)d seconds", total)
    days, rest = divmod(total, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = [ngettext("%(num)d day", "%(num)d days", days) if days else "",
             ngettext("%(num)d hour", "%(num)d hours", hours) if hours else "",
             ngettext("%(num)d minute", "%(num)d minutes", minutes) if minutes else ""]
    return " ".join(p for p in parts if p)


def _detail_name(key: str) -> str:
    return translate(DETAIL_NAMES[key]) if key in DETAIL_NAMES else key.replace("_", " ")


def _detail_value(key: str, value) -> str:
    if key == "process_key" and isinstance(value, str):
        from .labels import process_name

        return process_name(value)
    if key == "roles" and isinstance(value, list):
        return ", ".join(role_name(str(r)) for r in value)
    if key == "timers" and isinstance(value, list):
        # Timer labels are written "magyar / English" in the BPMN: the user's half (labels.bilingual).
        return "; ".join(f"{bilingual(t.get('label')) or t.get('bpmn_id')} ({show_value(t.get('due_at'))})"
                         for t in value if isinstance(t, dict))
    if key == "label" and isinstance(value, str):
        return bilingual(value)
    if key == "late_seconds" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return duration(value)
    if key == "confirmed_with_open_cases" and isinstance(value, list):
        return ", ".join(f"#{c}" for c in value)
    if isinstance(value, str) and value in VALUE_NAMES:
        return translate(VALUE_NAMES[value])
    return show_value(value)


def _field(view, key: str) -> tuple[str, dict | None, str]:
    """(label in the user's language, schema, seed field number or "")."""
    schema = field_schema(view, key) if view is not None else None
    if not schema:  # carried over from another process (the intake's answers in a family-care case)
        from .labels import latest_views

        schema = next((found for other in latest_views().values() if (found := field_schema(other, key))), None)
    if not schema and view is not None:  # seeded by the engine for a field that is pre-filled from it
        schema = next((prop for form in view.forms.values()
                       for prop in form.schema.get("properties", {}).values()
                       if isinstance(prop, dict) and prop.get("x-prefill-from") == key), None)
    if not schema:
        return _detail_name(key), None, ""
    number = schema.get("x-seed-field")
    return text(schema.get("x-label"), schema.get("title") or key), schema, "" if number is None else str(number)


def changes(view, payload: dict, names: dict) -> list[dict]:
    """The before/after rows of an event that changed fields (a form's data, a claim, a timer's state)."""
    before, after = payload.get("before"), payload.get("after")
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        if key == "assignee_id":
            rows.append({"label": translate("Assigned to"), "number": "",
                         "before": names.get(before.get(key), "–"), "after": names.get(after.get(key), "–")})
            continue
        label, schema, number = _field(view, key)
        if schema is None and key in ("state", "status"):
            rows.append({"label": translate("State"), "number": "", "before": _detail_value(key, before.get(key)),
                         "after": _detail_value(key, after.get(key))})
            continue
        rows.append({"label": label, "number": number, "before": show_value(before.get(key), schema),
                     "after": show_value(after.get(key), schema)})
    return rows


def _step(view, payload: dict) -> str:
    if not (payload.get("bpmn_id") or payload.get("step")) or payload.get("timer_id"):
        return ""
    what = step_name({"bpmn_id": payload.get("bpmn_id"), "name": payload.get("name") or payload.get("step")}, view)
    step = str(payload.get("step") or "")
    if step[:1].isdigit() and not what.startswith(step):
        what = f"{step} {what}"
    return what


def _limit_details(payload: dict) -> list[dict]:
    """A passed limit's figures: which caseload (its label from the service's manifest), how many clients or
    minutes in which week, and the limit."""
    rows = [(translate("Caseload"), caseload_label(str(payload.get("caseload") or "")))]
    if "active" in payload:
        rows.append((translate("Clients counted"), show_value(payload["active"])))
    if "week_start" in payload:
        rows.append((translate("Week starting"), show_value(payload["week_start"])))
    if "minutes" in payload:
        rows.append((translate("Minutes logged"), show_value(payload["minutes"])))
    if "limit" in payload:
        rows.append((_detail_name("limit"), show_value(payload["limit"])))
    return [{"label": label, "number": "", "value": value} for label, value in rows]


def present(view, ev: dict, names: dict) -> dict:
    """One event: ``title``, ``what`` (the step or field concerned), ``details`` and ``changes`` rows."""
    payload = ev.get("payload") or {}
    kind = ev["kind"]
    what = _step(view, payload)
    details: list[dict] = []
    if kind == "decision_taken":
        for key, value in (payload.get("answers") or {}).items():
            label, schema, number = _field(view, key)
            details.append({"label": label, "number": number, "value": show_value(value, schema)})
    elif kind == "draft_saved":
        details.append({"label": translate("Fields"), "number": "",
                        "value": ", ".join(_field(view, k)[0] for k in payload.get("fields", []))})
    elif kind == "entry_corrected":
        label, _schema, number = _field(view, str(payload.get("field") or ""))
        what = f"{label} {int(payload.get('row') or 0) + 1}"
        if payload.get("recorded_by"):
            details.append({"label": translate("Recorded"), "number": "",
                            "value": f"{payload['recorded_by']} · {payload.get('step') or ''}"})
        if payload.get("reason"):
            details.append({"label": translate("Reason for the correction"), "number": "",
                            "value": payload["reason"]})
    elif kind in LIMIT_KINDS:
        details.extend(_limit_details(payload))
    elif kind in DOCUMENT_KINDS:  # the document by its title, then its version (docs/documents.md)
        title = payload.get("title")
        named = text(title, str(payload.get("document") or "")) if isinstance(title, dict) else \
            str(payload.get("document") or "")
        what = f"{named} ({what})" if what else named
        details.append({"label": translate("Version"), "number": "", "value": str(payload.get("version") or "")})
        if payload.get("kind") == "signed":
            details.append({"label": translate("Kind"), "number": "", "value": translate("Signed copy")})
        elif payload.get("language") in VALUE_NAMES:
            details.append({"label": translate("Language"), "number": "",
                            "value": translate(VALUE_NAMES[payload["language"]])})
    elif kind == "client_names_listed":  # a report's list by name (engine/reports/run.py): whose names, when
        period = payload.get("period") or {}
        if period.get("from") and period.get("to"):
            details.append({"label": translate("Period"), "number": "",
                            "value": f"{date(period['from'])} – {date(period['to'])}"})
        details.append({"label": translate("Clients listed"), "number": "",
                        "value": ", ".join(str(c) for c in payload.get("clients") or ())})
    elif kind in CONSENT_KINDS:  # a data-processing statement given or withdrawn (engine/cases/consent.py)
        details.append({"label": translate("Statement version"), "number": "", "value": str(payload.get("version"))})
        for key, label in (("given_on", N_("Given on")), ("expires_on", N_("Expires on")),
                           ("withdrawn_on", N_("Withdrawn on"))):
            if payload.get(key):
                details.append({"label": translate(label), "number": "", "value": date(payload[key])})
        if payload.get("reason"):
            details.append({"label": translate("Reason"), "number": "", "value": payload["reason"]})
        if payload.get("cases_stopped"):
            details.append({"label": translate("Cases stopped"), "number": "",
                            "value": ", ".join(f"#{n}" for n in payload["cases_stopped"])})
    elif kind == "task_created" and payload.get("role"):
        details.append({"label": translate("Role"), "number": "", "value": role_name(payload["role"])})
    else:
        for key, value in payload.items():
            if key in DETAIL_NAMES and key not in ("step",):
                details.append({"label": _detail_name(key), "number": "", "value": _detail_value(key, value)})
    return {"seq": ev.get("seq"), "at": ev["at"], "actor": ev["actor"], "kind": kind, "title": event_name(kind),
            "what": what, "changes": changes(view, payload, names), "details": details,
            "case_id": ev.get("case_id")}


def _day_range(first: str, last: str) -> str:
    """'2026.12.04–05' for two days of one month, '2026.12.04' for one day, both in full otherwise."""
    a, b = date(first), date(last)
    if a == b:
        return a
    if len(a) == len(b) == 10 and a[:8] == b[:8]:
        return f"{a}–{b[8:]}"
    return f"{a}–{b}"


def collapse_views(items: list[dict]) -> list[dict]:
    """Consecutive views of the case by one person (in time order) as one entry: "viewed 5 times by anna"."""
    out: list[dict] = []
    for item in items:
        last = out[-1] if out else None
        if (item["kind"] in VIEW_KINDS and last is not None and last.get("views")
                and last["actor"] == item["actor"]):
            last["views"].append(item)
            continue
        if item["kind"] in VIEW_KINDS:
            out.append({**item, "views": [item]})
        else:
            out.append(item)
    for entry in out:
        views = entry.get("views")
        if views and len(views) > 1:
            entry["title"] = ngettext("Viewed %(num)d time by %(who)s", "Viewed %(num)d times by %(who)s",
                                      len(views), who=entry["actor"])
            entry["what"] = ""
            entry["when"] = _day_range(views[0]["at"], views[-1]["at"])
            entry["at"] = views[-1]["at"]
            entry["details"] = []
    return out
