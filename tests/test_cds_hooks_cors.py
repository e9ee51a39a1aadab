"""CORS: preflight without credentials; allowed headers; origins from configuration."""

from __future__ import annotations

PREFLIGHT = {
    "Origin": "https://sandbox.cds-hooks.org",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_preflight_works_without_credentials(client):
    response = client.options("/cds-services/toy-greeter", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_preflight_passes_even_when_calls_need_authentication(make_app):
    from cds_hooks.errors import Unauthorized

    def refuse(request, config):
        raise Unauthorized("no client JWT")

    client = make_app(AUTHENTICATOR=refuse).test_client()
    assert (
        client.options("/cds-services/toy-greeter/feedback", headers=PREFLIGHT).status_code == 200
    )
    response = client.post("/cds-services/toy-greeter", json={}, headers={"Origin": "https://x"})
    assert response.status_code == 401
    assert response.get_json()["issue"][0]["code"] == "login"
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # errors are readable too


def test_discovery_and_errors_carry_the_header(client):
    assert client.get("/cds-services").headers["Access-Control-Allow-Origin"] == "*"
    assert client.post("/cds-services/x", json={}).headers["Access-Control-Allow-Origin"] == "*"


def test_configured_origins_only(make_app):
    client = make_app(CORS_ORIGINS=["https://ehr.example.org"]).test_client()
    good = client.options(
        "/cds-services", headers={**PREFLIGHT, "Origin": "https://ehr.example.org"}
    )
    assert good.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Origin" in good.headers["Vary"]
    bad = client.options("/cds-services", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in bad.headers
