"""A case's saved state is the JSON SpiffWorkflow's own converters make, byte for byte.

``engine.definitions.serialization`` writes the state text directly (it does not build the converters'
dictionaries first); a case saved that way must stay readable by SpiffWorkflow's serializer after a library
upgrade, so at every save
of these cases — an intake, family care with a follow-up (a multi-instance subprocess and timers, fired), a
job-retention case — the direct text is compared with the converters' output.
"""
from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import select

from engine.cases import cases
from engine.definitions import serialization
from engine.speedups import state_text
from engine.store import keys
from engine.store.models import Case
from tests import demo_data

from .helpers import do
from .timer_helpers import family_case_follow_up_fired, ready_tasks


@pytest.fixture
def compared(monkeypatch):
    """Every direct write checked against the converters; returns the list of (subprocesses, text) written."""
    seen = []
    direct = state_text.direct_json

    def checked(workflow):
        text = direct(workflow)
        assert text == serialization.converters_json(workflow)
        seen.append((len(workflow.subprocesses), text))
        return text

    monkeypatch.setattr(state_text, "direct_json", checked)
    return seen


def test_the_direct_writer_writes_what_the_converters_write(runtime, people, compared):
    case_id = family_case_follow_up_fired(runtime, people)
    contacts = []  # one case log (x-append-only): each contact sends the earlier rows unchanged, then its own
    for contact in ready_tasks(runtime, case_id, "step_3_10"):
        contacts.append({"date": "2026-07-30", "state_found": "Ő jól van."})
        do(runtime, case_id, "step_3_10", {"follow_up_contacts": list(contacts)}, people.anna)
    assert cases.get_case(runtime, case_id, people.anna)["status"] == "completed"
    demo_data.run_job_retention(runtime, people.anna, demo_data.run_intake(runtime, people.anna, 9))
    assert any(subs for subs, _ in compared), "a save with a subprocess was compared"
    assert len(compared) >= 15
    # What was stored is that text, and SpiffWorkflow's serializer reads it back.
    with runtime.db.reading() as session:
        case = session.get(Case, case_id)
        view = runtime.definition(session, case.definition_id)
    assert serialization.state_json(case.state).decode("utf-8") in {text for _, text in compared}
    assert serialization.load_state(case.state, view.spec, view.subprocess_specs).is_completed()


def test_a_small_state_is_stored_as_plain_json_a_large_one_compressed_and_both_load(runtime, people, monkeypatch):
    demo_data.run_intake(runtime, people.anna, 11)
    with runtime.db.reading() as session:
        case = session.execute(select(Case).where(Case.process_key == "intake").order_by(Case.id.desc())).scalar()
        view = runtime.definition(session, case.definition_id)
    assert keys.is_sealed(case.state)  # sealed under the case's key (engine/store/keys.py); inside, as it is
    plain = serialization.state_json(case.state)
    assert len(plain) <= serialization.COMPRESS_ABOVE_BYTES
    assert plain[:1] == b"{" and json.loads(plain)["typename"] == "BpmnWorkflow"
    workflow = serialization.load_state(case.state, view.spec, view.subprocess_specs)

    monkeypatch.setattr(serialization, "COMPRESS_ABOVE_BYTES", 100)  # as a long-running case's state
    packed = serialization.dump_state(workflow)
    assert packed[:1] != b"{" and zlib.decompress(packed) == plain
    assert serialization.state_json(packed) == plain
    assert serialization.load_state(packed, view.spec, view.subprocess_specs).is_completed()
    # A state saved before plain JSON was kept (always compressed) still loads.
    legacy = zlib.compress(plain, 1)
    assert serialization.load_state(legacy, view.spec, view.subprocess_specs).is_completed()
