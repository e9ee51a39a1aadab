# ruff: noqa  -- one-off sample generator kept for regeneration; data tables, not library code
"""Generate fhir_samples/thyroid/orders/* from the patient-view samples (one-off helper)."""
import json, uuid
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "orders"
SNOMED = "http://snomed.info/sct"; RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
RAIR = "https://rair-cds.org/fhir/CodeSystem/concepts"

def i131(rid, pid, mci):
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": SNOMED, "code": "111160004",
                "display": "Sodium iodide (131-I)"}], "text": "Sodium iodide I-131 therapy"},
            "subject": {"reference": f"Patient/{pid}"},
            "dosageInstruction": [{"text": f"{mci} mCi orally once", "doseAndRate": [{"doseQuantity": {
                "value": mci, "unit": "mCi", "system": "http://unitsofmeasure.org", "code": "mCi"}}]}]}

def rai_service(rid, pid):
    return {"resourceType": "ServiceRequest", "id": rid, "status": "draft", "intent": "order",
            "code": {"coding": [{"system": SNOMED, "code": "440252007",
                "display": "Administration of radiopharmaceutical"}], "text": "Radioiodine (I-131) therapy"},
            "subject": {"reference": f"Patient/{pid}"}}

def drug(rid, pid, code=None, text=None):
    concept = {}
    if code: concept["coding"] = [{"system": RX, "code": code}]
    if text: concept["text"] = text
    return {"resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
            "medicationCodeableConcept": concept, "subject": {"reference": f"Patient/{pid}"},
            "dosageInstruction": [{"text": "as directed"}]}

