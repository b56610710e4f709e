"""The job-retention figures of seed 000 as tables: CSV (the tables one after the other) and an XLSX workbook.

A missing figure (a share whose denominator is 0) is written "—" everywhere, as the issue asks.
"""
from __future__ import annotations

import csv
import io

from .reports.export import DASH

# The headings in Hungarian: an export follows its reader's language, as the page it came from does.
HEADINGS_HU = {
    'Income bands (I5)': 'Jövedelemsávok (I5)',
    'band (HUF/person)': 'sáv (Ft/fő)',
    'families (pcs)': 'családok (db)',
    'share of I1 (%)': 'az I1 aránya (%)',
    'Problem types (I6 I7 I17)': 'Problématípusok (I6 I7 I17)',
    'I6 persons': 'I6 fő',
    'I6 with agreement': 'I6 megállapodással',
    'I6 without agreement': 'I6 megállapodás nélkül',
    'I7 %': 'I7 %',
    'I7 with agreement %': 'I7 megállapodással %',
    'I7 without agreement %': 'I7 megállapodás nélkül %',
    'I17 %': 'I17 %',
    'Closure reasons (I13 I14)': 'Lezárás okai (I13 I14)',
    'I13 closures (pcs)': 'I13 lezárások (db)',
    'I14 %': 'I14 %',
    'I10 meetings': 'I10 találkozások',
    'I11 actions': 'I11 intézkedések',
    'I12 days/process': 'I12 nap/folyamat',
    'Job retention': 'Munkahelymegtartás',
    'figure': 'adat',
    'group': 'csoport',
    'clients': 'kliensek',
    'By age': 'Életkor szerint',
    'By sex': 'Nem szerint',
    'By target group': 'Célcsoport szerint',
    'By quarter and mentor': 'Negyedévenként és mentoronként',
    'quarter': 'negyedév',
    'mentor': 'mentor',
    'clients followed up (persons)': 'utókövetett kliensek (fő)',
    'follow-up sessions': 'utókövetési alkalmak',
    'employers involved': 'bevont munkáltatók',
    'consultations with employers': 'konzultációk munkáltatókkal',
    'lay helpers involved (persons)': 'bevont laikus segítők (fő)',
    'consultations with lay helpers': 'konzultációk laikus segítőkkel',
    'institutions involved': 'bevont intézmények',
    'day-180 checks': '180. napi ellenőrzések',
    'employed on day 180 (persons)': 'foglalkoztatott a 180. napon (fő)',
    'employed on day 180 (% of checks)': 'foglalkoztatott a 180. napon (az ellenőrzések %-a)',
    'Segito job-retention follow-up': 'Segito munkahelymegtartás, utókövetés',
    'all mentors': 'minden mentor',
    'not recorded': 'nincs megadva',
}


def word(text: str, lang: str) -> str:
    """A heading in the export's language (English is the key)."""
    return HEADINGS_HU.get(text, text) if lang == "hu" else text


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
