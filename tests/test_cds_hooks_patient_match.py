"""One record, one patient (issue 9 item 5): a prefetch key holding another patient's data is never
used; it is fetched instead when allowed, otherwise the 412 names the key and the mismatch. And
(issue 12 item 4) a 412 names every key that could not be had, each with its reason.

Unit tests of :mod:`cds_hooks.patient_match`, then the protocol through the Flask client with the
toy plugin (``toy-greeter`` needs ``patient``; ``conditions`` is optional) and the EHR's FHIR
server mocked with ``responses``.
"""

from __future__ import annotations

import logging

import pytest
import responses
from conftest import assert_operation_outcome
from test_cds_hooks_prefetch import BASE, CONDITIONS_URL, PATIENT_URL, TOKEN, fhir, seen
from test_cds_hooks_prefetch import request_body as prefetch_request

from cds_hooks.errors import PrefetchUnavailable
from cds_hooks.patient_match import foreign_patient, names_patient, referenced_patient, refusals

PID = "1288992"  # the context patient of the prefetch tests' requests
OTHER = "4455"
__all__ = ["fhir"]  # the mocked EHR fixture, shared with the prefetch tests


def condition(ident, reference, member="subject"):
    return {"resourceType": "Condition", "id": ident, member: {"reference": reference}}


def searchset(*resources, full_urls=None):
    entries = []
    for i, resource in enumerate(resources):
        entry = {"resource": resource}
        if full_urls:
            entry["fullUrl"] = full_urls[i]
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


# -- unit: foreign_patient ---------------------------------------------------------------------


@pytest.mark.parametrize("reference", [
    f"Patient/{PID}", f"{BASE}/Patient/{PID}", f"Patient/{PID}/_history/3",
    f"https://other.example/r4/Patient/{PID}/_history/1",
])
def test_references_to_the_context_patient_match(reference):
    assert referenced_patient(reference, {}) == PID
    assert foreign_patient(condition("c1", reference), PID) is None
    assert foreign_patient(searchset(condition("c1", reference)), PID) is None


@pytest.mark.parametrize("reference", [
    f"Patient/{OTHER}", f"{BASE}/Patient/{OTHER}", f"Patient/{OTHER}/_history/2",
    f"Patient/{PID}0", f"Patient/x{PID}",
])
def test_a_reference_to_another_patient_is_a_mismatch(reference):
    why = foreign_patient(condition("c1", reference), PID)
    assert why == "Condition.subject names another patient than context.patientId"
    assert OTHER not in why and PID not in why  # no identifiers in the message


def test_the_patient_member_counts_too():
    resource = condition("m1", f"Patient/{OTHER}", member="patient")
    resource["resourceType"] = "MolecularSequence"
    assert foreign_patient(resource, PID) == (
        "MolecularSequence.patient names another patient than context.patientId")


def test_a_patient_whose_id_is_another_or_absent_is_a_mismatch():
    assert foreign_patient({"resourceType": "Patient", "id": PID}, PID) is None
    for patient in ({"resourceType": "Patient", "id": OTHER}, {"resourceType": "Patient"}):
        assert foreign_patient(patient, PID) == "a Patient whose id is not context.patientId"


def test_one_foreign_entry_spoils_the_bundle_and_the_count_is_given():
    bundle = searchset(condition("c1", f"Patient/{PID}"), condition("c2", f"Patient/{OTHER}"),
                       condition("c3", f"{BASE}/Patient/{OTHER}"))
    assert foreign_patient(bundle, PID) == (
        "Condition.subject names another patient than context.patientId (and 1 more)")


def test_urn_uuid_references_resolve_through_the_bundles_full_urls():
    own, other = "urn:uuid:8c3f0d5e-0000-4000-8000-000000000001", "urn:uuid:8c3f-other"
    patient = {"resourceType": "Patient", "id": PID}
    same = searchset(patient, condition("c1", own), full_urls=[own, "urn:uuid:c1"])
    assert foreign_patient(same, PID) is None
    mixed = searchset(patient, {"resourceType": "Patient", "id": OTHER}, condition("c1", other),
                      full_urls=[own, other, "urn:uuid:c1"])
    assert "Patient whose id is not" in foreign_patient(mixed, PID)
    # the reference itself resolves to the other patient's id, so the Condition alone mismatches
    assert referenced_patient(other, {other: {"resourceType": "Patient", "id": OTHER}}) == OTHER
    assert referenced_patient(own, {own: patient}) == PID


def test_a_long_record_with_one_foreign_entry_at_the_end_is_still_refused():
    # references are resolved once per value (issue 11 cost per call): repeats must not hide one
    own = [condition(f"c{i}", f"Patient/{PID}") for i in range(3000)]
    bundle = searchset(*own, condition("x", f"Patient/{OTHER}"), condition("y", f"Patient/{PID}"))
    assert foreign_patient(bundle, PID) == (
        "Condition.subject names another patient than context.patientId")
    assert refusals({"conditions": bundle}, ["conditions"], PID)