def on_drug(rid, pid, rx, name, start, status="active"):
    """A current systemic therapy in the record (MedicationStatement, no end date)."""
    return {"resourceType": "MedicationStatement", "id": rid, "status": status,
            "medicationCodeableConcept": {"coding": [{"system": RX, "code": rx, "display": name}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectivePeriod": {"start": start}}

def add_statement(resource):
    def edit(prefetch):
        bundle = prefetch["medicationStatements"]
        bundle["entry"] = bundle.get("entry", []) + [{"resource": resource}]
        bundle["total"] = len(bundle["entry"])
    return edit

def diet(pid):
    return {"resourceType": "NutritionOrder", "id": "diet-1", "status": "draft", "intent": "order",
            "patient": {"reference": f"Patient/{pid}"}, "dateTime": "2026-11-27",
            "oralDiet": {"type": [{"text": "Low-iodine diet"}]}}

# name, base, hook, title, rule, drafts(pid)->list, selections or None, expected cards, config
S = [
 ("i131-refractory", "js-ii-post-therapy-no-uptake", "order-sign", "I-131 150 mCi for RAIR (JS-ii) disease", "1",
  lambda p: [i131("i131-1", p, 150)], None,
  [{"kind": "order-i131-rair", "indicator": "warning", "summaryIncludes": ["JS-ii", "Rec 59B"],
    "actions": [["delete", "MedicationRequest/i131-1"], ["create", "ServiceRequest"]]}], {}),
 ("i131-refractory-critical", "js-ii-post-therapy-no-uptake", "order-sign", "Same, with ORDER_I131_CRITICAL", "1",
  lambda p: [i131("i131-1", p, 150)], None,
  [{"kind": "order-i131-rair", "indicator": "critical"}], {"ORDER_I131_CRITICAL": True}),
 ("i131-past-22-gbq", "js-v-cumulative-601-mci", "order-sign", "I-131 100 mCi after 601 mCi: cumulative past 22.2 GBq", "1",
  lambda p: [i131("i131-2", p, 100)], None,
  [{"kind": "order-i131-rair", "indicator": "warning", "summaryIncludes": ["JS-v", ">22.2 GBq"],
    "detailIncludes": ["above 22,200 MBq"]}], {}),
 ("i131-service-request", "js-i-diagnostic-scan-no-uptake", "order-select", "Radioiodine therapy as a ServiceRequest (SNOMED 440252007)", "1",
  lambda p: [rai_service("rai-sr-1", p)], ["ServiceRequest/rai-sr-1"],
  # stable (NO_PD, MONITOR): no systemic-therapy referral, only the delete
  [{"kind": "order-i131-rair", "indicator": "warning", "summaryIncludes": ["JS-i"],
    "actions": [["delete", "ServiceRequest/rai-sr-1"]]}], {}),
 ("i131-not-established", "not-established-no-post-therapy-scan", "order-sign", "I-131 while status not established: missing data listed", "1",
  lambda p: [i131("i131-3", p, 100)], None,
  [{"kind": "order-i131-not-established", "indicator": "info", "summaryIncludes": ["not established"],
    "detailIncludes": ["establish it"]}], {}),
 ("i131-not-established-at-600", "exactly-600-mci-not-met", "order-sign", "I-131 100 mCi after exactly 600 mCi, status not established", "1",
  lambda p: [i131("i131-4", p, 100)], None,
  [{"kind": "order-i131-not-established", "indicator": "warning", "summaryIncludes": ["22.2 GBq"]}], {}),
 ("i131-first-therapy", "no-prior-therapeutic-rai", "order-sign", "First therapeutic I-131 (RAI_EVALUATION): no card", "1",
  lambda p: [i131("i131-5", p, 100)], None, [], {}),
 ("i131-diagnostic-dose", "js-ii-post-therapy-no-uptake", "order-sign", "Diagnostic 2 mCi I-131 for RAIR disease: no card", "1",
  lambda p: [i131("i131-6", p, 2)], None, [], {}),
 ("driver-untested-larotrectinib", "symptomatic-untested", "order-sign", "Larotrectinib without NTRK testing: warning + testing order", "2",
  lambda p: [drug("laro-1", p, code="2105628")], None,
  [{"kind": "order-driver-missing", "indicator": "warning", "summaryIncludes": ["NTRK1/2/3 fusion"],
    "actions": [["delete", "MedicationRequest/laro-1"], ["create", "ServiceRequest"]]}], {}),
 ("driver-tested-selpercatinib", "js-iv-progression-despite-uptake", "order-sign", "Selpercatinib after complete testing found no RET fusion", "2",
  lambda p: [drug("selp-1", p, text="Retevmo 80 MG Oral Capsule")], None,
  [{"kind": "order-driver-missing", "indicator": "warning", "summaryIncludes": ["RET fusion"],
    "actions": [["delete", "MedicationRequest/selp-1"]]}], {}),
 ("not-eligible-cabozantinib", "js-iv-progression-despite-uptake", "order-sign", "Cabozantinib first line: not eligible (no prior VEGFR TKI)", "3",
  lambda p: [drug("cabo-1", p, text="Cabometyx 60 MG Oral Tablet")], None,
  [{"kind": "order-not-eligible", "indicator": "warning", "summaryIncludes": ["Cabozantinib"],
    "actions": [["delete", "MedicationRequest/cabo-1"]]}], {}),
 ("not-eligible-vemurafenib", "braf-v600e-first-line", "order-sign", "Vemurafenib for BRAF V600E DTC: off-label, not eligible", "3",
  lambda p: [drug("vem-1", p, text="Zelboraf 240 MG Oral Tablet")], None,
  [{"kind": "order-not-eligible", "indicator": "warning", "summaryIncludes": ["Vemurafenib"],
    "detailIncludes": ["off-label"], "actions": [["delete", "MedicationRequest/vem-1"]]}], {}),
 ("blocking-hemorrhage-cabozantinib", "hemoptysis-cabozantinib", "order-sign", "Cabozantinib with recent hemoptysis", "4",
  lambda p: [drug("cabo-2", p, code="1363268")], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-BLEED"],
    "actions": [["delete", "MedicationRequest/cabo-2"]]}], {}),
 ("blocking-bp-selpercatinib", "ret-fusion-uncontrolled-bp", "order-sign", "Selpercatinib with uncontrolled blood pressure", "4",
  lambda p: [drug("selp-2", p, code="2370147")], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-HTN"]}], {}),
 # issue 9 (§A4.11 rules 1 and 5): pralsetinib's label block; sorafenib held pending MDT
 ("blocking-bp-pralsetinib", "ret-fusion-uncontrolled-bp", "order-sign", "Pralsetinib with uncontrolled blood pressure", "4",
  lambda p: [drug("pral-1", p, code="2394936")], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-HTN"]}], {}),
 ("blocking-hemorrhage-sorafenib", "hemoptysis-cabozantinib", "order-sign", "Sorafenib with recent hemoptysis", "4",
  lambda p: [drug("sora-1", p, code="495881")], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-BLEED"],
    "actions": [["delete", "MedicationRequest/sora-1"]]}], {}),
 ("blocking-pregnancy", "pregnant-systemic-indicated", "order-sign", "Lenvatinib and I-131 in pregnancy", "4",
  lambda p: [drug("lenv-1", p, code="1603296"), i131("i131-7", p, 100)], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-PREG"]},
   {"kind": "order-i131-blocking", "indicator": "critical", "summaryIncludes": ["W-PREG"],
    "detailIncludes": ["Rec 59B"], "actions": [["delete", "MedicationRequest/i131-7"], ["create", "ServiceRequest"]]}], {}),
 ("blocking-ret-point-mutation", "ret-point-mutation", "order-sign", "Selpercatinib for a RET point mutation", "4",
  lambda p: [drug("selp-3", p, code="2370147")], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-RET-POINT"],
    "detailIncludes": ["No RET fusion is documented"]}], {}),
 ("blocking-child-lenvatinib", "child-ret-fusion", "order-sign", "Lenvatinib for a child (adults only)", "4",
  lambda p: [drug("lenv-2", p, text="Lenvima 4 MG Oral Capsule")], None,
  [{"kind": "order-blocking", "indicator": "critical", "summaryIncludes": ["W-PEDS-AGE"]}], {}),
 ("preferred-selpercatinib", "ret-fusion-first-line", "order-sign", "Selpercatinib for a RET fusion: info only", "5",
  lambda p: [drug("selp-4", p, code="2370147")], None,
  [{"kind": "order-preferred", "indicator": "info"}], {}),
 ("preferred-selpercatinib-quiet", "ret-fusion-first-line", "order-sign", "Same, ORDER_INFO_CARDS false: no card", "5",
  lambda p: [drug("selp-4", p, code="2370147")], None, [], {"ORDER_INFO_CARDS": False}),
 ("select-only-selections", "js-iv-progression-despite-uptake", "order-select", "order-select reads only the selected cabozantinib", "3",
  lambda p: [drug("cabo-3", p, text="cabozantinib 60 mg tablet"), drug("lenv-3", p, code="1603296"), diet(p)],
  ["MedicationRequest/cabo-3"],
  [{"kind": "order-not-eligible", "indicator": "warning"}], {}),
 ("unrelated-orders", "js-ii-post-therapy-no-uptake", "order-sign", "Diet and antibiotic orders: no card", "-",
  lambda p: [diet(p), drug("amox-1", p, code="617993", text="Amoxicillin 500 MG Oral Capsule")], None, [], {}),
 # rule 4b (issue 4 QA): a systemic drug the assessment does not support (no therapy option listed)
 ("not-indicated-lenvatinib-monitor", "js-i-diagnostic-scan-no-uptake", "order-sign", "Lenvatinib for stable RAIR disease (MONITOR, D1)", "4b",
  lambda p: [drug("lenv-4", p, code="1603296")], None,
  [{"kind": "order-not-indicated", "indicator": "warning", "summaryIncludes": ["Lenvatinib", "stable"],
    "detailIncludes": ["Rec 60A", "Rule **D1**", "**MONITOR**"], "actions": [["delete", "MedicationRequest/lenv-4"]]}], {}),
 ("not-indicated-sorafenib-not-rair", "not-refractory-avid-stable", "order-sign", "Sorafenib for disease that is not RAI-refractory (NO)", "4b",
  lambda p: [drug("sora-1", p, text="Nexavar 200 MG Oral Tablet")], None,
  [{"kind": "order-not-indicated", "indicator": "warning", "summaryIncludes": ["Sorafenib", "not RAI-refractory"],
    "detailIncludes": ["Rule **B6**", "NEXAVAR"], "actions": [["delete", "MedicationRequest/sora-1"]]}], {}),
 ("not-indicated-lenvatinib-not-established", "not-established-no-post-therapy-scan", "order-sign", "Lenvatinib while RAIR status is not established (A5): missing data listed", "4b",
  lambda p: [drug("lenv-5", p, code="1603296")], None,
  [{"kind": "order-not-indicated", "indicator": "warning", "summaryIncludes": ["not established"],
    "detailIncludes": ["Rule **A5**", "post-therapy whole-body scan"], "actions": [["delete", "MedicationRequest/lenv-5"]]}], {}),
 ("not-indicated-cabozantinib-pd-not-recent", "pd-not-recent", "order-sign", "Cabozantinib when the last progression is >14 months old (C3)", "4b",
  lambda p: [drug("cabo-4", p, code="1363268")], None,
  [{"kind": "order-not-indicated", "indicator": "warning", "summaryIncludes": ["14 months"],
    "detailIncludes": ["Rule **C3**", "UPDATE_IMAGING"], "actions": [["delete", "MedicationRequest/cabo-4"]]}], {}),
 ("continuation-lenvatinib", "js-i-diagnostic-scan-no-uptake", "order-sign", "Lenvatinib re-ordered for a patient already on it: no card", "4b",
  lambda p: [drug("lenv-6", p, code="1603296")], None, [], {}),
]

