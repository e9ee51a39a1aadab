"""Discovery (GET /cds-services) and the health endpoint."""

from __future__ import annotations


def test_discovery_lists_every_service_with_spec_members(client, assert_valid_response):
    response = client.get("/cds-services")
    assert response.status_code == 200
    body = assert_valid_response(response.get_json(), "discovery-response")
    services = {s["id"]: s for s in body["services"]}
    assert set(services) == {
        "toy-greeter",
        "toy-orders",
        "toy-select",
        "toy-sleeper",
        "toy-broken",
        "toy-raiser",
    }
    greeter = services["toy-greeter"]
    assert greeter == {
        "hook": "patient-view",
        "id": "toy-greeter",
        "title": "Toy greeter",
        "description": "Greets the patient (test domain).",
        "prefetch": {
            "patient": "Patient/{{context.patientId}}",
            "conditions": "Condition?patient={{context.patientId}}&category=problem-list-item",
        },
        "usageRequirements": "None: a test service.",
        "version": "2.0",
        "hookVersion": "1.0",
    }
    # empty members are left out, never sent as null or {}
    assert "prefetch" not in services["toy-sleeper"]
    assert "usageRequirements" not in services["toy-sleeper"]


def test_discovery_with_no_plugins_is_an_empty_list(make_app, assert_valid_response):
    response = make_app(PLUGINS=[]).test_client().get("/cds-services")
    assert assert_valid_response(response.get_json(), "discovery-response") == {"services": []}


def test_health_endpoints(client):
    for path in ("/", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.get_json() == {"status": "ok", "services": 6}


def test_discovery_rejects_post_with_operation_outcome(client):
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert "GET" in response.headers["Allow"]


def test_every_thyroid_service_announces_version_and_hook_version(make_app):
    body = make_app(PLUGINS=["plugin.thyroid"]).test_client().get("/cds-services").get_json()
    services = {s["id"]: s for s in body["services"]}
    assert set(services) == {"rair-patient-view", "rair-order-select", "rair-order-sign"}
    for service in services.values():
        assert service["version"] and service["hookVersion"] == "1.0", service["id"]
