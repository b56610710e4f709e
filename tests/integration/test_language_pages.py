"""Every page, as every demo role, in both languages: no text of the other language, no raw key, no msgid left
untranslated (docs/glossary.md, docs/web.md "Languages").

Each role logs in, picks a language, and crawls every link of the app from the start page, plus the pages that
are known by id from the demo data (a case, a task, a process, reports, audit, agenda, scheduler, administration,
error pages). The text a user reads (text nodes and the title/placeholder/aria-label/alt attributes) is checked;
the demo data's own free text and names are the only Hungarian allowed on English pages.
"""
from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import lxml.html
import pytest
import yaml
from sqlalchemy import select

from engine import demo
from engine.setup import DEMO_PASSWORD
from engine.store.config import BPMN_DIR
from engine.store.models import Case, Client, HumanTask, User
from tests import demo_data
from tests.integration.web_client import Browser, make_app
from web import i18n

ROLES = ["anna", "bela", "lea", "dora", "mark", "admin"]

# Common English words that no Hungarian sentence uses (Hungarian homographs such as "is", "has", "most", "be",
# "fog", "test", "per", "tag" are left out on purpose).
ENGLISH_WORDS = {
    "the", "of", "and", "with", "from", "step", "steps", "task", "tasks", "viewed", "changed", "fields", "field",
    "scheduled", "timers", "timer", "recorded", "pcs", "logged", "you", "your", "case", "cases", "client",
    "save", "cancel", "not", "none", "yes", "no", "date", "due", "started", "completed", "open", "closed",
    "search", "filter", "back", "next", "previous", "page", "user", "users", "process", "processes", "report",
    "reports", "waiting", "claim", "release", "view", "show", "all", "any", "this", "that", "are", "was",
    "were", "will", "have", "been", "for", "by", "at", "or", "an", "new", "edit", "delete", "login", "logout",
    "password", "username", "name", "total", "count", "event", "events", "who", "what", "when", "before",
    "after", "version", "deployed", "diagram", "agenda", "visit", "visits", "lead", "manager",
}
HUNGARIAN_LETTERS = re.compile(r"[áéíóöőúüűÁÉÍÓÖŐÚÜŰ]")
HUNGARIAN_WORDS = {"és", "nem", "vagy", "egy", "az", "eset", "lépés", "ügy", "kliens", "mentés", "igen", "nincs"}
# A snake_case token: a key of the code, never a word a user reads.
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

SKIP_LINK = re.compile(r"^/(static/|logout|calendar/|api/)|\.(ics|csv|xlsx|json|zip)(\?|$)")
ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


# The case timeline and the audit pages show recorded values as well as the product's words; they are checked on
# their own, without the demo's free text being dropped from the page around them.
AUDIT_PAGES = re.compile(r"^/audit/")
TIMELINE = "//ol[@data-testid='timeline']"


ADDRESS = re.compile(r"(?<![\w/])/[\w\-./?=&%]*")


NOT_WORDS = {"code", "pre", "textarea", "kbd", "samp"}


def _visible_text(html: str, drop: str = "") -> str:
    doc = lxml.html.fromstring(html)
    # translate="no" marks what is not words of a language: file names, element ids and source being edited
    # (checked below to be used only on code and source elements).
    for bad in doc.xpath("//script|//style|//template|//*[@translate='no']" + (f"|{drop}" if drop else "")):
        bad.drop_tree()
    parts = [t for t in doc.xpath("//text()")]
    for attr in ATTRIBUTES:
        parts.extend(doc.xpath(f"//@{attr}"))
    # Buttons and options show their value only when they have no text; input values are user data.
    # Addresses a request was made to (the audit's "Address: /cases/12") are not words of either language.
    return ADDRESS.sub(" ", "\n".join(str(p) for p in parts))


def _links(html: str) -> list[str]:
    doc = lxml.html.fromstring(html)
    return [str(h) for h in doc.xpath("//a/@href")]