# prefetch edits per scenario (the base patient-view sample is not changed)
EDITS = {
 "continuation-lenvatinib": lambda p: add_statement(on_drug("rair-01-med-9", p, "1603296", "lenvatinib", "2025-10-01")),
}
# suppressed cards expected in the response extension
SUPPRESSED = {
 "continuation-lenvatinib": [{"order": "MedicationRequest/lenv-6", "kind": "order-not-indicated"}],
}

index = {"evaluationDate": "2026-11-27", "scenarios": []}
for name, base, hook, title, rule, drafts, sel, cards, config in S:
    pv = json.loads((ROOT / f"patient-view.{base}.json").read_text())
    pid = pv["context"]["patientId"]
    if name in EDITS: EDITS[name](pid)(pv["prefetch"])
    context = {"userId": "Practitioner/example", "patientId": pid, "encounterId": f"enc-{pid}"}
    if sel: context["selections"] = sel
    context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                              "entry": [{"resource": r} for r in drafts(pid)]}
    req = {"hook": hook, "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"rair-cds/orders/{name}")),
           "context": context, "prefetch": pv["prefetch"]}
    fname = f"{hook}.{name}.json"
    (OUT / fname).write_text(json.dumps(req, indent=2, ensure_ascii=False) + "\n")
    expected = {"scenario": name, "status": 200, "cards": cards}
    if name in SUPPRESSED: expected["suppressed"] = SUPPRESSED[name]
    (OUT / "expected" / f"{name}.json").write_text(json.dumps(
        expected, indent=2, ensure_ascii=False) + "\n")
    entry = {"name": name, "title": title, "rule": rule, "patientSample": base, "patientId": pid,
             "request": fname, "expected": f"expected/{name}.json"}
    if config: entry["config"] = config
    index["scenarios"].append(entry)

