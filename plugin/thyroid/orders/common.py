"""Shared pieces of the order-hook cards: the draft order, the card text, the builder.

The order rules (``rules/thyroid/orders.rules.yaml``) decide which cards an order gets;
:mod:`plugin.thyroid.orders.cards` runs them and renders their conclusions; the I-131 cards live in
:mod:`~plugin.thyroid.orders.i131`, the drug cards in :mod:`~plugin.thyroid.orders.drugs`.
Card text is data (``rules/thyroid/order_cards.yaml``); sources, rule titles and drug labels come
from ``rules/thyroid/cards.yaml`` so an order card names the guideline or label behind it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cds_hooks.cards import (
    SUMMARY_MAX,
    Action,
    Card,
    Indicator,
    Link,
    OverrideReason,
    Source,
    Suggestion,
)
from plugin.thyroid.assessment.model import Assessment, TherapyOption, Warning
from plugin.thyroid.cards.common import load_templates
from plugin.thyroid.clinical_model import PatientRecord
from plugin.thyroid.facts.derivation import Derivation, derive
from plugin.thyroid.knowledge.loader import default_folder
from plugin.thyroid.knowledge.parts import load_with_parts
from plugin.thyroid.orders.blocks import block_basis

# card kinds (HookResult.card_kinds values; also the alert-cache signature)
I131_RAIR = "order-i131-rair"
I131_NOT_ESTABLISHED = "order-i131-not-established"
I131_RAI_INELIGIBLE = "order-i131-rai-ineligible"
I131_CUMULATIVE = "order-i131-cumulative"
I131_BLOCKING = "order-i131-blocking"
DRIVER_MISSING = "order-driver-missing"
NOT_ELIGIBLE = "order-not-eligible"
BLOCKING = "order-blocking"
PREFERRED = "order-preferred"
TRIAL_ONLY = "order-trial-only"
INTOLERANCE = "order-intolerance"
I131_NOT_APPLICABLE = "order-i131-not-applicable"
PREGNANCY_CAUTION = "order-pregnancy-caution"
NOT_INDICATED = "order-not-indicated"

#: every card kind an order rule may conclude (rules/thyroid/orders.rules.yaml, checked at start-up)
ORDER_CARD_KINDS = frozenset({I131_RAIR, I131_NOT_ESTABLISHED, I131_RAI_INELIGIBLE, I131_CUMULATIVE,
                              I131_BLOCKING, DRIVER_MISSING, NOT_ELIGIBLE, BLOCKING, PREFERRED,
                              TRIAL_ONLY, I131_NOT_APPLICABLE, PREGNANCY_CAUTION, NOT_INDICATED,
                              INTOLERANCE})


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
    rules: tuple[str, ...] = ()  # the rules behind the card (HookResult.card_rules)


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

    def card(self, kind: str) -> Mapping[str, str]:
        return self.data["cards"][kind]


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> OrderCardText:
    data = load_with_parts(path)
    drug_to_driver = {
        drug: name for name, spec in data["drivers"].items() for drug in spec["drugs"]
    }
    return OrderCardText(data=data, drug_to_driver=drug_to_driver)


def load_order_text(path: Path | None = None) -> OrderCardText:
    """Load ``rules/thyroid/order_cards.yaml`` with its ``parts`` (cached per path).

    :raises OSError, yaml.YAMLError, KeyError, ValueError: when a file is missing or malformed.
    """
    return _load(Path(path or default_folder() / "order_cards.yaml").resolve())


# -- drug matching ------------------------------------------------------------------------------


def parts(drug: str) -> set[str]:
    return set(drug.split("+"))


def drug_matches(listed: str, ordered: str) -> bool:
    """True when an assessment entry (``listed``) concerns the ordered drug: same name, or a
    combination sharing an ingredient (``dabrafenib+trametinib`` vs ``trametinib``)."""
    return bool(parts(listed) & parts(ordered))


def title(drug: str) -> str:
    return drug[:1].upper() + drug[1:]


def find(options: Iterable[TherapyOption], drug: str) -> list[TherapyOption]:
    return [o for o in options if drug_matches(o.drug, drug)]


# -- card assembly ------------------------------------------------------------------------------


class OrderCardBuilder:
    """Fills the templates of one order for one assessment."""

    def __init__(
        self,
        order: DraftOrder,
        assessment: Assessment,
        record: PatientRecord,
        patient_id: str,
        text: OrderCardText,
        settings: OrderCardSettings,
        *,
        derivation: Derivation | None = None,
        templates: Mapping[str, Any] | None = None,
    ) -> None:
        self.order = order
        self.assessment = assessment
        self.record = record
        self.patient_id = patient_id
        self.text = text
        self.settings = settings
        # what the rules counted (cumulative activity, thresholds): the patient-view's numbers
        self.derivation = derivation or derive(record, assessment.evaluation_date)
        # cards.yaml: the sources, rules and drug labels
        self.templates = templates or load_templates()
        # cards a rule decided not to show (e.g. a continuation), for ``suppressedCards``
        self.suppressed: list[dict[str, str]] = []
        # why an ordered drug continues a current therapy (None: it does not), per drug; stated
        # once by the order facts (plugin.thyroid.orders.facts), read back for suppressedCards
        self.continuations: dict[str, str | None] = {}

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

    def source(self, key: str) -> Source:
        """``Card.source``: the guideline or label behind the card (cards.yaml ``sources``)."""
        entry = self.templates["sources"].get(key) or self.templates["sources"]["DESIGN"]
        return Source(label=entry["label"], url=entry.get("url"))

    def with_citations(self, detail: str, rules: list[str], key: str) -> str:
        """The detail with its rule IDs and the sources named in it (``[S12]``) resolved."""
        t = self.templates
        lines = []
        for rule in dict.fromkeys(rules):
            info = t["rules"].get(rule, {})
            lines.append(f"- Rule **{rule}**" + (f": {info['title']} ({info['grade']})"
                                                  if info else ""))
        keys = [key] + re.findall(r"\b(S\d{1,2}(?:-[a-z]+)?)\b", detail)
        # the card's own source (with its address) is Card.source; here each key is named by
        # its short label so the [Sx] marks in the text resolve (DECISIONS §D4.16: short cards)
        srcs = []
        for k in dict.fromkeys(keys):
            src = t["sources"].get(k)
            if src:
                srcs.append(f"[{k}] {str(src['label']).split(' (')[0]}")
        blocks = [detail]
        if lines:
            blocks.append("**Rules:**\n" + "\n".join(lines))
        if srcs:
            blocks.append("**Sources:** " + "; ".join(srcs))
        blocks.append(f"_{t['disclaimer']}_")
        return "\n\n".join(blocks)

    def detail(self, kind: str, **values: Any) -> str:
        body = self.text.card(kind)["detail"].format(**values)
        # drop the blank paragraphs left by empty optional pieces
        paragraphs = [p.strip() for p in body.split("\n\n")]
        return "\n\n".join(p for p in paragraphs if p)

    def drug_source(self, drug: str, default: str = "S9") -> str:
        """The source key of a drug's US label (cards.yaml ``drugs``); a combination's first."""
        for name in (drug, *sorted(parts(drug))):
            entry = self.templates["drugs"].get(name)
            if entry:
                return entry["source"]
        return default

    def rule_source(self, rule: str | None) -> str | None:
        info = self.templates["rules"].get(rule or "")
        return info["sources"][0] if info and info.get("sources") else None

    def order_label(self) -> str:
        """The order's name; the drug names when the order carries no text of its own."""
        label = self.order.label
        if label == self.order.resource_type and self.order.drugs:
            return " + ".join(title(d) for d in self.order.drugs)
        return label

    def override_reasons(self, *groups: str) -> list[OverrideReason]:
        system = self.text.data["override_system"]
        reasons = self.text.data["override_reasons"]
        out: dict[str, OverrideReason] = {}
        for group in ("common", *groups):
            for r in reasons.get(group, []):
                out.setdefault(r["code"], OverrideReason(system=system, code=r["code"],
                                                         display=r["display"]))
        return list(out.values())

    def delete_suggestion(self) -> Suggestion:
        spec = self.text.data["suggestions"]["delete"]
        values = {"order_label": self.order_label(), "order_ref": self.order.ref}
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

    def service_request(self, spec: Mapping[str, Any], note: str) -> dict[str, Any]:
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

    def referral_suggestions(self) -> list[Suggestion]:
        """The systemic-therapy referral where the next step leads there (``when_action``)."""
        spec = self.text.data["suggestions"]["systemic_evaluation"]
        if self.assessment.action not in spec["when_action"]:
            return []
        note = spec["note"].format(
            status=self.assessment.rair_status, criteria=self.criteria() or "no criterion"
        )
        return [Suggestion(label=spec["label"], actions=[Action(
            type="create", description=spec["description"],
            resource=self.service_request(spec, note))])]

    def testing_suggestion(self, driver: str, drug: str) -> Suggestion:
        spec = self.text.data["suggestions"]["molecular_testing"]
        note = spec["note"].format(driver=driver, drug=drug)
        return Suggestion(
            label=spec["label"],
            actions=[
                Action(type="create", description=spec["description"],
                       resource=self.service_request(spec, note))
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
        source_key: str | None = None,
        rules: list[str] | None = None,
    ) -> OrderCard:
        spec = self.text.data["cards"].get(kind.removeprefix("order-"), {})
        rules = list(spec.get("rules", [])) + list(rules or [])
        key = source_key or spec.get("source") or "DESIGN"
        card = Card(
            summary=summary,
            indicator=Indicator(indicator),
            source=self.source(key),
            detail=self.with_citations(detail, rules, key),
            suggestions=suggestions or None,
            selectionBehavior="any" if suggestions else None,
            overrideReasons=reasons if indicator != "info" else None,
            links=links or None,
        )
        return OrderCard(kind=kind, order_ref=self.order.ref, card=card,
                         rules=tuple(dict.fromkeys(rules)))

    def criteria(self) -> str:
        return ", ".join(self.assessment.rair_criteria)

    # ---- rule 1 (and pregnancy for I-131)

    def blocking_card(self, card_kind: str, drug: str, blocks: list[Warning], *,
                       extra: list[str], testing: Mapping[str, Any] | None,
                       more: Sequence[Suggestion] = (), reasons: tuple[str, ...] = (),
                       rules: Sequence[str] = ()) -> OrderCard:
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
            "drug_title": title(drug),
            "titles": "; ".join(titles),
            "codes": ", ".join(codes),
            "order_label": self.order_label(),
            "order_ref": self.order.ref,
            "blocking_details": "\n\n".join(details),
            "other_text": " ".join(extra),
        }
        suggestions = [self.delete_suggestion()]
        if testing is not None and testing["untested"]:
            suggestions.append(self.testing_suggestion(testing["spec"]["label"], drug))
        suggestions += list(more)
        kind = "blocking"
        return self.make(card_kind, "critical", self.summary(kind, **values),
                         self.detail(kind, **values), suggestions=suggestions,
                         reasons=self.override_reasons("blocking", *reasons),
                         source_key=self.block_basis(blocks[0], drug)[0],
                         rules=[*rules, *(r for w in blocks for r in self.block_basis(w, drug)[1])])

    def block_basis(self, w: Warning, drug: str) -> tuple[str, list[str]]:
        return block_basis(self.text.data["blocking_text"], self.templates["drugs"],
                           self.assessment, w, drug)

