"""What the engine reads from a deployed package's manifest while cases run (docs/services.md).

A process version deployed on its own (without a package) has no manifest: it starts from a registered client,
its lanes are role codes, and its cases start with the client's code only.
"""
from __future__ import annotations

from .manifest import NOTHING


def process(manifest: dict | None, process_key: str) -> dict:
    return ((manifest or {}).get("processes") or {}).get(process_key) or {}


def needs_client(manifest: dict | None, process_key: str) -> bool:
    """Whether a case starts from a registered client (``start.from`` names the registering process) or from
    nothing (``start.from: nothing``, e.g. the process that registers clients)."""
    start = process(manifest, process_key).get("start") or {}
    return start.get("from", "client") != NOTHING


def starts_from(manifest: dict | None, process_key: str) -> str | None:
    """The process whose client registration a case of this process starts from, or None."""
    start = process(manifest, process_key).get("start") or {}
    found = start.get("from")
    return None if found in (None, NOTHING) else found


def seed_fields(manifest: dict | None, process_key: str) -> dict[str, str]:
    """case data field -> registration value (code, status, problem, phone) a new case starts with."""
    if manifest is None:
        return {"client_code": "code"}
    return dict((process(manifest, process_key).get("start") or {}).get("data") or {})


def manual_start(manifest: dict | None, process_key: str) -> bool:
    """Whether a person may start the process by hand (``start.manual``, true unless the manifest says false):
    a process the engine starts for another case's reasons (a member leaving a group, a choice on a form) starts
    with what that case hands it, which a start by hand would not have."""
    return (process(manifest, process_key).get("start") or {}).get("manual", True) is not False


def lane_roles(manifest: dict | None) -> dict[str, str]:
    """lane id -> role code (``roles.<role>.lane``); without a manifest a lane id is the role code."""
    return {spec["lane"]: role for role, spec in ((manifest or {}).get("roles") or {}).items()}


def start_roles(manifest: dict | None, process_key: str) -> tuple[str, ...] | None:
    """The roles the manifest says may start this process; None leaves it to the BPMN (docs/processes.md)."""
    roles = (process(manifest, process_key).get("start") or {}).get("roles")
    return tuple(roles) if roles else None


def registration(manifest: dict | None, process_key: str) -> dict | None:
    """How this process registers a client (``registers_client``), or None when it registers none."""
    return process(manifest, process_key).get("registers_client")


def members(manifest: dict | None, process_key: str) -> dict:
    """The process's members (``members``: ``max``, ``label``, ``leaving_starts``), or {} when its cases have
    one client at most."""
    return dict(process(manifest, process_key).get("members") or {})


def caseload_rules(manifests: list[dict]) -> dict[str, dict]:
    """caseload key -> {"role", "limit" (the smallest declared, or None), "label" (the first declared),
    "processes", "tasks", "timers", "time" (the weekly time per client, docs/services.md; the smallest limit)}:
    every package that declares a caseload of that key adds what counts, the
    tasks and timers as (process key, name) of its own processes."""
    rules: dict[str, dict] = {}
    for manifest in manifests:
        own = tuple(manifest.get("processes") or {})
        for key, spec in (manifest.get("caseloads") or {}).items():
            rule = rules.setdefault(key, {"role": spec["role"], "limit": None, "label": None, "processes": set(),
                                          "tasks": set(), "timers": set(), "time": None})
            if spec.get("limit") is not None:
                rule["limit"] = spec["limit"] if rule["limit"] is None else min(rule["limit"], spec["limit"])
            rule["label"] = rule["label"] or spec.get("label")
            if spec.get("time") and rule.get("time") is None:
                rule["time"] = dict(spec["time"])  # the weekly time per client: the first declared
            elif spec.get("time"):
                rule["time"]["per_week_minutes"] = min(rule["time"]["per_week_minutes"],
                                                       spec["time"]["per_week_minutes"])
            counts = spec.get("counts") or {}
            rule["processes"] |= set(counts.get("processes") or ())
            rule["tasks"] |= {(p, t) for p in own for t in counts.get("tasks") or ()}
            rule["timers"] |= {(p, t) for p in own for t in counts.get("timers") or ()}
    return rules


def retention(manifest: dict | None, process_key: str) -> dict | None:
    """How long a closed case of this process keeps its personal data (``retention``: ``years``, ``months``,
    ``basis``: the law or rule, in both languages), or None: no policy, the case is never erased by retention."""
    found = process(manifest, process_key).get("retention")
    if not found or not (found.get("years") or found.get("months")):
        return None
    return dict(found)


def legal_basis(manifest: dict | None, process_key: str) -> dict | None:
    """Why a case of this process may hold personal data (``legal_basis``: ``article_6``, ``article_9``, ``law``
    and, for a basis of consent, the ``consent`` statement), or None when the manifest declares none."""
    found = process(manifest, process_key).get("legal_basis")
    return dict(found) if found else None


def consent_statement(manifest: dict | None, process_key: str) -> dict | None:
    """The statement a person signs before a case of this process takes their data, or None: the process relies
    on another basis (a law, a public task), recorded as its ``legal_basis``."""
    basis = legal_basis(manifest, process_key) or {}
    return dict(basis["consent"]) if basis.get("consent") else None