# pre-R4 order types: refused with 400
pv = json.loads((ROOT / "patient-view.js-ii-post-therapy-no-uptake.json").read_text())
pid = pv["context"]["patientId"]
old = {"resourceType": "ProcedureRequest", "id": "rai-old-1", "status": "draft", "intent": "order",
       "code": {"text": "Radioiodine (I-131) therapy"}, "subject": {"reference": f"Patient/{pid}"}}
req = {"hook": "order-sign", "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, "rair-cds/orders/stu3")),
       "context": {"userId": "Practitioner/example", "patientId": pid,
                   "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": old}]}},
       "prefetch": pv["prefetch"]}
(OUT / "order-sign.stu3-procedure-request.json").write_text(json.dumps(req, indent=2) + "\n")
(OUT / "expected" / "stu3-procedure-request.json").write_text(json.dumps(
    {"scenario": "stu3-procedure-request", "status": 400, "mentions": "ProcedureRequest/rai-old-1"}, indent=2) + "\n")
index["scenarios"].append({"name": "stu3-procedure-request", "title": "STU3 ProcedureRequest in draftOrders: 400",
    "rule": "-", "patientSample": "js-ii-post-therapy-no-uptake", "patientId": pid,
    "request": "order-sign.stu3-procedure-request.json", "expected": "expected/stu3-procedure-request.json"})
(OUT / "index.json").write_text(json.dumps(index, indent=2) + "\n")
print(len(index["scenarios"]))
