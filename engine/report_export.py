"""The report as a table of figures: text for the terminal, CSV, and an XLSX workbook (one sheet per breakdown);
the same for the job-retention figures of seed 000.

A missing figure (a share whose denominator is 0) is written "—" everywhere, as the issue asks.
"""
from __future__ import annotations

import csv
import io

DASH = "—"

# breakdown → (sheet title, [(column key, heading)])
BREAKDOWNS = {
    "income_bands": ("Income bands (I5)", [("label", "band (HUF/person)"), ("families", "families (pcs)"),
                                           ("share", "share of I1 (%)")]),
    "problem_types": ("Problem types (I6 I7 I17)", [
        ("key", "problem type"), ("persons", "I6 persons"), ("persons_with_agreement", "I6 with agreement"),
        ("persons_without_agreement", "I6 without agreement"), ("share_persons", "I7 %"),
        ("share_with_agreement", "I7 with agreement %"), ("share_without_agreement", "I7 without agreement %"),
        ("processes", "processes (pcs)"), ("share_processes", "I17 %")]),
    "closure_reasons": ("Closure reasons (I13 I14)", [("key", "reason"), ("closures", "I13 closures (pcs)"),
                                                      ("share", "I14 %")]),
    "caseworkers": ("Caseworkers", [("name", "caseworker"), ("processes", "I1 processes"), ("clients", "I2 persons"),
                                    ("meetings", "I10 meetings"), ("actions", "I11 actions"),
                                    ("closures", "closures"), ("average_days", "I12 days/process")]),
    "months": ("Months", [("key", "month"), ("taken_into_care", "taken into care"), ("closures", "closures"),
                          ("meetings", "meetings"), ("actions", "actions")]),
}


def shown(value) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", " ")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}".replace(",", " ")
    return str(value)


def _label(report: dict, breakdown: str, row: dict, lang: str) -> dict:
    """A row with its key replaced by the option's label where the process's forms give one."""
    options = (report.get("labels") or {}).get(breakdown) or {}
    if row.get("key") in options:
        return dict(row, key=options[row["key"]].get(lang) or row["key"])
    return row


def indicator_rows(report: dict, lang: str = "en") -> list[list]:
    rows = [["id", "indicator", "value", "unit", "see"]]
    for item in report["indicators"]:
        rows.append([item["id"], item["label"][lang], item["value"], item["unit"], item["breakdown"] or ""])
    return rows


def breakdown_rows(report: dict, name: str, lang: str = "en") -> list[list]:
    _title, columns = BREAKDOWNS[name]
    rows: list[list] = [[heading for _k, heading in columns]]
    for row in report["breakdowns"].get(name, []):
        row = _label(report, name if name != "closure_reasons" else "closure_reasons", row, lang)
        rows.append([row.get(k) for k, _h in columns])
    return rows


def _heading(report: dict) -> list[str]:
    p = report["period"]
    who = report.get("caseworker_name") or (f"caseworker {report['caseworker_id']}" if report.get("caseworker_id")
                                            else "all caseworkers")
    return [f"Segito indicators {p['from']} – {p['to']}", who, report.get("process_key") or "all processes"]


