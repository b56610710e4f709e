"""Logging in and out, the session, the language switch, and the decorators every page uses.

The session cookie holds only the user's id and when the session was last used. The user is read from the
database on every request, so a deactivated user or a changed role takes effect at once; a session idle for
longer than PERMANENT_SESSION_LIFETIME (by the engine clock, which tests move) is ended on the server side,
whatever the browser kept.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from werkzeug.exceptions import Unauthorized

from engine import clock, logins, users
from engine.errors import Forbidden, SegitoError
from engine.runtime import Runtime
from engine.users import Actor

auth = Blueprint("auth", __name__)


def runtime() -> Runtime:
    return current_app.extensions["segito"]


def current_actor() -> Actor | None:
    """The logged-in user of this request (engine.users.Actor), or None."""
    return g.get("actor")


def logged_in_actor() -> Actor:
    """The logged-in user, in a view behind ``login_required`` or ``roles_required`` (which turn everyone else
    away first)."""
    actor = current_actor()
    if actor is None:  # a view that forgot its decorator: refused, never run for nobody
        raise Unauthorized("log in first")
    return actor


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: an open redirect to another host would help phishing."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_actor() is None:
            if session.pop("expired", False):
                flash(_("Your session expired. Please log in again."), "info")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """Logged in and holding one of ``roles``; otherwise 403 (and an audit event, by the app's error handler)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not current_actor().role_codes & set(roles):
                raise Forbidden(f"this page needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _now_ts() -> float:
    return clock.now().timestamp()


@auth.before_app_request
def load_actor():
    g.actor = None
    uid = session.get("uid")
    if uid is None:
        return
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    now = _now_ts()
    if now - float(session.get("seen", 0)) > lifetime:
        session.clear()
        session["expired"] = True
        return
    with runtime().db.reading() as db_session:
        actor = users.active_actor(db_session, uid)
    if actor is None:
        session.clear()
        return
    g.actor = actor
    # Static files do not count as activity (a page left open still expires).
    if request.endpoint != "static":
        session["seen"] = now


def _start_session(actor: Actor) -> None:
    # A fresh session on login: an id planted before login (session fixation) is never carried over.
    locale = session.get("locale")
    session.clear()
    session.permanent = True
    session["uid"] = actor.id
    session["seen"] = _now_ts()
    if locale:
        session["locale"] = locale
    g.actor = actor


@auth.route("/login", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    if current_actor() is not None and request.method == "GET":
        return redirect(next_url or url_for("inbox.index"))
    error = None
    username = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        try:
            actor = logins.authenticate(runtime().db, username, password, request.remote_addr)
        except logins.LockedOut as e:
            error = _("Too many failed logins. Try again after %(time)s.",
                      time=format_datetime(e.until, "short"))
            status = 429
        except logins.LoginRefused:
            error = _("Unknown username or wrong password.")
            status = 401
        else:
            _start_session(actor)
            return redirect(next_url or url_for("inbox.index"))
    return render_template("login.html", error=error, username=username, next_url=next_url), status


@auth.post("/logout")
def logout():
    actor = current_actor()
    if actor is not None:
        logins.record_logout(runtime().db, actor.username)
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@auth.post("/language")
def language():
    """Switch the language: stored on the user (audited) when logged in, in the session otherwise."""
    locale = request.form.get("locale", "")
    actor = current_actor()
    if actor is not None:
        with runtime().db.unit_of_work() as db_session:
            users.set_locale(db_session, actor.id, locale, actor.username, clock.now())
    elif locale not in users.LOCALES:
        raise SegitoError(f"unknown language '{locale}'")
    session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")) or url_for("inbox.index"))
