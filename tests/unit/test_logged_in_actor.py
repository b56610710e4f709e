"""``web.auth.logged_in_actor``: the actor of a view behind login, typed as present — and a view that forgot its
decorator is refused (401), never run for nobody."""
from __future__ import annotations

import pytest
from flask import Flask, g
from werkzeug.exceptions import Unauthorized

from engine.people.users import Actor
from web.auth import logged_in_actor


def test_the_logged_in_actor_or_a_refusal():
    app = Flask(__name__)
    with app.test_request_context("/tasks/1"):
        with pytest.raises(Unauthorized):
            logged_in_actor()
        actor = Actor(id=7, username="anna", display_name="Anna", role_codes=frozenset({"caseworker"}), locale="hu")
        g.actor = actor
        assert logged_in_actor() is actor
