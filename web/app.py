"""Application factory."""
from __future__ import annotations

import os
import secrets

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from engine.errors import SegitoError
from engine.runtime import Runtime


def create_app(runtime: Runtime | None = None, config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SEGITO_SECRET_KEY") or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["segito"] = runtime or Runtime()

    from .api import api

    app.register_blueprint(api)

    @app.errorhandler(SegitoError)
    def _engine_error(err: SegitoError):
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify({"error": err.name.lower().replace(" ", "_"), "message": err.description}), err.code

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
