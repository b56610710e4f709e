"""The committed browser bundle (web/static/viewer/) is the one frontend/ builds: Segito installs with pip alone and
serves these files, so a change to the lock file or the sources without `npm ci && npm run build` (frontend/) must
fail here, and so must a built file edited by hand. The digest is the one frontend/build.mjs writes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
BUILT = ROOT / "web" / "static" / "viewer"
REBUILD = "run `npm ci && npm run build` in frontend/ and commit web/static/viewer/"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inputs_digest() -> str:
    """As build.mjs's inputsDigest: one line "<path>\\0<sha256>\\n" per input, sorted by path; their sha256."""
    inputs = [FRONTEND / name for name in ("package.json", "package-lock.json", "build.mjs")]
    inputs += [p for p in (FRONTEND / "src").rglob("*") if p.is_file()]
    names = sorted(p.relative_to(FRONTEND).as_posix() for p in inputs)
    return _sha256("".join(f"{name}\0{_sha256((FRONTEND / name).read_bytes())}\n" for name in names).encode())


def test_the_committed_bundle_was_built_from_the_committed_sources_and_lock_file():
    record = json.loads((BUILT / "BUILD.json").read_text())
    assert record["inputs"] == inputs_digest(), f"web/static/viewer/ is stale: {REBUILD}"


def test_the_committed_bundle_is_what_the_build_wrote():
    record = json.loads((BUILT / "BUILD.json").read_text())
    present = {p.relative_to(BUILT).as_posix() for p in BUILT.rglob("*") if p.is_file()} - {"BUILD.json"}
    assert present == set(record["outputs"]), f"files added or removed by hand: {REBUILD}"
    changed = [name for name, digest in record["outputs"].items() if _sha256((BUILT / name).read_bytes()) != digest]
    assert not changed, f"{changed} edited after the build: {REBUILD}"


def test_the_lock_file_pins_bpmn_js_18_and_every_package_by_its_digest():
    # bpmn-js for the viewer and the modeler, its properties panel for the studio's modeler (docs/web.md).
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/bpmn-js"]["version"].startswith("18.")
    assert set(lock["packages"][""]["devDependencies"]) == {"bpmn-js", "bpmn-js-properties-panel",
                                                            "@bpmn-io/properties-panel", "esbuild"}
    # Pinned exactly, not by a range: the committed bundle is what these versions build.
    assert all(v[0].isdigit() for v in lock["packages"][""]["devDependencies"].values())
    # `npm ci` installs exactly these (from the configured registry, npm's own by default) or fails.
    unpinned = [name for name, p in lock["packages"].items() if name and not p.get("integrity")]
    assert not unpinned