def to_text(report: dict, lang: str = "en") -> str:
    out = [" · ".join(_heading(report)), ""]
    for item_id, label, value, unit, see in indicator_rows(report, lang)[1:]:
        figure = f"see {see}" if see and value is None else f"{shown(value)} {unit}"
        out.append(f"{item_id:>4}  {figure:>22}  {label}")
    for name, (title, _cols) in BREAKDOWNS.items():
        rows = breakdown_rows(report, name, lang)
        if len(rows) == 1:
            continue
        widths = [max(len(shown(r[i])) for r in rows) for i in range(len(rows[0]))]
        out += ["", title]
        out += ["  ".join(shown(v).rjust(w) if i else shown(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
                for r in rows]
    return "\n".join(out) + "\n"


def to_csv(report: dict, lang: str = "en") -> str:
    """One CSV: the indicators, then each breakdown after a blank line and its title (spreadsheets open it)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_heading(report))
    writer.writerow([])
    for row in indicator_rows(report, lang):
        writer.writerow(["" if v is None else v for v in row[:2]] + [DASH if row[2] is None else row[2]] + row[3:])
    for name, (title, _cols) in BREAKDOWNS.items():
        writer.writerow([])
        writer.writerow([title])
        for i, row in enumerate(breakdown_rows(report, name, lang)):
            writer.writerow(row if i == 0 else [DASH if v is None else v for v in row])
    return buf.getvalue()


def to_xlsx(report: dict, lang: str = "en") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    if not isinstance(sheet, Worksheet):  # a new workbook opens on its one worksheet
        raise TypeError(f"a new workbook's active sheet is {sheet!r}, not a worksheet")
    sheet.title = "Indicators"
    sheet.append(_heading(report))
    sheet.append([])
    for i, row in enumerate(indicator_rows(report, lang)):
        sheet.append(row if i == 0 else [row[0], row[1], DASH if row[2] is None else row[2], row[3], row[4]])
    sheet["A3"].font = sheet["B3"].font = sheet["C3"].font = Font(bold=True)
    sheet.column_dimensions["B"].width = 70
    for name, (title, _cols) in BREAKDOWNS.items():
        ws = book.create_sheet(title[:31])  # Excel's limit on sheet names
        for i, row in enumerate(breakdown_rows(report, name, lang)):
            ws.append(row if i == 0 else [DASH if v is None else v for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.column_dimensions["A"].width = 36
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def cases_to_csv(listing: dict) -> str:
    buf = io.StringIO()
    items = listing["items"]
    columns = list(items[0]) if items else ["case_id"]
    writer = csv.writer(buf)
    writer.writerow(columns)
    for item in items:
        writer.writerow(["" if item.get(c) is None else item.get(c) for c in columns])
    return buf.getvalue()


# ---- the job-retention figures of seed 000 (engine/followup_indicators.py) ------------------------------------

RETENTION_FIGURES = [("clients_followed_up", "clients followed up (persons)"), ("sessions", "follow-up sessions"),
                     ("employers_involved", "employers involved"),
                     ("employer_consultations", "consultations with employers"),
                     ("lay_helpers_involved", "lay helpers involved (persons)"),
                     ("lay_helper_consultations", "consultations with lay helpers"),
                     ("institutions_involved", "institutions involved"), ("day_180_checks", "day-180 checks"),
                     ("employed_on_day_180", "employed on day 180 (persons)"),
                     ("employed_share", "employed on day 180 (% of checks)")]
RETENTION_GROUPS = [("by_age", "By age"), ("by_sex", "By sex"), ("by_target_group", "By target group")]


def retention_tables(result: dict) -> list[tuple[str, list[list]]]:
    """(title, rows) of each table: the figures, the clients by age, sex and target group, per quarter and mentor."""
    totals = result["totals"]
    tables = [("Job retention", [["figure", "value"]] + [[label, totals[k]] for k, label in RETENTION_FIGURES])]
    for key, title in RETENTION_GROUPS:
        tables.append((title, [["group", "clients"]] + [[g, n] for g, n in sorted(totals[key].items())]))
    keys = [k for k, _label in RETENTION_FIGURES]
    tables.append(("By quarter and mentor", [["quarter", "mentor"] + keys]
                   + [[r["quarter"], r["mentor"]] + [r[k] for k in keys] for r in result["by_quarter_and_mentor"]]))
    return tables


def _retention_heading(result: dict) -> list[str]:
    p = result["period"]
    who = f"caseworker {result['caseworker_id']}" if result.get("caseworker_id") else "all mentors"
    return [f"Segito job-retention follow-up {p['from']} – {p['to']}", who]


def retention_to_csv(result: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_retention_heading(result))
    for title, rows in retention_tables(result):
        writer.writerow([])
        writer.writerow([title])
        for i, row in enumerate(rows):
            writer.writerow(row if i == 0 else [DASH if v is None else v for v in row])
    return buf.getvalue()


def retention_to_xlsx(result: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.worksheets[0])  # the sheet a new workbook opens with: each table adds its own
    for n, (title, rows) in enumerate(retention_tables(result)):
        ws = book.create_sheet(title[:31])
        if n == 0:
            ws.append(_retention_heading(result))
            ws.append([])
        for i, row in enumerate(rows):
            ws.append(row if i == 0 else [DASH if v is None else v for v in row])
            if i == 0:
                for cell in ws[ws.max_row]:
                    cell.font = Font(bold=True)
        ws.column_dimensions["A"].width = 36
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
