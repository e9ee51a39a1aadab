"""The shared pipeline and prefetch (plugin/thyroid/pipeline.py, prefetch.py), the sign-time
screen of the alert cache, and the configuration helpers the order services use."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from cds_hooks.settings import config_flag, config_number
from plugin.thyroid.knowledge.loader import load_knowledge
from plugin.thyroid.orders.alert_cache import AlertCache
from plugin.thyroid.orders.service import create_order_services
from plugin.thyroid.patient_view import PatientViewService
from plugin.thyroid.pipeline import Pipeline, flatten_prefetch
from plugin.thyroid.samples import evaluation_date, sample_index

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE = ROOT / "rules" / "thyroid"
SITE_TG = "http://hospital.example/lab|TG-LOCAL"


def test_a_sites_local_code_reaches_every_services_observation_template(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    shutil.copytree(KNOWLEDGE, folder)
    codes = folder / "codes.yaml"
    text = codes.read_text(encoding="utf-8")
    codes.write_text(text.replace('thyroglobulin: ["loinc#3013-0"]',
                                  'thyroglobulin: ["loinc#3013-0", "http://hospital.example/lab#TG-LOCAL"]'),
                     encoding="utf-8")
    site, ours = load_knowledge(folder), load_knowledge()

    services = [PatientViewService(knowledge=site), *create_order_services({}, knowledge=site)]
    default = PatientViewService(knowledge=ours)

    for service in services:
        assert SITE_TG in service.definition.prefetch["observations"], service.definition.id
    assert SITE_TG not in default.definition.prefetch["observations"]


def test_the_three_services_give_one_assessment_through_one_pipeline() -> None:
    knowledge = load_knowledge()
    as_of = dt.date.fromisoformat(evaluation_date())
    scenario = sample_index()[0]
    bundle = json.loads(Path(scenario["bundle"]).read_text("utf-8"))
    resources, notes = flatten_prefetch({"record": bundle})
    expected = json.loads(Path(scenario["expected"]).read_text("utf-8"))

    direct = Pipeline(knowledge).evaluate(resources, as_of, notes).assessment.to_json()
    view = PatientViewService(knowledge=knowledge).pipeline.evaluate(resources, as_of, notes)
    select, _sign = create_order_services({}, knowledge=knowledge)
    order = select.assessor(resources, as_of, notes, ()).assessment.to_json()  # type: ignore[attr-defined]

    assert view.assessment.to_json() == direct == order
    assert direct["rairStatus"] == expected["rairStatus"]


def test_an_unavailable_key_is_named_once_in_missing_data() -> None:
    done = Pipeline(load_knowledge()).evaluate([], dt.date(2026, 1, 1), (), ["procedures"] * 2)
    lines = [m for m in done.assessment.missing_data if "Procedure" in m]
    assert lines == ["not retrieved from the EHR: Procedure (surgery, radiopharmaceutical"
                     " administrations, contrast)"]


def test_the_sign_screen_holds_back_repeats_unless_they_must_show_again() -> None:
    cache = AlertCache()
    key = cache.key("p1", "MedicationRequest/m1", {"resourceType": "MedicationRequest"})
    cache.remember(key, ["warning|a", "critical|b"])

    kept, repeats = cache.screen(key, ["warning|a", "critical|b", "info|c"],
                                 signature=lambda c: c)
    assert (kept, repeats) == (["info|c"], ["warning|a", "critical|b"])

    kept, repeats = cache.screen(key, ["warning|a", "critical|b"], signature=lambda c: c,
                                 always_show=lambda c: c.startswith("critical"))
    assert (kept, repeats) == (["critical|b"], ["warning|a"])

    other = cache.key("p2", "MedicationRequest/m1", {"resourceType": "MedicationRequest"})
    assert cache.screen(other, ["warning|a"], signature=lambda c: c) == (["warning|a"], [])


@pytest.mark.parametrize("value,expected",
                         [("true", True), ("0", False), (False, False), (1, True)])
def test_config_flag_reads_environment_strings_and_values(value, expected) -> None:
    assert config_flag({"X": value}, "X", not expected) is expected
    assert config_flag({}, "X", expected) is expected


def test_config_helpers_name_the_setting_in_their_errors() -> None:
    with pytest.raises(ValueError, match="ORDER_INFO_CARDS='maybe'"):
        config_flag({"ORDER_INFO_CARDS": "maybe"}, "ORDER_INFO_CARDS", True)
    with pytest.raises(ValueError, match="ORDER_ALERT_CACHE_SIZE='lots'"):
        config_number({"ORDER_ALERT_CACHE_SIZE": "lots"}, "ORDER_ALERT_CACHE_SIZE", 1)
    assert config_number({"N": "2.5"}, "N", 1) == 2.5
