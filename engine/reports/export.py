"""A declared report's result as tables: text for the terminal, CSV (the tables one after the other) and an XLSX
workbook (a sheet of indicators, a sheet per table), in the reader's language.

A missing figure (a ratio whose denominator is 0) is written "—" everywhere.
"""
from __future__ import annotations

import csv
import io

DASH = "—"

# The few words of the exports themselves (the report's own texts come from its declaration).
WORDS_HU = {"id": "azonosító", "indicator": "mutató", "value": "érték", "unit": "mértékegység", "see": "lásd",
            "Indicators": "Mutatószámok", "all caseworkers": "minden munkatárs", "caseworker": "munkatárs",
            "all processes": "minden folyamat", "key": "kulcs", "period": "időszak", "month": "hónap",
            "quarter": "negyedév", "not recorded": "nincs megadva", "all": "mind"}


def word(text: str, lang: str) -> str:
    return WORDS_HU.get(text, text) if lang == "hu" else text


def _text(value, lang: str) -> str:
    if isinstance(value, dict):
        return value.get(lang) or value.get("en") or ""
    return value or ""


def shown(value) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", " ")
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}".replace(",", " ")
    return str(value)


def row_label(result: dict, table_id: str, row: dict, lang: str) -> str:
    """A row as people read it: an option's label, a band, a caseworker's name, or the key."""
    if "name" in row and "caseworker_id" in row:
        return str(row["name"])
    if "label" in row:
        return _text(row["label"], lang) if isinstance(row["label"], dict) else str(row["label"])
    options = (result.get("labels") or {}).get(table_id) or {}
    key = row.get("key")
    if key in options:
        return str(options[key].get(lang) or key)
    return word(str(key), lang) if key is not None else ""


def indicator_rows(result: dict, lang: str = "en") -> list[list]:
    rows = [[word(h, lang) for h in ("id", "indicator", "value", "unit", "see")]]
    titles = {t["id"]: _text(t["title"], lang) for t in (result.get("layout") or {}).get("tables", [])}
    for item in result["indicators"]:
        table = item.get("table")
        rows.append([item["id"], _text(item["label"], lang), item["value"], _text(item.get("unit"), lang),
                     titles.get(table, table) if table else ""])
    return rows


def table_rows(result: dict, table: dict, lang: str = "en") -> list[list]:
    """A table's heading and rows: (period,) the row's label, then each shown column."""
    period = next((r for r in (table["rows"] if isinstance(table["rows"], list) else [table["rows"]])
                   if r in ("month", "quarter")), None)
    two = isinstance(table["rows"], list) and len(table["rows"]) == 2
    heading = ([word(period, lang)] if two and period else []) + [_text(table.get("heading"), lang) or word("key",
                                                                                                          lang)]
    rows: list[list] = [heading + [_text(c["label"], lang) for c in table["columns"]]]
    for row in result["tables"].get(table["id"], []):
        first = [row.get(period)] if two and period else []
        rows.append(first + [row_label(result, table["id"], row, lang)] + [row.get(c["id"]) for c in table["columns"]])
    return rows


def heading(result: dict, lang: str = "en") -> list[str]:
    p = result["period"]
    role = _text(result.get("caseworker_role"), lang)  # as the service names the role, e.g. "Mentor"
    if result.get("caseworker_id"):
        name = result.get("caseworker_name") or result["caseworker_id"]
        who = f"{role}: {name}" if role else f"{word('caseworker', lang)} {name}"
    else:
        who = f"{role}: {word('all', lang)}" if role else word("all caseworkers", lang)
    return [f"{_text(result['title'], lang)} {p['from']} – {p['to']}", who,
            result.get("process_key") or word("all processes", lang)]


def to_text(result: dict, lang: str = "en") -> str:
    out = [" · ".join(heading(result, lang)), ""]
    items = [(item_id, f"{word('see', lang)} {see}" if see and value is None else f"{shown(value)} {unit}".rstrip(),
              label) for item_id, label, value, unit, see in indicator_rows(result, lang)[1:]]
    id_width = max((len(i) for i, _f, _l in items), default=0)
    figure_width = max((len(f) for _i, f, _l in items), default=0)
    out += [f"{item_id:>{id_width}}  {figure:>{figure_width}}  {label}" for item_id, figure, label in items]
    for table in result["layout"]["tables"]:
        rows = table_rows(result, table, lang)
        if len(rows) == 1:
            continue
        widths = [max(len(shown(r[i])) for r in rows) for i in range(len(rows[0]))]
        out += ["", _text(table["title"], lang)]
        # Numbers to the right, words (a row's quarter and label, the headings of those) to the left.
        words = [all(not isinstance(r[i], (int, float)) for r in rows[1:]) for i in range(len(rows[0]))]
        out += ["  ".join(shown(v).ljust(w) if words[i] else shown(v).rjust(w)
                          for i, (v, w) in enumerate(zip(r, widths))).rstrip() for r in rows]
    return "\n".join(out) + "\n"


def to_csv(result: dict, lang: str = "en") -> str:
    """One CSV: the indicators, then each table after a blank line and its title (spreadsheets open it)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(heading(result, lang))
    writer.writerow([])
    for i, row in enumerate(indicator_rows(result, lang)):
        writer.writerow(row if i == 0 else row[:2] + [DASH if row[2] is None else row[2]] + row[3:])
    for table in result["layout"]["tables"]:
        writer.writerow([])
        writer.writerow([_text(table["title"], lang)])
        for i, row in enumerate(table_rows(result, table, lang)):
            writer.writerow(row if i == 0 else [DASH if v is None else v for v in row])
    return buf.getvalue()


def to_xlsx(result: dict, lang: str = "en") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    if not isinstance(sheet, Worksheet):  # a new workbook opens on its one worksheet
        raise TypeError(f"a new workbook's active sheet is {sheet!r}, not a worksheet")
    sheet.title = word("Indicators", lang)
    sheet.append(heading(result, lang))
    sheet.append([])
    for i, row in enumerate(indicator_rows(result, lang)):
        sheet.append(row if i == 0 else [row[0], row[1], DASH if row[2] is None else row[2], row[3],
                                         row[4] or None])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["B"].width = 70
    for table in result["layout"]["tables"]:
        ws = book.create_sheet(_text(table["title"], lang)[:31])  # Excel's limit on sheet names
        for i, row in enumerate(table_rows(result, table, lang)):
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
    columns: list[str] = []
    for item in items:
        columns += [k for k in item if k not in columns]
    writer = csv.writer(buf)
    writer.writerow(columns or ["case_id"])
    for item in items:
        writer.writerow(["" if item.get(c) is None else item.get(c) for c in columns])
    return buf.getvalue()