def test_one_urn_uuid_is_resolved_in_each_bundle_on_its_own():
    ref = "urn:uuid:8c3f0d5e-0000-4000-8000-00000000000a"
    mine = searchset({"resourceType": "Patient", "id": PID}, condition("c1", ref),
                     full_urls=[ref, "urn:uuid:c1"])
    theirs = searchset({"resourceType": "Patient", "id": OTHER}, condition("c1", ref),
                       full_urls=[ref, "urn:uuid:c1"])
    assert foreign_patient(mine, PID) is None
    # the same reference names the other patient here: the Patient and the Condition both count
    assert foreign_patient(theirs, PID) == (
        "a Patient whose id is not context.patientId (and 1 more)")
    out = refusals({"patient": mine, "conditions": theirs}, ["patient", "conditions"], PID)
    assert list(out) == ["conditions"]


@pytest.mark.parametrize("value", [
    {"resourceType": "Bundle", "entry": {"resource": {}}}, {"resourceType": "Bundle", "entry": "x"},
    {"resourceType": "Bundle", "entry": [None, 3, {"resource": "x", "fullUrl": ["u"]}]},
    {"resourceType": "Condition", "subject": "Patient/4455"},
    {"resourceType": "Condition", "subject": {"reference": 7}}, [], "Patient/4455", None,
])
def test_malformed_values_are_not_a_crash(value):
    assert foreign_patient(value, PID) is None


def test_references_that_name_no_patient_cannot_mismatch():
    for reference in ("Group/7", "#p1", "urn:uuid:unresolved", "Patient?identifier=x|1",
                      "Practitioner/4455"):
        assert foreign_patient(condition("c1", reference), PID) is None, reference
    assert foreign_patient({"resourceType": "Condition", "subject": {"identifier": {}}}, PID) \
        is None
    # a urn:uuid that resolves to something other than a Patient names no patient
    group = "urn:uuid:group"
    bundle = searchset({"resourceType": "Group", "id": "g"}, condition("c1", group),
                       full_urls=[group, "urn:uuid:c1"])
    assert foreign_patient(bundle, PID) is None


def test_in_a_mixed_prefetch_keys_that_name_no_patient_are_not_trusted():
    own = searchset(condition("c1", f"Patient/{PID}"))
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    prefetch = {"patient": {"resourceType": "Patient", "id": OTHER}, "own": own, "empty": empty,
                "null": None, "outcome": {"resourceType": "OperationOutcome", "issue": []}}
    keys = [*prefetch, "absent"]
    why = refusals(prefetch, keys, PID)
    assert sorted(why) == ["empty", "null", "patient"]
    assert why["patient"].startswith("the supplied value holds another patient's data")
    assert "names no patient" in why["empty"] and "names no patient" in why["null"]
    # without a foreign key, nothing is refused: an empty searchset is simply "no data"
    assert refusals({k: v for k, v in prefetch.items() if k != "patient"}, keys, PID) == {}
    assert names_patient(own, PID) and not names_patient(empty, PID)
    assert names_patient({"resourceType": "Patient", "id": PID}, PID)


# -- through the protocol layer (toy plugin, mocked EHR) ---------------------------------------


def request_body(prefetch, *, fhir_server=True):
    """The prefetch tests' request (context patient PID, token TOKEN), with or without a
    fhirServer."""
    body = prefetch_request(prefetch)
    if not fhir_server:
        del body["fhirServer"], body["fhirAuthorization"]
    return body


def test_a_foreign_patient_is_never_greeted_and_is_fetched_instead(client, fhir, caplog):
    fhir.get(PATIENT_URL, json={"resourceType": "Patient", "id": PID})
    prefetch = {"patient": {"resourceType": "Patient", "id": OTHER},
                "conditions": searchset(condition("c1", f"Patient/{PID}"))}
    with caplog.at_level(logging.WARNING, logger="rair_cds.prefetch"):
        response = client.post("/cds-services/toy-greeter", json=request_body(prefetch))
    assert response.get_json()["cards"][0]["summary"] == f"Hello {PID}"
    assert seen(response)["prefetch"]["patient"]["id"] == PID
    assert [c.request.url for c in fhir.calls] == [PATIENT_URL]  # conditions were the patient's
    assert fhir.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "prefetch key patient is not used: it holds, or may hold, another patient's data" \
        in caplog.text
    assert OTHER not in caplog.text and PID not in caplog.text


def test_a_foreign_optional_key_is_fetched_and_a_failed_fetch_leaves_it_missing(client, fhir):
    fhir.get(CONDITIONS_URL, json=searchset(condition("c9", f"Patient/{PID}")))
    prefetch = {"patient": {"resourceType": "Patient", "id": PID},
                "conditions": searchset(condition("c1", f"{BASE}/Patient/{OTHER}"))}
    assert seen(client.post("/cds-services/toy-greeter", json=request_body(prefetch)))[
        "prefetch"]["conditions"]["entries"] == 1
    fhir.replace(responses.GET, CONDITIONS_URL, status=503)
    response = client.post("/cds-services/toy-greeter", json=request_body(prefetch))
    assert seen(response)["prefetch"]["conditions"] is None
    assert seen(response)["missing"] == ["conditions"]


