"""Cards for draft orders: what the order hooks say about one order, given the assessment.

The rules (issue 4; DOMAIN.md §A4.2, §A4.10, §2.9, §5), at most one drug card per drug in an order:

1. **I-131 for a refractory patient** (``i131-rair``): warning (critical if configured) citing the
   criteria and ATA 2025 Rec 59B, with a *delete* suggestion and a systemic-therapy referral. When
   the status is ``NOT_ESTABLISHED`` the card (``i131-not-established``, info) lists the data that
   would establish it; for other statuses only a cumulative activity past 22.2 GBq is said
   (``i131-cumulative``, info). A diagnostic-activity I-131 order gets no rule-1 card.
2. **Targeted drug without its driver** (``driver-missing``, warning), with a testing order when
   the driver was never tested by a capable assay.
3. **Drug listed as not eligible** (``not-eligible``, warning) with the assessment's reason.
4. **Blocking warning for the ordered drug** (``blocking``, critical): a blocking warning whose
   drugs include it, or a patient-level block (§A4.2). It absorbs rules 2 and 3 for that drug, so
   the clinician reads one card per drug.
5. **Preferred option** (``preferred``, info) only when ``info_cards`` is on and no other card
   fired.

Card text is data (``rules/thyroid/order_cards.yaml``); this module picks and fills it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml

from cds_hooks.cards import SUMMARY_MAX, Action, Card, Link, OverrideReason, Source, Suggestion
from plugin.thyroid.assessment import Assessment, TherapyOption, Warning
from plugin.thyroid.clinical_model import PatientRecord, RaiIntent

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "rules" / "thyroid" / "order_cards.yaml"

# card kinds (HookResult.card_kinds values; also the alert-cache signature)
I131_RAIR = "order-i131-rair"
I131_NOT_ESTABLISHED = "order-i131-not-established"
I131_CUMULATIVE = "order-i131-cumulative"
I131_BLOCKING = "order-i131-blocking"
DRIVER_MISSING = "order-driver-missing"
NOT_ELIGIBLE = "order-not-eligible"
BLOCKING = "order-blocking"
PREFERRED = "order-preferred"

_CRITERION_RULE = {"JS-i": "B1", "JS-ii": "B2", "JS-iii": "B3", "JS-iv": "B4", "JS-v": "B5"}


@dataclass(frozen=True)
class DraftOrder:
    """What the card builders need to know about one draft order.

    ``ref`` is the draft's relative reference (``"MedicationRequest/abc"``), used as the delete
    action's ``resourceId`` (§A4.10). ``drugs`` are lower-case INN names, a combination joined
    with ``+`` (``"dabrafenib+trametinib"``). ``activity_mbq`` is the ordered I-131 activity in
    integer MBq, ``None`` when not readable. ``intent`` is the coded intent (``"therapeutic"`` /
    ``"diagnostic"``) or ``None``.
    """

    ref: str
    resource_type: str
    resource: Mapping[str, Any]
    label: str
    drugs: tuple[str, ...] = ()
    i131: bool = False
    activity_mbq: int | None = None
    intent: str | None = None

    def is_i131_therapy(self, diagnostic_below_mbq: int) -> bool:
        """An I-131 order that is therapy: coded therapeutic, or not coded diagnostic and not a
        diagnostic-range activity (an unknown activity counts as therapy, §A4.10)."""
        if not self.i131 or self.intent == "diagnostic":
            return False
        if self.intent == "therapeutic" or self.activity_mbq is None:
            return True
        return self.activity_mbq >= diagnostic_below_mbq


@dataclass
class OrderCard:
    """One card about one draft order, with its kind (for feedback and the alert cache)."""

    kind: str
    order_ref: str
    card: Card


@dataclass(frozen=True)
class OrderCardSettings:
    """The switches of the order cards (from the service config)."""

    info_cards: bool = True
    i131_critical: bool = False


@dataclass(frozen=True)
class OrderCardText:
    """``order_cards.yaml``, loaded once."""

    data: Mapping[str, Any]
    drug_to_driver: Mapping[str, str] = field(default_factory=dict)

    @property
    def diagnostic_below_mbq(self) -> int:
        return int(self.data["diagnostic_below_mbq"])

    @property
    def threshold_mbq(self) -> int:
        return int(self.data["cumulative_threshold_mbq"])

    def card(self, kind: str) -> Mapping[str, str]:
        return self.data["cards"][kind]


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> OrderCardText:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    drug_to_driver = {
        drug: name for name, spec in data["drivers"].items() for drug in spec["drugs"]
    }
    return OrderCardText(data=data, drug_to_driver=drug_to_driver)


def load_order_text(path: Path | None = None) -> OrderCardText:
    """Load ``rules/thyroid/order_cards.yaml`` (cached per path).

    :raises OSError, yaml.YAMLError, KeyError: when the file is missing or malformed.
    """
    return _load(Path(path or DEFAULT_PATH).resolve())


# -- drug matching ------------------------------------------------------------------------------


def _parts(drug: str) -> set[str]:
    return set(drug.split("+"))


def drug_matches(listed: str, ordered: str) -> bool:
    """True when an assessment entry (``listed``) concerns the ordered drug: same name, or a
    combination sharing an ingredient (``dabrafenib+trametinib`` vs ``trametinib``)."""
    return bool(_parts(listed) & _parts(ordered))


def _title(drug: str) -> str:
    return drug[:1].upper() + drug[1:]


def _find(options: Iterable[TherapyOption], drug: str) -> list[TherapyOption]:
    return [o for o in options if drug_matches(o.drug, drug)]


# -- activity arithmetic (§5, B0.3) ---------------------------------------------------------------


@dataclass(frozen=True)
class Cumulative:
    """Itemized therapeutic activity so far plus the ordered activity, in integer MBq."""

    prior_mbq: int
    prior_count: int
    prior_unknown: int  # therapeutic (or unknown-intent) administrations without an activity
    order_mbq: int | None
    threshold_mbq: int

    @property
    def total_mbq(self) -> int | None:
        return None if self.order_mbq is None else self.prior_mbq + self.order_mbq

    @property
    def exceeds(self) -> bool | None:
        """True when past the threshold (strictly greater); None when it cannot be known.

        Unknown activities only add, so a known lower bound past the threshold is enough.
        """
        lower = self.prior_mbq + (self.order_mbq or 0)
        if lower > self.threshold_mbq:
            return True
        if self.order_mbq is None or self.prior_unknown:
            return None
        return False


def cumulative_activity(record: PatientRecord, order: DraftOrder, threshold_mbq: int) -> Cumulative:
    """The cumulative therapeutic activity if ``order`` is given (§5; diagnostic doses excluded)."""
    prior = [a for a in record.rai_administrations if a.intent != RaiIntent.DIAGNOSTIC]
    known = [a.activity_mbq for a in prior if a.activity_mbq is not None and a.intent ==
             RaiIntent.THERAPEUTIC]
    unknown = sum(1 for a in prior if a.activity_mbq is None)
    return Cumulative(sum(known), len(known), unknown, order.activity_mbq, threshold_mbq)


def _gbq(mbq: int) -> str:
    text = f"{Decimal(mbq) / 1000:.3f}".rstrip("0").rstrip(".")
    return text


def _mci(mbq: int) -> str:
    value = (Decimal(mbq) / 37).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}".removesuffix(".0")


def _activity_text(mbq: int | None) -> str:
    if mbq is None:
        return (
            "ordered activity not readable (dosageInstruction.doseAndRate with UCUM mCi, MBq or"
            " GBq); a unitless number is never guessed"
        )
    return f"ordered activity {mbq:,} MBq ({_gbq(mbq)} GBq, {_mci(mbq)} mCi)"


def _cumulative_text(cum: Cumulative) -> str:
    cap = cum.threshold_mbq
    limit = f"{cap:,} MBq ({_gbq(cap)} GBq, {_mci(cap)} mCi)"
    prior = (
        f"{cum.prior_mbq:,} MBq from {cum.prior_count} itemized therapeutic administration(s)"
    )
    gaps = (
        f" {cum.prior_unknown} earlier administration(s) have no readable activity, so the true"
        " total is higher."
        if cum.prior_unknown
        else ""
    )
    total = cum.total_mbq
    if cum.exceeds:
        if total is None:
            return (
                f"**Cumulative therapeutic activity is already above {limit}** ({prior}); the"
                f" ordered activity is not readable.{gaps}"
            )
        return (
            f"**Cumulative therapeutic activity with this order: {total:,} MBq ({_gbq(total)} GBq,"
            f" {_mci(total)} mCi), above {limit}** (JS-v threshold, strictly greater; §5):"
            f" {prior} + {cum.order_mbq:,} MBq ordered.{gaps}"
        )
    if total is None:
        return (
            f"Cumulative therapeutic activity with this order cannot be computed: {prior} so far;"
            f" the ordered activity is not readable.{gaps}"
        )
    if cum.exceeds is None:
        return f"Cumulative therapeutic activity with this order: at least {total:,} MBq.{gaps}"
    if total == cum.threshold_mbq:
        return (
            f"Cumulative therapeutic activity with this order: exactly {limit}, which is **not**"
            " above the threshold (600 mCi is not >600 mCi; W-THRESHOLD-EQUAL)."
        )
    return (
        f"Cumulative therapeutic activity with this order: {total:,} MBq ({_gbq(total)} GBq), not"
        f" above {limit} ({prior} + {cum.order_mbq:,} MBq ordered)."
    )


# -- card assembly ------------------------------------------------------------------------------


class _Builder:
    """Fills the templates of one order for one assessment."""

    def __init__(
        self,
        order: DraftOrder,
        assessment: Assessment,
        record: PatientRecord,
        patient_id: str,
        text: OrderCardText,
        settings: OrderCardSettings,
    ) -> None:
        self.order = order
        self.assessment = assessment
        self.record = record
        self.patient_id = patient_id
        self.text = text
        self.settings = settings
        self.source = Source(label=text.data["source"]["label"], url=text.data["source"]["url"])

    # ---- shared pieces

    def summary(self, kind: str, template: str = "summary", **values: Any) -> str:
        spec = self.text.card(kind)
        for name in (template, "summary", "summary_short"):
            if name not in spec:
                continue
            filled = spec[name].format(**values)
            if len(filled) <= SUMMARY_MAX:
                return filled
        filled = spec["summary_short"].format(**values)
        return filled[: SUMMARY_MAX - 1].rstrip() + "…"

    def detail(self, kind: str, **values: Any) -> str:
        body = self.text.card(kind)["detail"].format(**values)
        # drop the blank paragraphs left by empty optional pieces
        paragraphs = [p.strip() for p in body.split("\n\n")]
        return "\n\n".join(p for p in paragraphs if p)

    def override_reasons(self, *groups: str) -> list[OverrideReason]:
        system = self.text.data["override_system"]
        reasons = self.text.data["override_reasons"]
        out = []
        for group in ("common", *groups):
            out.extend(
                OverrideReason(system=system, code=r["code"], display=r["display"])
                for r in reasons.get(group, [])
            )
        return out

    def delete_suggestion(self) -> Suggestion:
        spec = self.text.data["suggestions"]["delete"]
        values = {"order_label": self.order.label, "order_ref": self.order.ref}
        label = spec["label"].format(**values)
        return Suggestion(
            label=label if len(label) <= 200 else label[:199] + "…",
            isRecommended=True,
            actions=[
                Action(
                    type="delete",
                    description=spec["description"].format(**values),
                    resourceId=self.order.ref,
                )
            ],
        )

    def _service_request(self, spec: Mapping[str, Any], note: str) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "code": {
                "coding": [{"system": self.text.data["concept_system"], "code": spec["code"],
                            "display": spec["text"]}],
                "text": spec["text"],
            },
            "subject": {"reference": f"Patient/{self.patient_id}"},
            "note": [{"text": note}],
        }
        return resource

    def referral_suggestion(self) -> Suggestion:
        spec = self.text.data["suggestions"]["systemic_evaluation"]
        note = spec["note"].format(
            status=self.assessment.rair_status, criteria=self._criteria() or "no criterion"
        )
        return Suggestion(
            label=spec["label"],
            actions=[
                Action(
                    type="create",
                    description=spec["description"],
                    resource=self._service_request(spec, note),
                )
            ],
        )

    def testing_suggestion(self, driver: str, drug: str) -> Suggestion:
        spec = self.text.data["suggestions"]["molecular_testing"]
        note = spec["note"].format(driver=driver, drug=drug)
        return Suggestion(
            label=spec["label"],
            actions=[
                Action(type="create", description=spec["description"],
                       resource=self._service_request(spec, note))
            ],
        )

    def make(
        self,
        kind: str,
        indicator: str,
        summary: str,
        detail: str,
        *,
        suggestions: list[Suggestion] | None = None,
        reasons: list[OverrideReason] | None = None,
        links: list[Link] | None = None,
    ) -> OrderCard:
        card = Card(
            summary=summary,
            indicator=indicator,
            source=self.source,
            detail=detail,
            suggestions=suggestions or None,
            selectionBehavior="any" if suggestions else None,
            overrideReasons=reasons if indicator != "info" else None,
            links=links or None,
        )
        return OrderCard(kind=kind, order_ref=self.order.ref, card=card)

    def _criteria(self) -> str:
        return ", ".join(self.assessment.rair_criteria)

    # ---- rule 1 (and pregnancy for I-131)

    def i131_cards(self) -> list[OrderCard]:
        order, a = self.order, self.assessment
        if not order.is_i131_therapy(self.text.diagnostic_below_mbq):
            return []
        cards = []
        blocks = [w for w in a.warnings
                  if w.blocking and w.code in self.text.data["i131_block_codes"]]
        if blocks:
            cards.append(self._blocking_card(I131_BLOCKING, "I-131", blocks, extra=[],
                                             testing=None))
        cum = cumulative_activity(self.record, order, self.text.threshold_mbq)
        common = {
            "order_label": order.label,
            "order_ref": order.ref,
            "order_activity_text": _activity_text(order.activity_mbq),
            "cumulative_text": _cumulative_text(cum),
            "total_gbq": _gbq(cum.total_mbq) if cum.total_mbq is not None else "?",
            "criteria": self._criteria() or "criteria not recorded",
            "action": a.action,
        }
        over = "summary_over" if cum.exceeds and cum.total_mbq is not None else "summary"
        if a.rair_status == "YES":
            evidence = [line for c in a.rair_criteria for line in
                        a.evidence.get(_CRITERION_RULE.get(c, ""), [])]
            kind = "i131-rair"
            cards.append(self.make(
                I131_RAIR,
                "critical" if self.settings.i131_critical else "warning",
                self.summary(kind, over, **common),
                self.detail(
                    kind,
                    criteria_text=self._criteria() or "(not listed)",
                    evidence_text=("Evidence: " + "; ".join(evidence) + ".") if evidence else "",
                    **common,
                ),
                suggestions=[self.delete_suggestion(), self.referral_suggestion()],
                reasons=self.override_reasons("i131"),
            ))
        elif a.rair_status == "NOT_ESTABLISHED" and a.action != "RAI_EVALUATION":
            # A2 (no prior therapeutic RAI -> RAI_EVALUATION) is exactly when I-131 is expected.
            kind = "i131-not-established"
            missing = a.missing_data or ["(the assessment lists no specific item)"]
            cards.append(self.make(
                I131_NOT_ESTABLISHED,
                "warning" if cum.exceeds else "info",
                self.summary(kind, over, n_missing=len(a.missing_data), **common),
                self.detail(kind, missing_text="\n".join(f"- {m}" for m in missing), **common),
                reasons=self.override_reasons("i131"),
            ))
        elif cum.exceeds and cum.total_mbq is not None:
            kind = "i131-cumulative"
            cards.append(self.make(
                I131_CUMULATIVE, "info", self.summary(kind, **common), self.detail(kind, **common)
            ))
        return cards

    # ---- rules 2-5 for one drug

    def drug_card(self, drug: str) -> OrderCard | None:
        a = self.assessment
        patient_level = set(self.text.data["patient_level_block_codes"])
        blocks = [
            w for w in a.warnings
            if w.blocking and (
                any(drug_matches(d, drug) for d in w.drugs)
                or (not w.drugs and w.code in patient_level)
            )
        ]
        gap = self._driver_gap(drug)
        not_eligible = _find(a.not_eligible, drug)
        if blocks:
            extra = []
            if gap is not None:
                extra.append(gap["text"])
            extra += [f"Also listed as not eligible: {o.reason or 'no reason given'}."
                      for o in not_eligible]
            return self._blocking_card(BLOCKING, drug, blocks, extra=extra, testing=gap)
        if gap is not None:
            return self._driver_card(drug, gap, not_eligible)
        if not_eligible:
            return self._not_eligible_card(drug, not_eligible[0])
        preferred = [o for o in _find(a.on_label, drug) + _find(a.guideline_supported_off_label,
                                                                  drug) if o.preferred]
        if preferred and self.settings.info_cards:
            option = preferred[0]
            kind = "preferred"
            values = {"drug_title": _title(drug), "order_label": self.order.label,
                      "order_ref": self.order.ref, "listed_drug": option.drug,
                      "rule_text": f" (rule {option.rule})" if option.rule else "",
                      "action": a.action}
            return self.make(PREFERRED, "info", self.summary(kind, **values),
                             self.detail(kind, **values))
        return None

    def _driver_gap(self, drug: str) -> dict[str, Any] | None:
        """The driver this drug needs when the assessment has none, with the testing state."""
        names = {self.text.drug_to_driver[p] for p in _parts(drug) if p in self.text.drug_to_driver}
        if drug in self.text.drug_to_driver:
            names = {self.text.drug_to_driver[drug]}
        for name in sorted(names):
            spec = self.text.data["drivers"][name]
            if self._driver_present(spec):
                continue
            untested = self._untested_genes(spec)
            if untested:
                fusion = spec["testing"] == "fusion"
                assay = "a fusion-capable (RNA) assay" if fusion else "any assay"
                testing = (
                    f"{', '.join(untested)} not tested with {assay}"
                    + (" (a DNA-only panel leaves fusion status unknown, E4)"
                       if spec["testing"] == "fusion" else "")
                    + ": order testing before starting (ATA 2025 Rec 61)."
                )
            else:
                genes = ", ".join(spec["genes"])
                testing = f"{genes} tested with a capable assay: no {spec['label']} found."
            return {"name": name, "spec": spec, "untested": untested,
                    "text": f"No {spec['label']} is documented; {testing}"}
        return None

    def _driver_present(self, spec: Mapping[str, Any]) -> bool:
        for d in self.assessment.drivers:
            if d.gene not in spec["genes"]:
                continue
            if spec.get("kind") == "fusion" and (d.kind == "fusion" or d.alteration == "fusion"):
                return True
            if spec.get("alteration") and d.alteration == spec["alteration"]:
                return True
        return False

    def _untested_genes(self, spec: Mapping[str, Any]) -> list[str]:
        fusion = spec["testing"] == "fusion"
        tested = {g.gene for g in self.record.genes_tested if (g.fusion_capable or not fusion)}
        tested |= {v.gene for v in self.record.variants if (v.fusion_capable or not fusion)}
        return [g for g in spec["genes"] if g not in tested]

    def _driver_card(self, drug: str, gap: Mapping[str, Any],
                     not_eligible: list[TherapyOption]) -> OrderCard:
        spec = gap["spec"]
        drivers = ", ".join(
            f"{d.gene} {d.alteration}" + (f" ({d.partner})" if d.partner else "")
            for d in self.assessment.drivers
        ) or "none"
        values = {
            "drug_title": _title(drug),
            "driver": spec["label"],
            "order_label": self.order.label,
            "order_ref": self.order.ref,
            "drivers_text": drivers,
            "testing_text": gap["text"],
            "not_eligible_text": " ".join(
                f"The assessment also lists {o.drug} as not eligible: {o.reason}." for o in
                not_eligible if o.reason),
            "driver_source": spec["source"],
        }
        suggestions = [self.delete_suggestion()]
        if gap["untested"]:
            suggestions.append(self.testing_suggestion(spec["label"], drug))
        kind = "driver-missing"
        return self.make(DRIVER_MISSING, "warning", self.summary(kind, **values),
                         self.detail(kind, **values), suggestions=suggestions,
                         reasons=self.override_reasons("driver"))

    def _not_eligible_card(self, drug: str, option: TherapyOption) -> OrderCard:
        a = self.assessment
        alternatives = [o.drug for o in a.on_label if o.preferred] or [o.drug for o in a.on_label]
        values = {
            "drug_title": _title(drug),
            "reason": option.reason or "no reason given",
            "listed_drug": option.drug,
            "rule_text": f" (rule {option.rule})" if option.rule else "",
            "order_label": self.order.label,
            "order_ref": self.order.ref,
            "options_text": (
                "On-label options in the assessment: " + ", ".join(alternatives) + "."
                if alternatives else ""
            ),
        }
        kind = "not-eligible"
        return self.make(NOT_ELIGIBLE, "warning", self.summary(kind, **values),
                         self.detail(kind, **values), suggestions=[self.delete_suggestion()],
                         reasons=self.override_reasons("not-eligible"))

    def _blocking_card(self, card_kind: str, drug: str, blocks: list[Warning], *,
                       extra: list[str], testing: Mapping[str, Any] | None) -> OrderCard:
        texts = self.text.data["blocking_text"]
        titles, details, codes = [], [], []
        for w in blocks:
            if w.code in codes:
                continue
            spec = texts.get(w.code, texts["default"])
            codes.append(w.code)
            titles.append(spec["title"].format(code=w.code))
            line = f"**{w.code}**: " + " ".join(spec["detail"].split()).format(code=w.code)
            if w.message:
                line += f" Assessment: {w.message}"
            details.append(line)
        values = {
            "drug_title": _title(drug),
            "titles": "; ".join(titles),
            "codes": ", ".join(codes),
            "order_label": self.order.label,
            "order_ref": self.order.ref,
            "blocking_details": "\n\n".join(details),
            "other_text": " ".join(extra),
        }
        suggestions = [self.delete_suggestion()]
        if testing is not None and testing["untested"]:
            suggestions.append(self.testing_suggestion(testing["spec"]["label"], drug))
        kind = "blocking"
        return self.make(card_kind, "critical", self.summary(kind, **values),
                         self.detail(kind, **values), suggestions=suggestions,
                         reasons=self.override_reasons("blocking"))


def cards_for_order(
    order: DraftOrder,
    assessment: Assessment,
    record: PatientRecord,
    patient_id: str,
    *,
    text: OrderCardText | None = None,
    settings: OrderCardSettings | None = None,
) -> list[OrderCard]:
    """Every card for one draft order (critical first). Orders the rules do not concern get none."""
    builder = _Builder(order, assessment, record, patient_id, text or load_order_text(),
                       settings or OrderCardSettings())
    cards = builder.i131_cards()
    for drug in order.drugs:
        card = builder.drug_card(drug)
        if card is not None:
            cards.append(card)
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(cards, key=lambda c: rank[c.card.indicator])
