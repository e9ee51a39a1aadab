"""Keys, tokens and a loopback JWKS endpoint shared by the CDS Client JWT tests
(``test_cds_hooks_client_auth.py``, ``test_redteam_auth.py``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


def public_jwk(private_key: Any, kid: str = "k1", alg: str = "ES384") -> dict:
    """The public JWK of ``private_key`` with ``kid``, ``use`` and ``alg`` set."""
    jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private_key.public_key()))
    jwk.update(kid=kid, use="sig", alg=alg)
    return jwk


def b64(data: Any) -> str:
    """base64url without padding of ``data`` (bytes as they are, anything else as JSON)."""
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(iss: str, aud: str, **changes: Any) -> dict:
    """Fresh claims (``iat`` now, ``exp`` in 5 minutes, a new ``jti``); a change to ``None``
    drops that claim."""
    now = int(time.time())
    out = {"iss": iss, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def signed_token(
    key: Any,
    *,
    iss: str,
    aud: str,
    alg: str = "ES384",
    kid: str = "k1",
    headers: dict | None = None,
    **changes: Any,
) -> str:
    """A signed JWT with :func:`claims` and the header ``kid`` (plus ``headers``)."""
    header = {"kid": kid, **(headers or {})}
    return jwt.encode(claims(iss, aud, **changes), key, algorithm=alg, headers=header)


class JwksServer:
    """A loopback JWKS endpoint serving ``keys``; counts its hits and may redirect."""

    def __init__(self, keys: list[dict] | None = None) -> None:
        self.keys: list[dict] = list(keys or [])
        self.hits = 0
        self.redirect_to: str | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.hits += 1
                if outer.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", outer.redirect_to)
                    self.end_headers()
                    return
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/jwks.json"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def unsigned(header: dict, payload: dict, signature: str = "") -> str:
    """A compact JWT assembled by hand (any header, e.g. ``alg: none``)."""
    return f"{b64(header)}.{b64(payload)}.{signature}"


def hmac_signed(alg: str, secret: bytes, header: dict, payload: dict) -> str:
    """``header.payload`` signed with HMAC (``HS256``/``HS384``/``HS512``) keyed by ``secret``,
    e.g. the algorithm-confusion token keyed with a public key's PEM."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{b64(header)}.{b64(payload)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), digest).digest())}"
