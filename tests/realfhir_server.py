"""A real FHIR R4 server for tests: Medplum's FHIR router on loopback (``tests/realfhir``).

``RealFhirServer()`` starts ``node tests/realfhir/server.mjs`` on a free loopback port with an
in-memory repository and a random bearer token, and stops it with :meth:`RealFhirServer.stop` (or
when the test process ends: the server stops when its stdin closes). ``skip_reason()`` says why it
cannot run here (no Node.js, or ``npm ci --prefix tests/realfhir`` not done), or None.
See ``tests/test_integration_real_fhir_server.py`` for what this server does and does not do.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import subprocess
import threading

from conftest import TESTS_DIR, http

REALFHIR_DIR = TESTS_DIR / "realfhir"
START_TIMEOUT = 30.0


def skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed (the real FHIR server runs on it)"
    if not (REALFHIR_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return ("the real FHIR server is not installed: run `npm ci --prefix tests/realfhir` "
                "(bash scripts/test.sh does)")
    return None


class RealFhirServer:
    """``node tests/realfhir/server.mjs`` on a free loopback port, requiring a bearer token."""

    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(16)
        self.process = subprocess.Popen(
            ["node", str(REALFHIR_DIR / "server.mjs"), "--port", "0", "--token", self.token],
            cwd=REALFHIR_DIR,
            stdin=subprocess.PIPE,  # the server stops when its stdin closes
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout],
                         daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            line = ""
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"the FHIR server did not start: {line!r} "
                               f"{self.process.stderr.read()[-2000:]!r}")
        self.base_url = line.split()[1]

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        headers = {"Accept": "application/fhir+json",
                   "Authorization": f"Bearer {token or self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/fhir+json"
        return http(method, f"{self.base_url}/{path.lstrip('/')}", body, headers)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream and not stream.closed:
                stream.close()
