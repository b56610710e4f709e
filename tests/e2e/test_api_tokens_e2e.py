"""In the browser, in Hungarian and in English: a caseworker issues an API token on the page "API tokens", the
secret opens the JSON API, and once revoked on the page the same secret is refused (docs/operations.md)."""
from __future__ import annotations


def _issue_use_and_revoke(page, name: str, words: dict) -> None:
    page.click("[data-testid=tokens-link]")
    page.wait_for_url("**/tokens")
    assert words["title"] in page.locator("h1").inner_text()
    page.fill("#token-name", name)
    page.check("input[name=scopes][value=work]")
    page.select_option("#token-expires", "30")
    page.click("[data-testid=issue-token]")
    secret = page.locator("[data-testid=token-secret]").input_value()
    assert secret.startswith("sgt_")
    row = page.locator(f"tr[data-token-name='{name}']")
    assert words["active"] in row.inner_text()
    answer = page.request.get("/api/inbox", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 200 and "items" in answer.json()
    row.locator("button[data-testid^=revoke-]").click()
    page.wait_for_url("**/tokens")
    assert words["revoked"] in page.locator("[role=status]").inner_text()
    assert words["revoked_status"] in page.locator(f"tr[data-token-name='{name}']").inner_text()
    assert page.locator(f"tr[data-token-name='{name}'] button").count() == 0
    answer = page.request.get("/api/inbox", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 401 and answer.json()["error"] == "invalid_token"


def test_a_token_is_issued_used_and_revoked_on_the_page_in_both_languages(page, live_server, login, shot):
    login(page, "anna")
    _issue_use_and_revoke(page, "export-hu", {"title": "API-tokenek", "active": "érvényes",
                                              "revoked": "visszavonva", "revoked_status": "visszavonva"})
    shot(page, "api-tokens-hu")
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    _issue_use_and_revoke(page, "export-en", {"title": "API tokens", "active": "active",
                                              "revoked": "no longer opens the API", "revoked_status": "revoked"})
    shot(page, "api-tokens-en")
    assert page.js_errors == []
