"""Hand-built records and assessments for the card-rendering tests (tests/test_thyroid_cards*.py),
and the invariants every rendered card keeps."""

from __future__ import annotations

import datetime as dt
import re

from cds_hooks.cards import CdsResponse
from plugin.thyroid.assessment.model import Assessment, Driver, TherapyOption, Warning
from plugin.thyroid.cards.render import load_templates
from plugin.thyroid.clinical_model import (
    CancerDiagnosis,
    Histology,
    LesionSum,
    PatientRecord,
    RadioiodineAdministration,
    RadioiodineScan,
    RaiIntent,
    ScanKind,
    Uptake,
)

AS_OF = dt.date(2026, 11, 27)
RULE_ID = re.compile(r"\b(A[1-6]b?|B[1-9]b?|C[1-4][abc]?|D[1-5]|E[1-6]b?|F[1-9]|G[1-5]|H[1-5])\b")


def record(histology=Histology.PTC, **extra):
    rec = PatientRecord(
        patient_source="Patient/p1",
        birth_date=dt.date(1962, 4, 18),
        diagnoses=[CancerDiagnosis("Condition/c1", histology)],
        rai_administrations=[
            RadioiodineAdministration("MedicationAdministration/r1", dt.date(2024, 3, 1), 5550,
                                      RaiIntent.THERAPEUTIC, True)
        ],
        scans=[RadioiodineScan("Observation/s1", dt.date(2024, 3, 8), ScanKind.POST_THERAPY,
                               Uptake.NO_LESIONS, 85.0)],
        lesion_sums=[LesionSum("Observation/l1", dt.date(2025, 1, 15), 30.0),
                     LesionSum("Observation/l2", dt.date(2026, 6, 10), 38.0)],
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def yes(**overrides):
    a = Assessment(
        evaluation_date=AS_OF,
        rair_status="YES",
        rair_criteria=["JS-ii"],
        progression="RECENT_PD",
        action="SYSTEMIC_FIRST_LINE",
        drivers=[Driver("BRAF", "V600E", "snv")],
        on_label=[TherapyOption("sorafenib", rule="F5"),
                  TherapyOption("lenvatinib", preferred=True, rule="F5")],
        trial_only=[TherapyOption("dabrafenib+trametinib", trial="NCT03244956", rule="F9")],
        not_eligible=[TherapyOption("cabozantinib", reason="no prior VEGFR-targeted therapy",
                                    rule="G1")],
        warnings=[Warning("W-HTN", False, ("lenvatinib",), rule="F1")],
        rules_fired=["B2", "C1", "C2", "F5"],
        knowledge_version="test",
        evidence={"B2": ["Post-therapy scan 2024-03-08: no uptake (TSH 85 mIU/L)"],
                  "C1": ["Sum 30 mm -> 38 mm (+27 %, +8 mm) on 2026-06-10"]},
        sources={"B2": ["Observation/s1"]},
    )
    for key, value in overrides.items():
        setattr(a, key, value)
    return a


def by_kind(rendered):
    return {rc.kind: rc.card for rc in rendered}


def check_invariants(rendered, assessment):
    templates = load_templates()
    disclaimer = templates["disclaimer"].split(":")[0]
    for rc in rendered:
        card = rc.card
        assert len(card.summary) < 140, card.summary
        assert card.source.label.strip()
        cited = RULE_ID.search(card.detail or "") or "UNKNOWN-CODE" in rc.kind
        assert card.detail and cited, (rc.kind, card.detail)
        assert disclaimer in card.detail
        if card.indicator in ("warning", "critical"):
            assert card.overrideReasons, rc.kind
    body = CdsResponse(cards=[rc.card for rc in rendered],
                       extension={"rair-cds": {"assessment": assessment.to_json()}}).to_json()
    assert len(body["cards"]) == len(rendered)