def _user_data(runtime) -> list[str]:
    """The demo's own free text and names: what users typed, shown as typed in either language; and the
    product's own name."""
    # Hungarian benefits keep their legal names on English forms, explained in brackets ("RÁT (availability
    # support)"): they are names, not untranslated text.
    texts: set[str] = {"Segítő", "RÁT", "TGYÁS", "közgyógyellátás"}

    def walk(value):
        if isinstance(value, str):
            # Choice codes (snake_case, digits) are keys the page must translate, never user text.
            if value.strip() and not re.fullmatch(r"[a-z0-9_.:\-]+", value.strip()):
                texts.add(value.strip())
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    for i in range(8):
        walk(demo_data.intake_data(i))
    walk(demo_data.assessment_data())
    walk(demo_data.meeting(1))
    walk(demo_data.action(1))
    walk(demo_data.review_checks())
    walk(demo_data.conference_data([]))
    walk(demo_data.further_service_data())
    walk(demo_data.evaluation_data())
    walk(demo_data.closure_data(True))
    walk(demo_data.closure_data(False))
    # What the packages' demo scripts type into their steps (bpmn/<service>/demo/*.yaml: employers, jobs,
    # a group's name, plans and notes) is user text too.
    for script in sorted(BPMN_DIR.glob("*/demo/*.yaml")):
        walk(yaml.safe_load(script.read_text(encoding="utf-8")))
    with runtime.db.reading() as session:
        for full_name, username in session.execute(select(User.display_name, User.username)):
            texts.update({full_name, username, *full_name.split()})
        # Client codes are random letters and digits: one may hold "BY" or "TO" between digits.
        texts.update(session.execute(select(Client.client_code)).scalars())
    return sorted(texts, key=len, reverse=True)


def _strip(text: str, allowed: list[str]) -> str:
    for value in allowed:
        text = text.replace(value, " ")
    return text


def _untranslated_msgids(lang: str) -> list[str]:
    """Messages whose translation differs from the English msgid: seeing the msgid means it was not translated."""
    catalog = i18n.merged_catalog(lang)
    found = []
    for msgid in i18n.extract_messages():
        message = catalog.get(msgid)
        string = message.string if message is not None else None
        if isinstance(string, tuple):
            string = string[0]
        if not string or string == msgid or "%(" in msgid or "{" in msgid or len(WORD.findall(msgid)) < 2:
            continue
        found.append(msgid)
    return found


def _problems(lang: str, text: str, allowed: list[str], msgids: list[str]) -> list[str]:
    text = _strip(text, allowed)
    found = sorted(set(RAW_KEY.findall(text)))
    problems = [f"raw key {k!r}" for k in found]
    words = WORD.findall(text)
    if lang == "hu":
        problems += [f"English word {w!r}" for w in sorted({w for w in words if w.lower() in ENGLISH_WORDS})]
        problems += [f"untranslated {m!r}" for m in msgids if re.search(rf"(?<!\w){re.escape(m)}(?!\w)", text)]
    else:
        problems += [f"Hungarian word {w!r}" for w in sorted({w for w in words if HUNGARIAN_LETTERS.search(w)
                                                              or w.lower() in HUNGARIAN_WORDS})]
    return problems


def _known_pages(runtime) -> list[str]:
    with runtime.db.reading() as session:
        case_ids = [c for (c,) in session.execute(select(Case.id).order_by(Case.id))]
        task_ids = [t for (t,) in session.execute(select(HumanTask.id).order_by(HumanTask.id))]
    pages = ["/", "/inbox", "/cases", "/processes", "/processes/intake", "/processes/family_care",
             "/processes/job_retention", "/reports/", "/reports/family_care",
             "/reports/family_care/cases?indicator=I1", "/reports/job_retention", "/audit/",
             "/agenda", "/caseload", "/admin/scheduler", "/admin/users", "/no-such-page", "/cases/999999",
             "/tasks/999999"]
    pages += [f"/cases/{c}" for c in case_ids] + [f"/audit/cases/{c}" for c in case_ids[:3]]
    pages += [f"/tasks/{t}" for t in task_ids]
    return pages


def _crawl(browser: Browser, start: list[str], limit: int = 400) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = deque(start)
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        response = browser.get(path)
        if response.status_code in (301, 302, 303):
            queue.append(urlsplit(response.headers["Location"]).path)
            seen[path] = ""
            continue
        if "text/html" not in response.headers.get("Content-Type", ""):
            seen[path] = ""
            continue
        html = response.get_data(as_text=True)
        seen[path] = html
        for href in _links(html):
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if not SKIP_LINK.search(target) and target not in seen:
                queue.append(target)
    return seen


