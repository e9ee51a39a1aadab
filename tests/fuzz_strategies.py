"""Hypothesis strategies for the fuzz tests (tests/test_cds_hooks_fuzz.py): JSON values, FHIR
resources and Bundles, prefetch values and whole hook-call bodies for a service definition."""

from __future__ import annotations

import uuid

from fuzz_helpers import EHR_TOKEN, EVIL, FHIR
from hypothesis import strategies as st

# -- strategies ------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
RESOURCE_TYPES = [
    "Patient",
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "Procedure",
    "DiagnosticReport",
    "MolecularSequence",
    "ServiceRequest",
    "OperationOutcome",
    "Bundle",
    "NotAResource",
]
dates = st.one_of(
    st.dates().map(str), st.datetimes().map(lambda d: d.isoformat() + "Z"), st.text(max_size=12)
)
codings = st.fixed_dictionaries(
    {},
    optional={
        "system": st.sampled_from(["http://loinc.org", "http://snomed.info/sct", "urn:x"]),
        "code": st.text(max_size=10) | st.sampled_from(["C73", "363478007", "LA9633-4"]),
        "display": st.text(max_size=20),
    },
)
concepts = st.fixed_dictionaries(
    {}, optional={"coding": st.lists(codings, max_size=3), "text": st.text(max_size=20)}
)
fhir_resources = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(RESOURCE_TYPES)},
    optional={
        "id": st.from_regex(r"[A-Za-z0-9\-.]{1,20}", fullmatch=True) | st.text(max_size=5),
        "status": st.sampled_from(["active", "final", "completed", "unknown", ""]) | json_values,
        "code": concepts | json_values,
        "category": st.lists(concepts, max_size=2),
        "subject": st.fixed_dictionaries({"reference": st.text(max_size=20)}),
        "effectiveDateTime": dates,
        "onsetDateTime": dates,
        "birthDate": dates,
        "gender": st.sampled_from(["male", "female", "other"]) | st.text(max_size=5),
        "valueQuantity": st.fixed_dictionaries(
            {}, optional={"value": scalars, "unit": st.text(max_size=5)}
        ),
        "valueCodeableConcept": concepts,
        "extension": json_values,
    },
)
bundles = st.builds(
    lambda resources, extra: {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
        **extra,
    },
    st.lists(fhir_resources, max_size=5),
    st.just({})
    | st.just({"link": [{"relation": "next", "url": FHIR + "/Observation?page=2"}]})
    | st.just({"link": [{"relation": "next", "url": EVIL + "/Observation?page=2"}]}),
)
prefetch_values = st.none() | fhir_resources | bundles | json_values


def _context(hook: str, patient_id: str) -> dict:
    context = {"userId": "Practitioner/example", "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "d1"}}],
        }
        if hook == "order-select":
            context["selections"] = ["MedicationRequest/d1"]
    return context


SUBJECT = {"reference": "Patient/1288992"}
CLEAN = {  # minimal valid R4 resources
    "Condition": {"resourceType": "Condition", "subject": SUBJECT},
    "Procedure": {"resourceType": "Procedure", "status": "completed", "subject": SUBJECT},
    "Observation": {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "thyroglobulin"},
        "subject": SUBJECT,
    },
}
clean_bundles = st.builds(
    lambda types: {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {**CLEAN[t], "id": f"r{i}"}} for i, t in enumerate(types)],
    },
    st.lists(st.sampled_from(sorted(CLEAN)), max_size=3),
)
patients = st.builds(
    lambda extra: {"resourceType": "Patient", "id": "1288992", **extra},
    st.fixed_dictionaries(
        {},
        optional={"birthDate": st.dates().map(str), "gender": st.sampled_from(["male", "female"])},
    ),
)


@st.composite
def hook_bodies(draw, definitions):
    """Mostly well-formed requests (so that 200 is common), with fuzzed FHIR data inside."""
    definition = draw(st.sampled_from(definitions))
    # hypothesis favours the first choice and small values: keep the valid ones there
    patient_id = draw(st.sampled_from(["1288992"] * 8 + ["p-1", ""]))
    body = {
        "hook": draw(st.sampled_from([definition.hook] * 8 + ["patient-view", "x"])),
        "hookInstance": str(uuid.uuid4()),
        "context": _context(definition.hook, patient_id),
    }
    prefetch = {}
    for key in [*definition.prefetch, "unrequested"]:
        choice = draw(st.sampled_from(["good"] * 12 + ["fuzzed bundle", "null", "absent", "fuzz"]))
        if choice == "good":
            prefetch[key] = draw(patients if key == "patient" else clean_bundles)
        elif choice == "fuzzed bundle":
            prefetch[key] = draw(bundles)
        elif choice == "null":
            prefetch[key] = None
        elif choice == "fuzz":
            prefetch[key] = draw(prefetch_values)
    if prefetch or draw(st.booleans()):
        body["prefetch"] = prefetch
    server = draw(
        st.sampled_from([FHIR, None, FHIR, EVIL, "http://ehr.example.org/fhir", FHIR, "not a url"])
    )
    if server is not None:
        body["fhirServer"] = server
        body["fhirAuthorization"] = {
            "access_token": EHR_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "rair-cds",
        }
    if draw(st.integers(0, 9)) == 9:  # now and then, break one member outright
        member = draw(st.sampled_from(["hook", "hookInstance", "context", "prefetch", "extension"]))
        body[member] = draw(json_values)
    return definition, body
