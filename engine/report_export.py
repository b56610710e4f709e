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


# The headings in Hungarian: an export follows its reader's language, as the page it came from does.
HEADINGS_HU = {
    "Income bands (I5)": "Jövedelemsávok (I5)", "band (HUF/person)": "sáv (Ft/fő)", "families (pcs)": "családok (db)",
    "share of I1 (%)": "az I1 aránya (%)", "Problem types (I6 I7 I17)": "Problématípusok (I6 I7 I17)",
    "problem type": "problématípus", "I6 persons": "I6 fő", "I6 with agreement": "I6 megállapodással",
    "I6 without agreement": "I6 megállapodás nélkül", "I7 %": "I7 %",
    "I7 with agreement %": "I7 megállapodással %", "I7 without agreement %": "I7 megállapodás nélkül %",
    "processes (pcs)": "folyamatok (db)", "I17 %": "I17 %", "Closure reasons (I13 I14)": "Lezárás okai (I13 I14)",
    "reason": "ok", "I13 closures (pcs)": "I13 lezárások (db)", "I14 %": "I14 %", "Caseworkers": "Családgondozók",
    "caseworker": "családgondozó", "I1 processes": "I1 folyamatok", "I2 persons": "I2 fő",
    "I10 meetings": "I10 találkozások", "I11 actions": "I11 intézkedések", "closures": "lezárások",
    "I12 days/process": "I12 nap/folyamat", "Months": "Hónapok", "month": "hónap",
    "taken into care": "gondozásba vett", "meetings": "találkozások", "actions": "intézkedések",
    "id": "azonosító", "indicator": "mutató", "value": "érték", "unit": "mértékegység", "see": "lásd",
    "Segito indicators": "Segito mutatószámok", "all caseworkers": "minden családgondozó",
    "all processes": "minden folyamat", "Indicators": "Mutatószámok",
    "Job retention": "Munkahelymegtartás", "figure": "adat", "group": "csoport", "clients": "kliensek",
    "By age": "Életkor szerint", "By sex": "Nem szerint", "By target group": "Célcsoport szerint",
    "By quarter and mentor": "Negyedévenként és mentoronként", "quarter": "negyedév", "mentor": "mentor",
    "clients followed up (persons)": "utókövetett kliensek (fő)", "follow-up sessions": "utókövetési alkalmak",
    "employers involved": "bevont munkáltatók", "consultations with employers": "konzultációk munkáltatókkal",
    "lay helpers involved (persons)": "bevont laikus segítők (fő)",
    "consultations with lay helpers": "konzultációk laikus segítőkkel",
    "institutions involved": "bevont intézmények", "day-180 checks": "180. napi ellenőrzések",
    "employed on day 180 (persons)": "foglalkoztatott a 180. napon (fő)",
    "employed on day 180 (% of checks)": "foglalkoztatott a 180. napon (az ellenőrzések %-a)",
    "Segito job-retention follow-up": "Segito munkahelymegtartás, utókövetés", "all mentors": "minden mentor",
    "not recorded": "nincs megadva", "pcs": "db", "persons": "fő", "HUF": "Ft", "days/process": "nap/folyamat",
    "pcs, %": "db, %",
}


def word(text: str, lang: str) -> str:
    """A heading in the export's language (English is the key)."""
    return HEADINGS_HU.get(text, text) if lang == "hu" else text


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
    rows = [[word(h, lang) for h in ("id", "indicator", "value", "unit", "see")]]
    for item in report["indicators"]:
        rows.append([item["id"], item["label"][lang], item["value"], word(item["unit"], lang),
                     item["breakdown"] or ""])
    return rows


def breakdown_rows(report: dict, name: str, lang: str = "en") -> list[list]:
    _title, columns = BREAKDOWNS[name]
    rows: list[list] = [[word(heading, lang) for _k, heading in columns]]
    for row in report["breakdowns"].get(name, []):
        row = _label(report, name if name != "closure_reasons" else "closure_reasons", row, lang)
        rows.append([row.get(k) for k, _h in columns])
    return rows


