"""Debian's chromium for the browser tests: found at /usr/bin/chromium, or installed with apt-get when missing.

Playwright's own browser download cannot be used here (only the package registries are reachable), so the tests
drive the distribution's build. Run ``python -m tests.e2e.chromium`` to install it ahead of the tests.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = os.environ.get("SEGITO_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def ensure() -> str:
    """The chromium executable's path; installs Debian's package when it is missing and we may (root, apt)."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise RuntimeError(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): "
                           "install Debian's 'chromium' package")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()[-2000:]}")
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"chromium was installed but {CHROMIUM} does not exist")
    return CHROMIUM


if __name__ == "__main__":
    try:
        print(ensure())
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
