"""The README's run command: `segito` serves the app with the demo users and cases and says where and how."""
from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_segito_run_serves_the_demo_and_prints_address_and_logins(tmp_path):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}", SEGITO_TICKER="0")
    env.pop("SEGITO_SECRET_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                urllib.request.urlopen(base + "/login", timeout=2).read()
                break
            except OSError:
                assert time.time() < deadline, "the app did not answer within 120 s"
                time.sleep(0.3)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        inbox = opener.open(base + "/login", urllib.parse.urlencode(
            {"username": "anna", "password": "segito-demo", "csrf_token": token}).encode())
        assert inbox.url.endswith("/inbox")
        # Several requests, so more than one server process answers: the session holds in each of them.
        pages = [opener.open(base + "/cases").read().decode() for _ in range(6)]
        assert all("Kiss Anna" in p and "/cases/" in p for p in pages)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"Segito is running at http://127.0.0.1:{port}/" in out
    assert "Demo logins (password 'segito-demo'): anna (caseworker)" in out
