"""Cost per call on a long record (issue 11, second round): a routine lab is neither cleaned nor
validated, reading a record leaves no reference cycle behind (a cycle kept a 10,000-resource
record alive until the next full garbage collection), and the JSON bounds keep their meaning
when the walk takes its shortcuts."""

from __future__ import annotations

import gc
import json

import pytest
from large_record import routine_labs, with_routine_labs

import plugin.thyroid.reading.record as from_fhir
from cds_hooks.errors import PayloadTooLarge
from cds_hooks.limits import JsonLimits, check_json_bounds, loads_bounded
from plugin.thyroid.pipeline import flatten_prefetch
from plugin.thyroid.reading.text import NOTE
from plugin.thyroid.samples import sample_index

TG = {"resourceType": "Observation", "id": "tg-1", "status": "final",
      "code": {"coding": [{"system": "http://loinc.org", "code": "3013-0"}]},
      "effectiveDateTime": "2024-01-02", "valueQuantity": {"value": 3.0, "unit": "ng/mL"}}


def unreachable_after(work) -> int:
    """Container objects that ``work()`` left in reference cycles (found by a collection)."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        work()
        return gc.collect()
    finally:
        if was:
            gc.enable()


def test_reading_a_long_record_leaves_no_reference_cycle():
    sample = next(s for s in sample_index() if s["name"] == "js-ii-post-therapy-no-uptake")
    with open(sample["request"], encoding="utf-8") as handle:
        request = json.load(handle)

    def read() -> None:
        big = with_routine_labs(request, 2_000)
        resources, notes = flatten_prefetch(big["prefetch"])
        record = from_fhir.read_record(resources)
        assert len(resources) > 2_000 and record.diagnoses  # the work was done

    # a recursive closure over the resource list made one cycle holding every resource: 6,000+
    # containers for 2,000 labs; what is left now is independent of the record's length
    assert unreachable_after(read) < 100


def test_a_routine_lab_with_a_control_character_is_skipped_without_a_note():
    labs = routine_labs("p1", 3)
    labs[1]["code"]["text"] = "Sodium\x00"  # a refused character, in a resource no rule reads
    tg = json.loads(json.dumps(TG))
    tg["note"] = [{"text": "drawn\x07late"}]  # and one in a resource a rule reads
    record = from_fhir.read_record([*labs, tg])
    noted = {note.source for note in record.data_quality if note.message == NOTE}
    assert noted == {"Observation/tg-1"}
    assert [lab.value for lab in record.thyroglobulin] == [3.0]


def test_a_lab_code_with_a_control_character_stays_unread_as_before():
    # cleaning turns the character into U+FFFD, which no code list holds: read raw or cleaned,
    # this Tg result is not recognised, and it is not read from its uncleaned text either
    tg = json.loads(json.dumps(TG))
    tg["code"]["coding"][0]["code"] = "3013\x00-0"
    record = from_fhir.read_record([tg])
    assert record.thyroglobulin == []


@pytest.mark.parametrize("encoded_length", [None, 10_000])
def test_a_long_member_name_is_refused_whatever_the_shortcut(encoded_length):
    limits = JsonLimits(max_string_length=8)
    value = {"e": [{"r": {"id": "x", "n" * 9: 1}}]}
    with pytest.raises(PayloadTooLarge, match="member name"):
        check_json_bounds(value, limits, encoded_length=encoded_length)
    value["e"][0]["r"] = {"id": "x", "n" * 8: 1}
    check_json_bounds(value, limits, encoded_length=encoded_length)


def test_a_text_no_longer_than_the_string_bound_cannot_hold_a_longer_name():
    limits = JsonLimits(max_string_length=16)
    text = '{"ab\\u00e9cd":1}'  # 15 characters of JSON, a 5-character name
    assert len(text) <= 16
    assert loads_bounded(text, limits) == {"ab\u00e9cd": 1}
    with pytest.raises(PayloadTooLarge, match="member name"):
        loads_bounded(json.dumps({"n" * 17: 1}), limits)


def test_nesting_deeper_than_the_bound_is_refused_even_when_empty():
    limits = JsonLimits(max_depth=3)
    check_json_bounds([[[1]]], limits)
    for value in ([[[[]]]], [[[{}]]], {"a": {"b": {"c": {"d": 1}}}}):
        with pytest.raises(PayloadTooLarge, match="deeper than 3"):
            check_json_bounds(value, limits)


class Tagged(dict):
    """A dict subclass: not what a JSON parser makes, bounded all the same."""


def test_subclassed_containers_are_bounded_too():
    limits = JsonLimits(max_object_members=2, max_array_length=2, max_string_length=3)
    with pytest.raises(PayloadTooLarge, match="more than 2 members"):
        check_json_bounds([Tagged(a=1, b=2, c=3)], limits)
    with pytest.raises(PayloadTooLarge, match="longer than 3"):
        check_json_bounds({"a": type("S", (str,), {})("long")}, limits)
    with pytest.raises(PayloadTooLarge, match="more than 2 items"):
        check_json_bounds({"a": type("L", (list,), {})([1, 2, 3])}, limits)


def test_a_reference_to_a_set_aside_lab_still_resolves(monkeypatch):
    labs = routine_labs("p1", 3)
    report = {"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final",
              "code": {"text": "panel"}, "result": [{"reference": "Observation/lab-2"}]}
    captured = {}
    original = from_fhir._propagate_assay

    def spy(entries, ctx, record, codes):
        captured["ctx"] = ctx
        return original(entries, ctx, record, codes)

    monkeypatch.setattr(from_fhir, "_propagate_assay", spy)
    from_fhir.read_record([*labs, report])
    ctx = captured["ctx"]
    assert [lab["id"] for lab in ctx.aside] == ["lab-0", "lab-1", "lab-2"]
    assert ctx.resolve({"reference": "Observation/lab-2"}, report) is labs[2]
    assert ctx.resolve({"reference": "https://ehr.example.org/fhir/Observation/lab-1"},
                       report) is labs[1]
    assert ctx.resolve({"reference": "Observation/lab-9"}, report) is None
