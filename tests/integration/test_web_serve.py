"""What a server process does once its app is built (web/serve.py)."""
from __future__ import annotations

import gc

from engine.definitions import definitions
from engine.runtime.runtime import Runtime
from engine.store.db import Database
from tests.integration.web_client import make_app
from web import serve


def test_a_settled_worker_has_every_definition_parsed_and_its_startup_objects_frozen(runtime):
    with runtime.db.reading() as session:
        deployed = {row["id"] for row in definitions.list_definitions(session)}
    assert deployed
    fresh = Runtime(Database(runtime.db.url))  # as a new server process has it: nothing parsed yet
    app = make_app(fresh)
    assert not set(fresh._definitions) & deployed
    try:
        assert serve.settle(app) is app
        assert set(fresh._definitions) >= deployed
        # Frozen objects are left out of every collection, full ones included.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
