"""The shape of form fields filled from a declared report (``x-prefill-report``, ``x-prefill-report-evidence``;
docs/forms.md "Values from a report"). Reading the figure is the reports' (engine/reports/prefill.py); this is
what a form file is checked for at deploy, with no database.
"""
from __future__ import annotations

from collections.abc import Callable

TAKES = ("max", "min", "mean", "sum")

# Who reads a report's figures for a form: set by engine/setup.py ``wire()`` to engine.reports.prefill.fill, so
# the cases package (which opens and completes tasks) needs no import of the reports package, which reads cases.
_reader: Callable | None = None


def register_reader(reader: Callable) -> None:
    global _reader
    _reader = reader


def fill(session, schema: dict, data: dict, actor) -> dict:
    """The values of the form's fields filled from a report, and their evidence (nothing when none is wired)."""
    if _reader is None or not fields_from_reports(schema):
        return {}
    return _reader(session, schema, data, actor)


def fields_from_reports(schema: dict) -> dict[str, dict]:
    """The form's fields filled from a report: name → its ``x-prefill-report``."""
    return {name: prop["x-prefill-report"] for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop.get("x-prefill-report"), dict)}


def problems(schema: dict) -> list[tuple[str, str, dict]]:
    """The shape of every ``x-prefill-report`` and ``x-prefill-report-evidence`` of a form (deploy check; which
    report and figure exist is checked when the value is read, as a report may be deployed later)."""
    found: list[tuple[str, str, dict]] = []
    props = schema.get("properties") or {}
    for name, prop in props.items():
        spec = prop.get("x-prefill-report")
        if spec is not None:
            if not isinstance(spec, dict) or not isinstance(spec.get("report"), str) \
                    or not isinstance(spec.get("figure"), str):
                found.append((f"field '{name}': x-prefill-report needs at least {{\"report\": ..., \"figure\": ...}}",
                              "report_prefill_invalid", {"field": name}))
                continue
            if "." in spec["figure"] and spec.get("take") not in TAKES:
                found.append((f"field '{name}': a table's column needs \"take\": one of {', '.join(TAKES)}",
                              "report_take_missing", {"field": name, "takes": ", ".join(TAKES)}))
            period = spec.get("period", {})
            if not isinstance(period, dict) or not set(period) <= {"from", "to"} \
                    or not all(isinstance(v, str) for v in period.values()):
                found.append((f"field '{name}': x-prefill-report period is "
                              '{"from": <date field>, "to": <date field>}', "report_period_invalid", {"field": name}))
            scale = spec.get("scale")
            if scale is not None and not (isinstance(scale, list) and all(
                    isinstance(s, list) and len(s) == 2 and (s[0] is None or isinstance(s[0], (int, float)))
                    for s in scale)):
                found.append((f"field '{name}': x-prefill-report scale is [[<lowest figure or null>, <value>], ...]",
                              "report_scale_invalid", {"field": name}))
            if not prop.get("readOnly"):
                found.append((f"field '{name}': a field filled from a report is readOnly (the server sets it)",
                              "report_prefill_not_read_only", {"field": name}))
        source = prop.get("x-prefill-report-evidence")
        if source is not None and (source not in props or "x-prefill-report" not in props[source]):
            found.append((f"field '{name}': x-prefill-report-evidence names no field filled from a report",
                          "report_evidence_unknown", {"field": name}))
        elif source is not None and not prop.get("readOnly"):
            found.append((f"field '{name}': evidence of a report figure is readOnly (the server sets it)",
                          "report_evidence_not_read_only", {"field": name}))
        elif source is not None and prop.get("type") != "object":
            found.append((f"field '{name}': evidence of a report figure is a text in every language "
                          '(engine/forms/texts.py): "type": "object"', "report_evidence_not_text", {"field": name}))
    return found