def test_a_null_beside_a_foreign_key_is_read_again(client, fhir):
    """The EHR that sent another patient's Patient may have sent that patient's "no conditions"."""
    fhir.get(PATIENT_URL, json={"resourceType": "Patient", "id": PID})
    fhir.get(CONDITIONS_URL, json=searchset(condition("c9", f"Patient/{PID}")))
    prefetch = {"patient": {"resourceType": "Patient", "id": OTHER}, "conditions": None}
    response = client.post("/cds-services/toy-greeter", json=request_body(prefetch))
    assert seen(response)["prefetch"]["conditions"]["entries"] == 1
    assert sorted(c.request.url for c in fhir.calls) == sorted([PATIENT_URL, CONDITIONS_URL])


def test_without_fhir_server_a_foreign_needed_key_is_412_naming_key_and_mismatch(client, fhir):
    prefetch = {"patient": {"resourceType": "Patient", "id": OTHER}, "conditions": None}
    response = client.post("/cds-services/toy-greeter",
                           json=request_body(prefetch, fhir_server=False))
    assert response.status_code == 412
    issue = assert_operation_outcome(response.get_json(), code="processing")
    assert issue["expression"] == ["prefetch.patient"]
    assert "'patient'" in issue["diagnostics"]
    assert "another patient's data (a Patient whose id is not context.patientId)" in \
        issue["diagnostics"]
    assert OTHER not in response.get_data(as_text=True)
    assert len(fhir.calls) == 0


def test_a_server_answering_with_another_patient_is_not_used_either(client, fhir):
    fhir.get(PATIENT_URL, json={"resourceType": "Patient", "id": OTHER})
    response = client.post("/cds-services/toy-greeter", json=request_body({"conditions": None}))
    assert response.status_code == 412
    assert "the FHIR server's answer holds another patient's data" in \
        response.get_json()["issue"][0]["diagnostics"]


def test_a_call_without_patient_context_is_not_checked(client, fhir):
    """Only calls about a patient (context.patientId) are compared."""
    from cds_hooks.hook_request import HookRequest
    from cds_hooks.prefetch import resolve_prefetch
    from cds_hooks.service import ServiceDefinition

    definition = ServiceDefinition(id="x", hook="h", title="x", description="x",
                                   prefetch={"patient": "Patient/{{context.userId}}"})
    request = HookRequest(hook="h", hook_instance="i", context={"userId": "Patient/9"},
                          prefetch={"patient": {"resourceType": "Patient", "id": "9"}})
    assert resolve_prefetch(request, definition).states == {"patient": "supplied"}


# -- issue 12 item 4: every key that could not be had, with its reason --------------------------


def test_a_412_names_every_key_that_could_not_be_had(client, fhir):
    prefetch = {"patient": {"resourceType": "Patient", "id": OTHER},
                "conditions": {"resourceType": "OperationOutcome", "issue": []}}
    response = client.post("/cds-services/toy-greeter",
                           json=request_body(prefetch, fhir_server=False))
    assert response.status_code == 412
    body = response.get_json()
    assert [i["expression"] for i in body["issue"]] == [["prefetch.patient"],
                                                         ["prefetch.conditions"]]
    assert [i["severity"] for i in body["issue"]] == ["error", "warning"]
    patient, conditions = (i["diagnostics"] for i in body["issue"])
    assert "'patient' is needed" in patient and "another patient's data" in patient
    assert "'conditions' (optional)" in conditions and "no fhirServer" in conditions


def test_each_key_gets_its_own_fetch_failure_reason(client, fhir):
    fhir.get(PATIENT_URL, status=404)
    fhir.get(CONDITIONS_URL, status=503)
    response = client.post("/cds-services/toy-greeter", json=request_body({}))
    assert response.status_code == 412
    reasons = {i["expression"][0]: i["diagnostics"] for i in response.get_json()["issue"]}
    assert set(reasons) == {"prefetch.patient", "prefetch.conditions"}
    assert "answered 404" in reasons["prefetch.patient"]
    assert "answered 503" in reasons["prefetch.conditions"]
    assert TOKEN not in response.get_data(as_text=True)


def test_the_error_object_keeps_needed_keys_first():
    error = PrefetchUnavailable({"b": "gone", "a": "refused", "c": "late"}, needed=("a", "c"))
    assert (error.needed, error.optional) == (["a", "c"], ["b"])
    body = error.to_operation_outcome()
    assert [i["expression"] for i in body["issue"]] == [["prefetch.a"], ["prefetch.c"],
                                                         ["prefetch.b"]]
    assert "'a', 'c'" in error.message
