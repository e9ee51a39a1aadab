"""The /demo page and its JSON APIs (plugin/thyroid/demo/blueprint.py), Flask test client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from plugin.thyroid.demo.blueprint import create_blueprint
from plugin.thyroid.samples import sample_index

SAMPLE_DATE = "2026-11-27"
STATIC = Path(__file__).resolve().parents[1] / "plugin" / "thyroid" / "demo" / "static"
MODULES = sorted(p.name for p in STATIC.glob("*.js"))


def demo_app(make_app):
    """The thyroid app; create_app registers the plugin's /demo blueprint itself."""
    app = make_app(PLUGINS=["plugin.thyroid"], EVALUATION_DATE=SAMPLE_DATE)
    assert "thyroid_demo" in app.blueprints
    return app


@pytest.fixture
def demo_client(make_app):
    return demo_app(make_app).test_client()


def _names():
    return [s["name"] for s in sample_index()]


def test_page_is_served_with_its_assets(demo_client):
    page = demo_client.get("/demo/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="patient-select"' in html
    assert "Decision support, not medical advice" in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for asset, kind in (("demo.js", "javascript"), ("demo.css", "css")):
        assert f"static/{asset}" in html
        response = demo_client.get(f"/demo/static/{asset}")
        assert response.status_code == 200
        assert kind in response.content_type
        response.close()
    page.close()


def test_every_module_the_page_imports_is_served_as_javascript(demo_client):
    # index.html loads demo.js as an ES module; it and every module it reaches by a relative
    # import must exist and be served with a JavaScript type (browsers refuse modules otherwise)
    page = demo_client.get("/demo/")
    html = page.get_data(as_text=True)
    page.close()
    assert '<script type="module" src="static/demo.js">' in html
    seen, todo = set(), ["demo.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        response = demo_client.get(f"/demo/static/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response.content_type, name
        source = response.get_data(as_text=True)
        todo += re.findall(r'^import [^;]* from "\./([\w-]+\.js)";$', source, flags=re.MULTILINE)
        response.close()
    assert sorted(seen) == MODULES  # no module file the page never loads


def test_demo_without_slash_redirects_to_the_page(demo_client):
    response = demo_client.get("/demo")
    assert response.status_code in (301, 308)
    assert response.headers["Location"].endswith("/demo/")


def test_page_loads_nothing_from_the_network(demo_client):
    for path in ("/demo/", "/demo/static/demo.css", *(f"/demo/static/{m}" for m in MODULES)):
        response = demo_client.get(path)
        text = response.get_data(as_text=True)
        response.close()
        assert "cdn" not in text.lower()
        assert "@import" not in text
        assert "<script src=\"http" not in text


def test_patient_list_names_every_sample(demo_client):
    body = demo_client.get("/demo/api/patients").get_json()
    assert body["evaluationDate"] == SAMPLE_DATE
    assert [p["name"] for p in body["patients"]] == _names()
    assert all(p["title"] for p in body["patients"])


@pytest.mark.parametrize("name", _names())
def test_every_sample_has_a_bundle_and_a_summary(demo_client, name):
    body = demo_client.get(f"/demo/api/patients/{name}").get_json()
    assert body["name"] == name
    assert body["bundle"]["resourceType"] == "Bundle"
    assert body["patientId"]
    summary = body["summary"]
    assert summary["asOf"] == SAMPLE_DATE
    for key in ("diagnoses", "rai", "scans", "lesionSums", "progression", "molecular",
                "therapies"):
        assert key in summary


def test_summary_of_a_cumulative_601_mci_patient(demo_client):
    summary = demo_client.get("/demo/api/patients/js-v-cumulative-601-mci").get_json()["summary"]
    rai = summary["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 22237
    assert rai["aboveThreshold"] is True
    assert rai["administrations"][-1]["cumulativeTherapeuticMBq"] == 22237


def test_summary_of_exactly_600_mci_is_not_above(demo_client):
    rai = demo_client.get("/demo/api/patients/exactly-600-mci-not-met").get_json()["summary"]["rai"]
    assert rai["cumulativeTherapeuticMBq"] == 22200
    assert rai["aboveThreshold"] is False


def test_patient_list_says_when_the_page_cannot_call_the_services(demo_client):
    # the page holds no CDS Client key: with client JWTs required its card requests get 401
    assert demo_client.get("/demo/api/patients").get_json()["authRequired"] is False
    app = Flask(__name__)
    app.register_blueprint(create_blueprint({"AUTH_MODE": "required"}))
    body = app.test_client().get("/demo/api/patients").get_json()
    assert body["authRequired"] is True


def test_unknown_patient_is_404(demo_client):
    assert demo_client.get("/demo/api/patients/nobody").status_code == 404


def test_summary_has_the_safety_data_warnings_depend_on(demo_client):
    bp = demo_client.get("/demo/api/patients/ret-fusion-uncontrolled-bp").get_json()["summary"]
    assert bp["safety"]["bloodPressure"]["systolic"] == 162
    assert bp["safety"]["bloodPressure"]["diastolic"] == 98
    assert bp["safety"]["bloodPressure"]["date"] == "2026-11-10"
    assert bp["safety"]["qtc"] is None and bp["safety"]["potassium"] is None
    preg = demo_client.get("/demo/api/patients/pregnant-systemic-indicated").get_json()["summary"]
    assert preg["safety"]["pregnancy"] == {"source": "Observation/rair-20-preg-9",
                                           "date": "2026-11-01", "pregnant": True}
