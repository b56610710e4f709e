"""In the browser, a report's drill-down and its shares keep a figure, a code or a date on one line ("100 %",
"K-…", "2026.02.02"), in both languages, on a narrow desktop window where the table is tight."""
from __future__ import annotations

from tests import demo_data

NOWRAP = """el => getComputedStyle(el).whiteSpace"""


def _one_line(cell) -> bool:
    """Whether the cell's text lies on one line (the cell itself may be as tall as its row)."""
    return cell.evaluate("""el => { const r = document.createRange(); r.selectNodeContents(el);
        const rects = Array.from(r.getClientRects()).filter(x => x.width > 0);
        return new Set(rects.map(x => Math.round(x.bottom))).size; }""") == 1


def test_drilldown_cells_and_shares_do_not_wrap(page, live_server, login, shot):
    people = live_server.people
    for i in range(2):
        code = demo_data.run_intake(live_server.runtime, people.anna, i)
        demo_data.run_family_care(live_server.runtime, people.anna, people.lea, code, stop_at="3.3")
    page.set_viewport_size({"width": 760, "height": 900})
    login(page, "lea")
    for lang in ("hu", "en"):
        page.goto("/reports/family_care?from=2026-01-01&to=2026-12-31")
        if page.locator("html").get_attribute("lang") != lang:
            page.click("[data-testid=switch-language]")
            page.wait_for_load_state()
        shares = page.locator("td.num", has_text="%")
        assert shares.count() > 0
        for n in range(shares.count()):
            cell = shares.nth(n)
            assert "\u00a0%" in cell.inner_text() and cell.evaluate(NOWRAP) == "nowrap" and _one_line(cell)
        shot(page, f"report-shares-{lang}")
        page.locator("[data-testid=value-I1] a").click()
        page.wait_for_selector("[data-testid=drilldown]")
        cells = page.locator("[data-testid=drilldown] tbody td.code, [data-testid=drilldown] tbody td.num")
        assert cells.count() >= 2 * 3  # per case: its number, its client's code, its dates and figures
        for n in range(cells.count()):
            cell = cells.nth(n)
            assert cell.evaluate(NOWRAP) == "nowrap" and _one_line(cell), cell.inner_text()
        shot(page, f"report-drilldown-{lang}")
    assert page.js_errors == []
