"""The benchmark's floor: a bare Flask app that parses the hook request body and answers
``{"cards": []}``, served the same way as rair-cds (waitress with one worker, gunicorn with
several). ``scripts/bench_service.py`` starts it beside the service and prints the ratios.

Usage: .venv/bin/python scripts/bench_floor.py --port P [--workers N] [--threads T]
       [--verify-jwt ISSUERS_JSON --audience URL]

``--verify-jwt`` makes an extra, clearly labelled floor: the same app that also verifies the
call's ES384 bearer JWT (signature, issuer, audience, expiry) against the issuers' keys (the
``RAIR_CDS_JWT_ISSUERS`` format), the one cryptographic step every rair-cds call must take.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flask import Flask, Response, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def create_floor_app(issuers: str | None = None, audience: str | None = None) -> Flask:
    """POST /cds-services/<id>: parse the JSON body (as Flask's get_json would), no cards;
    with ``issuers``, first verify the bearer JWT (401 when it fails)."""
    app = Flask("rair-cds-floor")
    keys: dict[str, object] = {}
    if issuers:
        import jwt

        for issuer, jwks in json.loads(issuers).items():
            keys[issuer] = jwt.PyJWK(jwks["keys"][0], algorithm="ES384")

    @app.post("/cds-services/<service_id>")
    def call(service_id: str) -> Response:
        if keys:
            import jwt

            token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
            try:
                issuer = jwt.decode(token, options={"verify_signature": False})["iss"]
                jwt.decode(token, key=keys[issuer], algorithms=["ES384"],  # type: ignore[arg-type]
                           audience=f"{audience}/cds-services/{service_id}", issuer=issuer)
            except (jwt.PyJWTError, KeyError):
                return Response('{"error": "unauthorized"}', status=401)
        body = json.loads(request.get_data())
        answer = json.dumps({"cards": [], "extension": {"keys": len(body.get("prefetch") or {})}})
        return Response(answer, mimetype="application/json")

    @app.get("/healthz")
    def health() -> Response:
        return Response('{"status": "ok"}', mimetype="application/json")

    return app


def main() -> int:
    parser = argparse.ArgumentParser(description="the benchmark's floor app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--verify-jwt", metavar="ISSUERS_JSON", help="also verify the JWT")
    parser.add_argument("--audience", help="the public base URL the JWT is for")
    args = parser.parse_args()
    if args.workers == 1:
        from cds_hooks.server import serve

        serve(create_floor_app(args.verify_jwt, args.audience), host="127.0.0.1", port=args.port,
              threads=args.threads)
    else:
        from cds_hooks.workers import serve_workers

        serve_workers("127.0.0.1", args.port, args.workers, args.threads, 10.0,
                      factory=create_floor_app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