def _heading(report: dict, lang: str = "en") -> list[str]:
    p = report["period"]
    who = report.get("caseworker_name") or (f"{word('caseworker', lang)} {report['caseworker_id']}"
                                            if report.get("caseworker_id") else word("all caseworkers", lang))
    return [f"{word('Segito indicators', lang)} {p['from']} – {p['to']}", who,
            report.get("process_key") or word("all processes", lang)]


def to_text(report: dict, lang: str = "en") -> str:
    out = [" · ".join(_heading(report, lang)), ""]
    for item_id, label, value, unit, see in indicator_rows(report, lang)[1:]:
        figure = f"see {see}" if see and value is None else f"{shown(value)} {unit}"
        out.append(f"{item_id:>4}  {figure:>22}  {label}")
    for name, (title, _cols) in BREAKDOWNS.items():
        rows = breakdown_rows(report, name, lang)
        if len(rows) == 1:
            continue
        widths = [max(len(shown(r[i])) for r in rows) for i in range(len(rows[0]))]
        out += ["", word(title, lang)]
        out += ["  ".join(shown(v).rjust(w) if i else shown(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
                for r in rows]
    return "\n".join(out) + "\n"


def to_csv(report: dict, lang: str = "en") -> str:
    """One CSV: the indicators, then each breakdown after a blank line and its title (spreadsheets open it)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_heading(report, lang))
    writer.writerow([])
    for row in indicator_rows(report, lang):
        writer.writerow(["" if v is None else v for v in row[:2]] + [DASH if row[2] is None else row[2]] + row[3:])
    for name, (title, _cols) in BREAKDOWNS.items():
        writer.writerow([])
        writer.writerow([word(title, lang)])
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
    sheet.title = word("Indicators", lang)
    sheet.append(_heading(report, lang))
    sheet.append([])
    for i, row in enumerate(indicator_rows(report, lang)):
        sheet.append(row if i == 0 else [row[0], row[1], DASH if row[2] is None else row[2], row[3], row[4]])
    sheet["A3"].font = sheet["B3"].font = sheet["C3"].font = Font(bold=True)
    sheet.column_dimensions["B"].width = 70
    for name, (title, _cols) in BREAKDOWNS.items():
        ws = book.create_sheet(word(title, lang)[:31])  # Excel's limit on sheet names
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


def retention_tables(result: dict, lang: str = "en") -> list[tuple[str, list[list]]]:
    """(title, rows) of each table: the figures, the clients by age, sex and target group, per quarter and mentor."""
    totals = result["totals"]
    w = lambda text: word(text, lang)  # noqa: E731
    tables = [(w("Job retention"), [[w("figure"), w("value")]]
               + [[w(label), totals[k]] for k, label in RETENTION_FIGURES])]
    for key, title in RETENTION_GROUPS:
        tables.append((w(title), [[w("group"), w("clients")]]
                       + [[w(g), n] for g, n in sorted(totals[key].items())]))
    keys = [k for k, _label in RETENTION_FIGURES]
    headings = [w("quarter"), w("mentor")] + [w(label) for _k, label in RETENTION_FIGURES]
    tables.append((w("By quarter and mentor"), [headings]
                   + [[r["quarter"], r["mentor"]] + [r[k] for k in keys] for r in result["by_quarter_and_mentor"]]))
    return tables


def _retention_heading(result: dict, lang: str = "en") -> list[str]:
    p = result["period"]
    who = f"{word('mentor', lang)} {result['caseworker_id']}" if result.get("caseworker_id") \
        else word("all mentors", lang)
    return [f"{word('Segito job-retention follow-up', lang)} {p['from']} – {p['to']}", who]


def retention_to_csv(result: dict, lang: str = "en") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_retention_heading(result, lang))
    for title, rows in retention_tables(result, lang):
        writer.writerow([])
        writer.writerow([title])
        for i, row in enumerate(rows):
            writer.writerow(row if i == 0 else [DASH if v is None else v for v in row])
    return buf.getvalue()


def retention_to_xlsx(result: dict, lang: str = "en") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.worksheets[0])  # the sheet a new workbook opens with: each table adds its own
    for n, (title, rows) in enumerate(retention_tables(result, lang)):
        ws = book.create_sheet(title[:31])
        if n == 0:
            ws.append(_retention_heading(result, lang))
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
