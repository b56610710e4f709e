"""A PostgreSQL server of a test's own (initdb in a temporary directory, another port), for tests that crash and
restart it: the shared server on 5432 serves every other test run on the machine and must never go away.

The binaries are Debian's (``/usr/lib/postgresql/<major>/bin``, or ``SEGITO_PG_BIN``). PostgreSQL refuses to run
as root, so under root the server runs as the ``postgres`` user (``runuser``). ``fsync=off``: the tests crash the
server process, never the machine, and what a commit wrote is in the operating system's cache either way; it
spares the shared disk. Everything else is the default (``synchronous_commit=on``: a commit is acknowledged
once its WAL record is written).
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def binaries() -> Path | None:
    chosen = os.environ.get("SEGITO_PG_BIN")
    if chosen:
        return Path(chosen)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; set SEGITO_PG_BIN)")
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="segito-private-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        self.log = self.dir / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([*self.as_user, *args], capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.decode(errors='replace')[-1500:]}")

    def start(self) -> PrivatePostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=60 -c shared_buffers=32MB")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "start")
        return self

    def crash_restart(self) -> float:
        """Stop the server as a crash would (``immediate``: no checkpoint, every connection cut), start it again
        (it recovers from its WAL); returns the seconds it was away."""
        began = time.monotonic()
        # -l again: without it the new server would write to pg_ctl's output, which is a pipe we wait on.
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-m", "immediate", "-w",
                  "restart")
        return time.monotonic() - began

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        except Exception:  # noqa: BLE001 - a server that never started has nothing to stop
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
