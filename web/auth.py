"""Logging in and out, the session, the language switch, and the decorators every page uses.

The session cookie holds the token of a login session kept by the engine (engine/people/login_sessions.py) and when it
was last used. Every request looks the token up with its user, so logout, a deactivation, a password change or
the absolute lifetime end the session on the server, whatever the browser or a copy of its cookie keeps, and a
changed role takes effect at once; a session idle for longer than PERMANENT_SESSION_LIFETIME (by the engine
clock, which tests move) is not served either.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from werkzeug.exceptions import Unauthorized

from engine.errors import Forbidden, SegitoError
from engine.people import login_sessions, logins, users
from engine.people.users import Actor
from engine.runtime.runtime import Runtime
from engine.store import clock

auth = Blueprint("auth", __name__)


def runtime() -> Runtime:
    return current_app.extensions["segito"]


def current_actor() -> Actor | None:
    """The logged-in user of this request (engine.people.users.Actor), or None."""
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


def current_session_id() -> int | None:
    """The engine's id of this request's login session, or None."""
    return g.get("login_session_id")


@auth.before_app_request
def load_actor():
    g.actor = g.login_session_id = None
    token = session.get("sid")
    if token is None:
        return
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    now = _now_ts()
    if now - float(session.get("seen", 0)) > lifetime:
        session.clear()
        session["expired"] = True
        return
    found = logins.current_session(runtime().db, token)
    if found.actor is None:
        session.clear()
        if found.status == login_sessions.EXPIRED:
            session["expired"] = True
        return
    g.actor, g.login_session_id = found.actor, found.session_id
    # Static files do not count as activity (a page left open still expires).
    if request.endpoint != "static":
        session["seen"] = now


def _start_session(actor: Actor, token: str) -> None:
    # A fresh session on login: an id planted before login (session fixation) is never carried over.
    # The login page that follows speaks the language the user worked in (the message below is in it).
    locale = actor.locale if actor is not None and actor.locale in users.LOCALES else session.get("locale")
    session.clear()
    session.permanent = True
    session["sid"] = token
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
            actor, token = logins.log_in(runtime().db, username, password, request.remote_addr)
        except logins.LockedOut as e:
            error = _("Too many failed logins. Try again after %(time)s.",
                      time=format_datetime(e.until, "short"))
            status = 429
        except logins.LoginRefused:
            error = _("Unknown username or wrong password.")
            status = 401
        else:
            if current_session_id() is not None:  # logging in again in this browser ends the session it had
                logins.log_out(runtime().db, current_session_id(), current_actor().username)
            _start_session(actor, token)
            return redirect(next_url or url_for("inbox.index"))
    return render_template("login.html", error=error, username=username, next_url=next_url), status


@auth.post("/logout")
def logout():
    actor = current_actor()
    if actor is not None:  # ended on the server: a copy of the cookie opens nothing any more
        logins.log_out(runtime().db, current_session_id(), actor.username)
    # The login page that follows speaks the language the user worked in (the message below is in it).
    locale = actor.locale if actor is not None and actor.locale in users.LOCALES else session.get("locale")
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


@auth.app_template_global()
def language_return_path() -> str:
    """Where the language switch returns: this page, or — when it was shown after a refused form POST, whose
    address answers POST only — the page the form was on (the POST's referrer), else the inbox."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    parts = urlsplit(request.referrer or "")
    if parts.netloc == request.host and parts.path:
        return _safe_next(parts.path + (f"?{parts.query}" if parts.query else "")) or ""
    return ""
