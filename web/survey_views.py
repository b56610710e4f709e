"""The public page where a client answers an anonymous questionnaire handed to them as a one-time link
(docs/forms.md, "Handing a questionnaire to the client"; engine/cases/anonymous_handout.py).

No login: the link's token is the only key, and the page shows nothing of the case. Every request is checked
(the token's shape, the form's fields, the size of the post by the app's input checks) and counted per client
address, so that guessing tokens is slow as well as hopeless; a used, expired or unknown link gets a page that
says so (410, 410, 404).
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from engine.cases import anonymous_handout
from engine.errors import Gone, NotFound, ValidationFailed

from . import form_errors, form_parse, form_render
from .auth import runtime

bp = Blueprint("survey", __name__)

# At most this many requests to survey pages per client address in the window (a person answering needs a few).
LIMIT, WINDOW_SECONDS = 30, 600
_lock = threading.Lock()


def hits() -> dict[str, deque]:
    """The recent survey requests per client address, kept by the app (each app, and each test's, its own)."""
    return current_app.extensions.setdefault("survey_hits", defaultdict(deque))


def _throttle() -> None:
    now = time.monotonic()
    with _lock:
        seen = hits()
        for address in [a for a, times in seen.items() if not times or now - times[-1] > WINDOW_SECONDS]:
            del seen[address]  # addresses quiet for a whole window are forgotten
        mine = seen[request.remote_addr or "-"]
        while mine and now - mine[0] > WINDOW_SECONDS:
            mine.popleft()
        if len(mine) >= LIMIT:
            abort(429)
        mine.append(now)


def _locale() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in ("hu", "en") else "hu"


def _closed(err: NotFound | Gone):
    """The page for a link that cannot be used: unknown (404), or used / expired (410)."""
    if isinstance(err, NotFound):
        message = _("This questionnaire link is not known. Please check that it was typed exactly as given.")
    elif "expired" in err.message:
        message = _("This questionnaire link has expired. Thank you for your interest.")
    else:
        message = _("This questionnaire link has already been used: each link can be used once. Thank you.")
    return render_template("survey/closed.html", message=message), err.status


def _page(token: str, link: dict, values: dict, details=None, status: int = 200):
    locale = _locale()
    schema = link["form"]
    placed = form_errors.place(details or [], schema, values, locale)
    model = form_render.build(schema, values, placed, locale=locale, read_only=False, carried=None)
    return render_template("survey/answer.html", model=model, locale=locale, token=token,
                           expires_on=link["expires_on"],
                           alert=_("Nothing was sent: please correct the fields marked below.") if details else None,
                           action=url_for("survey.submit", token=token)), status


@bp.get("/survey/<token>")
def show(token: str):
    _throttle()
    try:
        link = anonymous_handout.open_link(runtime(), token)
    except (NotFound, Gone) as err:
        return _closed(err)
    return _page(token, link, {})


@bp.post("/survey/<token>")
def submit(token: str):
    _throttle()
    try:
        link = anonymous_handout.open_link(runtime(), token)
    except (NotFound, Gone) as err:
        return _closed(err)
    data = form_parse.parse(link["form"], request.form)
    try:
        anonymous_handout.answer(runtime(), token, data)
    except ValidationFailed as err:
        return _page(token, link, data, details=err.details, status=422)
    except (NotFound, Gone) as err:
        return _closed(err)
    return render_template("survey/thanks.html")
