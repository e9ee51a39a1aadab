"""Run the thyroid rules on one patient and build the §A1 assessment.

The rules assert *candidate* facts; this module resolves them generically (no clinical
``if``). Precedence is data: each candidate names a tier of ``rules/thyroid/precedence.yaml``
and :meth:`~plugin.thyroid.knowledge.precedence.Precedence.best_per_key` keeps, per key (one
status, one action, one placement per drug, one preferred set), the candidates of the best tier
(DECISIONS §D4.17). ``if_status`` drops a candidate unless the resolved status matches,
``blocking_if_status`` makes a warning blocking only then. Three steps stay type-specific because
the contract defines them beyond "best per key" (DECISIONS §D4.17): warnings are grouped one
entry per code per blocking state (§D4.2, §D4.11), a trial pointer sits beside a placement
rather than competing with it, and ``preferred`` first drops blocked or not-tolerated drugs and
the action overrides apply after the action (§D4.11, §D4.12). Evidence lines (``ev*``) and FHIR
references (``ref*``) of derived facts are collected per rule ID for the cards.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

from plugin.engine import RuleEngine
from plugin.thyroid.assessment.model import (
    CRITERIA,
    Assessment,
    Driver,
    TherapyOption,
    Warning,
)
from plugin.thyroid.clinical_model import PatientRecord
from plugin.thyroid.facts.builder import Thresholds, to_facts
from plugin.thyroid.facts.derivation import Derivation
from plugin.thyroid.knowledge.loader import Knowledge, load_knowledge
from plugin.thyroid.knowledge.precedence import Precedence

__all__ = ["assess", "base_id", "build_assessment"]

_LISTS = ("onLabel", "guidelineSupportedOffLabel", "trialOnly", "notEligible")
_PROPOSED = frozenset({"onLabel", "guidelineSupportedOffLabel"})
# Chaining facts (rules/README.md "internal"): the conclusions downstream rest on them.
_INTERNAL = frozenset({"framework", "gate", "rair_yes", "systemic_indicated", "note"})
_ID_RE = re.compile(r"^([A-H])(\d+)([a-z]*)")


def base_id(rule_id: str) -> str:
    """``"F1:sorafenib"`` -> ``"F1"``: several YAML rules share one DOMAIN rule ID."""
    return rule_id.split(":", 1)[0]


def _id_key(rule_id: str) -> tuple:
    m = _ID_RE.match(rule_id)
    return (m.group(1), int(m.group(2)), m.group(3), rule_id) if m else ("Z", 0, "", rule_id)


def _as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [str(value)] if value else []


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def assess(
    record: PatientRecord,
    as_of: dt.date,
    *,
    knowledge: Knowledge | None = None,
    engine: RuleEngine | None = None,
    thresholds: Thresholds | None = None,
    region: str = "US",
    derivation: Derivation | None = None,
) -> Assessment:
    """Assess ``record`` as of ``as_of`` (§A2) with the thyroid rules.

    :param knowledge: the loaded knowledge; defaults to the default folder's
        (:func:`plugin.thyroid.knowledge.loader.load_knowledge`).
    :param engine: another engine than the knowledge's (tests).
    :param thresholds: DESIGN thresholds; defaults to the knowledge's.
    :param region: ``"US"`` (labels of §3), ``"EU"`` or ``"CA"`` (adds W-LABEL-REGION, H5).
    :param derivation: the record's derivation as of ``as_of`` when the caller already has it.
    :raises plugin.engine.RuleEngineError: if the rules fail.
    """
    k = knowledge or load_knowledge()
    th = thresholds or k.thresholds
    facts = to_facts(record, as_of, th, region=region, therapies=k.therapies,
                     derivation=derivation)
    result = (engine or k.engine).evaluate(facts)
    missing = [f["what"] for f in facts if f["type"] == "missing_input"]
    missing += [n.missing for n in record.data_quality if n.missing]
    return build_assessment(as_of, result.derived, result.fired, missing, k.version_for(th),
                            knowledge=k)


def _best_one(precedence: Precedence, fact_type: str, facts: list[dict]) -> tuple[str, list[dict]]:
    """The one conclusion of a kind keyed per patient: the value of the first candidate of the
    best tier (the kind's ``otherwise`` when there is none) and the candidates that gave it."""
    kind = precedence[fact_type]
    winners = precedence.best_per_key(fact_type, facts).get((), [])
    if not winners:
        return str(kind.otherwise), []
    value = winners[0][kind.field]
    return value, [f for f in winners if f[kind.field] == value]


def build_assessment(
    as_of: dt.date,
    derived: list[dict],
    fired: list[str],
    missing_inputs: list[str],
    version: str,
    knowledge: Knowledge | None = None,
) -> Assessment:
    """Resolve the rules' candidate facts into one :class:`Assessment` (generic).

    :param knowledge: gives the tiers (``precedence``) and the drug order of ``therapies.yaml``;
        defaults to the default knowledge folder's.
    """
    k = knowledge or load_knowledge()
    precedence = k.precedence
    by_type: dict[str, list[dict]] = {}
    for fact in derived:
        by_type.setdefault(fact["type"], []).append(fact)

    # rulesFired lists the rules whose conclusions reached the assessment: a derived fact that
    # survives resolution marks its rule as contributing (a candidate that lost on precedence
    # does not); a rule that fired without asserting anything (``record: true``) is itself the
    # conclusion; internal chaining facts always contribute.
    status, kept = _best_one(precedence, "status", by_type.get("status", []))

    def applies(fact: dict) -> bool:
        return fact.get("if_status", status) == status

    out = Assessment(evaluation_date=as_of, rair_status=status, knowledge_version=version)
    if status == "YES":  # §A1: rairCriteria is empty unless YES
        names = {f["name"] for f in by_type.get("criterion", [])}
        out.rair_criteria = [c for c in CRITERIA if c in names]
        kept += by_type.get("criterion", [])
    progression = by_type.get("progression_status", [])
    out.progression = progression[0]["value"] if progression else "UNKNOWN"
    kept += progression[:1]
    testing = [f for f in by_type.get("suggest_testing", []) if applies(f)]
    out.suggest_molecular_testing = bool(testing)
    kept += testing

    seen_drivers = set()
    for f in by_type.get("driver", []):
        drv = Driver(f["gene"], f["alteration"], f["kind"], f.get("partner") or None)
        if drv not in seen_drivers:
            seen_drivers.add(drv)
            out.drivers.append(drv)
        kept.append(f)

    # Therapies: per drug, the placement of the best tier wins (the first in rule order gives
    # its reason). A trial ``pointer`` (F9) does not compete: see _therapy_lists.
    therapies = [f for f in by_type.get("therapy", []) if applies(f)]
    pointers = [f for f in therapies if f.get("pointer")]
    placements = precedence.best_per_key("therapy", [f for f in therapies if not f.get("pointer")])
    placement = {drug: won[0] for (drug,), won in placements.items()}
    for won in placements.values():
        kept += won
    proposed = {d for d, f in placement.items() if f["list"] in _PROPOSED}
    # Warnings: type-specific by contract (DECISIONS §D4.2, §D4.11, §D4.17): not "best per key"
    # but one entry per (code, blocking) with the drugs merged; a drug blocked by a code leaves
    # its non-blocking entry.
    groups: dict[tuple[str, bool], dict] = {}
    for f in by_type.get("warning", []):
        if not applies(f):
            continue
        fact_drug = f.get("drug")
        if f.get("when_proposed") and fact_drug not in proposed:
            continue
        blocking = bool(f.get("blocking")) or f.get("blocking_if_status") == status
        group = groups.setdefault(
            (f["code"], blocking), {"drugs": [], "patient": False, "rule": f["rule"]}
        )
        group.setdefault("facts", []).append(f)
        group["fixable"] = group.get("fixable", True) and bool(f.get("fixable"))
        group["all_drugs"] = group.get("all_drugs", False) or bool(f.get("all_drugs"))
        if fact_drug:
            group["drugs"].append(fact_drug)
        else:
            group["patient"] = True
    for (_code, blocking), group in groups.items():
        # §A4.11: "a drug is blocked when it is in the drugs of a blocking warning", so a
        # patient-level block (W-RET-POINT, invasion, W-PREG) names every proposed drug
        if blocking and group["all_drugs"]:
            group["drugs"] = sorted(set(group["drugs"]) | proposed)
    for (code, blocking), group in groups.items():
        if not blocking and (code, True) in groups:
            blocked = set(groups[(code, True)]["drugs"])
            group["drugs"] = [d for d in group["drugs"] if d not in blocked]
            group["facts"] = [f for f in group["facts"] if f.get("drug") not in blocked]
            if not group["drugs"] and not group["patient"]:
                continue
        kept += group["facts"]
        rule = group["facts"][0]["rule"] if group["facts"] else group["rule"]
        out.warnings.append(
            Warning(code, blocking, tuple(sorted(set(group["drugs"]))), rule=base_id(rule),
                    fixable=blocking and group["fixable"], all_drugs=group["all_drugs"])
        )
    out.warnings.sort(key=lambda w: (w.code, not w.blocking))

    kept += _therapy_lists(out, by_type, placement, pointers, proposed, applies, k)
    kept += _resolve_action(out, by_type, applies, precedence)

    missing = [f for f in by_type.get("missing", [])
               if applies(f) and f.get("if_action", out.action) == out.action]
    kept += missing
    out.missing_data = _dedupe([f["what"] for f in missing] + list(missing_inputs))
    asserted = {f.get("rule") for f in derived}
    kept += [f for f in derived if f["type"] in _INTERNAL]
    contributing = {f.get("rule") for f in kept} | {r for r in fired if r not in asserted}
    out.rules_fired = sorted(_dedupe(base_id(r) for r in fired if r in contributing), key=_id_key)

    for f in derived:
        if f.get("rule") not in contributing:
            continue  # evidence of a candidate that lost is not shown
        rid = base_id(f.get("rule", ""))
        lines = [v for k, v in sorted(f.items()) if k.startswith("ev") and isinstance(v, str)]
        refs = [r for k, v in sorted(f.items()) if k.startswith("ref") for r in _as_list(v)]
        if lines:
            out.evidence[rid] = _dedupe([*out.evidence.get(rid, []), *lines])
        if refs:
            out.sources[rid] = _dedupe([*out.sources.get(rid, []), *refs])
    return out


def _therapy_lists(
    out: Assessment,
    by_type: dict[str, list[dict]],
    placement: dict[str, dict],
    pointers: list[dict],
    proposed: set[str],
    applies: Callable[[dict], bool],
    knowledge: Knowledge,
) -> list[dict]:
    """Fill the four therapy lists; return the facts that contributed.

    ``preferred`` (DECISIONS §D4.11-§D4.12, type-specific by contract): among the proposed drugs
    with a ``preferred`` fact, drop those under a non-fixable block (``Warning.holds``) or with an
    ``option_note`` marked ``not_preferred`` (stopped for intolerance); the best remaining tier
    (``first_choice``, then ``next_choice``) is preferred, so the next option takes over. A
    fixable block (W-HTN) never moves ``preferred``. An ``option_note`` adds its ``reason`` to a
    proposed option (e.g. "stopped for intolerance on ...").

    A trial pointer (``pointer: true``, F9; DECISIONS §D4.17) is listed in its own list when the
    drug has no placement or one of the tiers in ``pointer_beside`` (a notEligible "indication
    not met"), and dropped when the drug is placed otherwise (proposed or hard-excluded).
    """
    kept: list[dict] = []
    notes = [f for f in by_type.get("option_note", []) if applies(f) and f["drug"] in proposed]
    never = {f["drug"] for f in notes if f.get("not_preferred")}
    candidates = [
        f for f in by_type.get("preferred", [])
        if applies(f) and f["drug"] in proposed and f["drug"] not in never
        and not out.held(f["drug"])
    ]
    chosen = knowledge.precedence.best_per_key("preferred", candidates).get((), [])
    preferred = {f["drug"] for f in chosen}
    kept += chosen + notes
    reasons: dict[str, list[str]] = {}
    for f in notes:
        reasons.setdefault(f["drug"], []).append(f["reason"])
    lists: dict[str, list[TherapyOption]] = {name: [] for name in _LISTS}
    beside = knowledge.precedence["therapy"].pointer_beside
    for f in pointers:
        won = placement.get(f["drug"])
        if won is None or won["tier"] in beside:
            if all(o.drug != f["drug"] for o in lists[f["list"]]):
                lists[f["list"]].append(
                    TherapyOption(drug=f["drug"], trial=f.get("trial"), rule=base_id(f["rule"]))
                )
            kept.append(f)
    for drug, f in placement.items():
        # a notEligible reason; on a listed drug, its placement's caveat (G4 "limited expected
        # activity", §A4.14) and any option notes (§A4.12)
        reason = f.get("reason") if f["list"] == "notEligible" else "; ".join(
            _dedupe(([f["reason"]] if f.get("reason") else []) + reasons.get(drug, []))) or None
        lists[f["list"]].append(
            TherapyOption(
                drug=drug,
                preferred=drug in preferred and f["list"] in _PROPOSED,
                reason=reason,
                trial=f.get("trial"),
                rule=base_id(f["rule"]),
            )
        )
    # preferred first; then the order of therapies.yaml (DECISIONS §K2.6/§K3: e.g. selpercatinib
    # before pralsetinib, lenvatinib before sorafenib); unknown drugs last, by name
    order = {drug: i for i, drug in enumerate(knowledge.therapies["drugs"])}
    for options in lists.values():
        options.sort(key=lambda o: (not o.preferred, order.get(o.drug, len(order)), o.drug))
    out.on_label = lists["onLabel"]
    out.guideline_supported_off_label = lists["guidelineSupportedOffLabel"]
    out.trial_only = lists["trialOnly"]
    out.not_eligible = lists["notEligible"]
    return kept


def _resolve_action(
    out: Assessment, by_type: dict[str, list[dict]], applies: Callable[[dict], bool],
    precedence: Precedence,
) -> list[dict]:
    """The DECISIONS §D4.1 action (the best tier: its steps 1-9 are the tiers), then the
    §D4.11 overrides, type-specific by contract because they read the resolved therapy lists:
    an ``action_override`` replaces the winning action when it is one of its ``replaces`` and,
    with ``if_all_blocked``, only when every onLabel drug is under a non-fixable block; with
    ``if_no_option``, only when no drug is onLabel or guidelineSupportedOffLabel."""
    out.action, kept = _best_one(
        precedence, "action", [f for f in by_type.get("action", []) if applies(f)])
    for f in by_type.get("action_override", []):
        if not applies(f) or out.action not in f["replaces"]:
            continue
        if f.get("if_all_blocked") and not out.every_option_held():
            continue
        if f.get("if_no_option") and (out.on_label or out.guideline_supported_off_label):
            continue
        out.action = f["value"]
        kept = [f]
    return kept
