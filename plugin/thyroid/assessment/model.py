"""The assessment: the machine-readable conclusion for one patient (DECISIONS §D1).

``to_json()`` gives exactly the §A1 object (camelCase keys, exact vocabulary). ``evidence``
is not part of §A1: it carries, per rule ID, the human-readable evidence lines and the FHIR
references behind the conclusion, for the cards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

RAIR_STATUSES = ("YES", "NO", "NOT_ESTABLISHED", "NOT_APPLICABLE")
CRITERIA = ("JS-i", "JS-ii", "JS-iii", "JS-iv", "JS-v")
PROGRESSIONS = ("RECENT_PD", "PD_NOT_RECENT", "NO_PD", "UNKNOWN")
ACTIONS = (
    "MONITOR",
    "ORDER_MOLECULAR_TESTING",
    "SYSTEMIC_FIRST_LINE",
    "SYSTEMIC_LATER_LINE",
    "LOCAL_THERAPY_FIRST",
    "MDT_REVIEW_REQUIRED",
    "COMPLETE_DATA",
    "UPDATE_IMAGING",
    "RAI_EVALUATION",
)


@dataclass(frozen=True)
class Driver:
    """An actionable or reportable alteration found (§A1 ``drivers[]``)."""

    gene: str
    alteration: str
    kind: str
    partner: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gene": self.gene, "alteration": self.alteration, "kind": self.kind}
        if self.partner:
            out["partner"] = self.partner
        return out


@dataclass(frozen=True)
class TherapyOption:
    """One entry of a therapy list. ``reason`` is used for ``notEligible``; ``trial`` for
    ``trialOnly``. ``rule`` names the rule that placed it (e.g. ``"F2"``)."""

    drug: str
    preferred: bool = False
    reason: str | None = None
    trial: str | None = None
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"drug": self.drug}
        if self.preferred:
            out["preferred"] = True
        if self.trial:
            out["trial"] = self.trial
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Warning:
    """A W-code (DECISIONS §K2.9). ``drugs`` lists the drugs it applies to or blocks."""

    code: str
    blocking: bool
    drugs: tuple[str, ...] = ()
    message: str | None = None
    rule: str | None = None
    # §A4.11 (not in §A1): a fixable block (W-HTN) leaves ``preferred`` and the action alone;
    # ``all_drugs`` marks a patient-level block that holds every systemic drug (W-PREG,
    # W-RET-POINT), whether or not ``drugs`` lists them.
    fixable: bool = False
    all_drugs: bool = False

    def holds(self, drug: str) -> bool:
        """True when this is a non-fixable block on ``drug`` (§A4.11 rule 2)."""
        return self.blocking and not self.fixable and (self.all_drugs or drug in self.drugs)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "blocking": self.blocking}
        if self.drugs:
            out["drugs"] = list(self.drugs)
        return out


@dataclass
class Assessment:
    """One patient's assessment, as of ``evaluation_date``."""

    evaluation_date: dt.date
    rair_status: str = "NOT_ESTABLISHED"
    rair_criteria: list[str] = field(default_factory=list)
    progression: str = "UNKNOWN"
    action: str = "COMPLETE_DATA"
    suggest_molecular_testing: bool = False
    drivers: list[Driver] = field(default_factory=list)
    on_label: list[TherapyOption] = field(default_factory=list)
    guideline_supported_off_label: list[TherapyOption] = field(default_factory=list)
    trial_only: list[TherapyOption] = field(default_factory=list)
    not_eligible: list[TherapyOption] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    missing_data: list[str] = field(default_factory=list)
    rules_fired: list[str] = field(default_factory=list)
    knowledge_version: str = ""
    # not in §A1: evidence lines per rule ID, e.g. {"B2": ["Post-therapy scan 2025-03-01 ..."]}
    evidence: dict[str, list[str]] = field(default_factory=dict)
    # not in §A1: FHIR references per rule ID, e.g. {"B2": ["Observation/scan-1"]}
    sources: dict[str, list[str]] = field(default_factory=dict)

    def held(self, drug: str) -> list[Warning]:
        """The non-fixable blocks on ``drug`` (§A4.11 rule 2: never ``preferred``)."""
        return [w for w in self.warnings if w.holds(drug)]

    def fixable_blocks(self, drug: str) -> list[Warning]:
        """The fixable blocks on ``drug`` (§A4.11 rule 1: fix first, ``preferred`` stays)."""
        return [w for w in self.warnings if w.blocking and w.fixable and drug in w.drugs]

    def every_option_held(self) -> bool:
        """§A4.11 rule 3: every ``onLabel`` drug is under a non-fixable block."""
        return bool(self.on_label) and all(self.held(o.drug) for o in self.on_label)

    def to_json(self) -> dict[str, Any]:
        """The §A1 ``assessment`` object, exact keys and vocabulary."""
        return {
            "evaluationDate": self.evaluation_date.isoformat(),
            "rairStatus": self.rair_status,
            "rairCriteria": list(self.rair_criteria),
            "progression": self.progression,
            "action": self.action,
            "suggestMolecularTesting": self.suggest_molecular_testing,
            "drivers": [d.to_json() for d in self.drivers],
            "therapies": {
                "onLabel": [t.to_json() for t in self.on_label],
                "guidelineSupportedOffLabel": [
                    t.to_json() for t in self.guideline_supported_off_label
                ],
                "trialOnly": [t.to_json() for t in self.trial_only],
                "notEligible": [t.to_json() for t in self.not_eligible],
            },
            "warnings": [w.to_json() for w in self.warnings],
            "missingData": list(self.missing_data),
            "rulesFired": list(self.rules_fired),
            "knowledgeVersion": self.knowledge_version,
        }
