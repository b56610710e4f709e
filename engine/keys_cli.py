"""`segito keys status|new|rotate`: the master keys that protect personal data at rest (engine/store/keys.py);
added to the `segito` group by engine/cli.py (docs/operations.md, "Keys")."""
from __future__ import annotations

import os
from pathlib import Path

import click

from .cli_support import _out, _runtime
from .store import audit, clock, keys


@click.group("keys")
def keys_group():
    """Master keys: which are configured, a new one, data keys re-wrapped under it."""


@keys_group.command("status")
def keys_status():
    """The configured master keys, how many data keys each wraps, and anything an operator must act on."""
    runtime = _runtime()
    with runtime.db.reading() as session:
        found = keys.status(session)
    _out(found)
    if found["problems"]:
        raise SystemExit(1)


@keys_group.command("new")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="the key file (default: SEGITO_KEY_FILE, or "
              "instance/segito.key)")
def keys_new(path):
    """Write a new master key at the top of the key file (0600): it wraps data keys from now on; run
    `segito keys rotate` to re-wrap the existing ones under it."""
    if os.environ.get(keys.ENV_KEYS) and not path:
        raise click.UsageError(f"the master keys come from {keys.ENV_KEYS}: put a new key first there "
                               "(`segito keys new --file PATH` writes one to a file you can copy it from)")
    key_id = keys.add_master_key(Path(path) if path else None)
    _out({"master_key": key_id, "file": str(Path(path) if path else keys.key_file()),
          "next": "run `segito keys rotate`; keep the old key until no backup needs it"})


@keys_group.command("rotate")
def keys_rotate():
    """Re-wrap every data key under the first configured master key (one transaction; no data re-encrypted)."""
    runtime = _runtime()
    at = clock.now()
    with runtime.db.unit_of_work() as session:
        done = keys.rotate(session)
        audit.record_system_event(session, "system", at, audit.DATA_KEYS_REWRAPPED, done)
    _out(done)