@pytest.fixture
def demo_runtime(runtime):
    demo.ensure(runtime)
    return runtime


def _crawl_as_every_role(runtime, lang: str) -> dict[tuple[str, str], str]:
    app = make_app(runtime)
    known = _known_pages(runtime)
    pages = {}
    for username in ROLES:
        browser = Browser(app)
        browser.get("/login")
        assert browser.post("/login", {"username": username, "password": DEMO_PASSWORD}).status_code == 302
        browser.get("/inbox")
        browser.post("/language", {"locale": lang, "next": "/inbox"})
        found = _crawl(browser, known)
        assert len(found) > 20
        pages.update({(username, path): html for path, html in found.items() if html})
    return pages


def _report(runtime, lang: str, pages: dict, drop: str) -> list[str]:
    allowed = _user_data(runtime)
    msgids = _untranslated_msgids(lang) if lang == "hu" else []
    report = []
    for (username, path), html in pages.items():
        for problem in _problems(lang, _visible_text(html, drop), allowed, msgids):
            report.append(f"{username} {path}: {problem}")
    return sorted(set(report))


# One crawl of every role's pages serves both checks (a crawl is the long part). Its bound is above the suite's
# default: six roles times a few hundred pages, on a machine that runs another test process beside it.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("lang", ["hu", "en"])
def test_every_page_as_every_role_speaks_one_language(demo_runtime, lang):
    pages = _crawl_as_every_role(demo_runtime, lang)
    # Every role's start page, a case, a task, the catalogue, the reports and the audit were reached.
    paths = {path for _user, path in pages}
    assert {"/inbox", "/processes/family_care", "/reports/", "/agenda", "/admin/users"} <= paths
    assert any(p.startswith("/tasks/") for p in paths) and any(p.startswith("/cases/") for p in paths)
    assert any(AUDIT_PAGES.match(path) for path in paths)
    # What a page marks as not to be translated is code or source, never a sentence of the page.
    report = [f"{user} {path}: translate=\"no\" on <{el.tag}>" for (user, path), html in pages.items()
              for el in lxml.html.fromstring(html).xpath("//*[@translate='no']") if el.tag not in NOT_WORDS]
    report += _report(demo_runtime, lang, {k: v for k, v in pages.items() if not AUDIT_PAGES.match(k[1])}, TIMELINE)
    # The timeline of each case and the audit pages, whole.
    timeline_pages = {k: v for k, v in pages.items() if AUDIT_PAGES.match(k[1]) or k[1].startswith("/cases/")}
    report += [f"(timeline/audit) {line}" for line in _report(demo_runtime, lang, timeline_pages, "")]
    assert not report, f"{len(report)} leaks:\n" + "\n".join(report[:300])


def test_logout_page_speaks_the_language_the_user_worked_in(demo_runtime):
    browser = Browser(make_app(demo_runtime))
    browser.get("/login")
    browser.post("/login", {"username": "anna", "password": DEMO_PASSWORD})
    browser.get("/inbox")
    browser.post("/language", {"locale": "en", "next": "/inbox"})
    browser.get("/inbox")
    browser.post("/logout")
    page = browser.get("/login").get_data(as_text=True)
    assert "You have logged out." in page and 'lang="en"' in page


def test_language_switch_after_a_refused_form_returns_to_a_page_that_answers_get(demo_runtime):
    with demo_runtime.db.reading() as session:
        task_id = session.execute(select(HumanTask.id).where(HumanTask.state == "ready")
                                  .order_by(HumanTask.id)).scalars().first()
    browser = Browser(make_app(demo_runtime))
    browser.get("/login")
    browser.post("/login", {"username": "anna", "password": DEMO_PASSWORD})
    browser.get(f"/tasks/{task_id}")
    # A refused completion is shown at the POST-only address; the switch must not send the user back there.
    refused = browser.post(f"/tasks/{task_id}/complete", {"no_such_field": "x"},
                           headers={"Referer": f"http://localhost/tasks/{task_id}"})
    assert 400 <= refused.status_code < 500
    found = re.search(r'name="next" value="([^"]*)"', refused.get_data(as_text=True))
    assert found and found.group(1) == f"/tasks/{task_id}"
    switched = browser.post("/language", {"locale": "en", "next": found.group(1)})
    assert switched.status_code == 302 and browser.get(switched.headers["Location"]).status_code == 200
