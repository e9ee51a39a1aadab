"""Start-up cross-check of the knowledge files: every conclusion the rules can reach has words.

The engine already refuses a rule whose action (``do``) is malformed. This module checks the other
direction, between the rule files and the card text (``rules/thyroid/cards.yaml``), so that a
conclusion never reaches a clinician without a card template and a citation:

* every rule ID has an entry under ``rules`` (the card cites it);
* every status, action, criterion and W-code a rule can assert has its text;
* every drug a rule can place in a therapy list has an entry under ``drugs``;
* every drug in ``therapies.yaml`` (which rules copy with ``$t.drug``) has one too;
* every candidate conclusion of a kind listed in ``precedence.yaml`` (status, action, therapy,
  preferred) names a tier of that kind (``tier: hard_exclusion``), its value is one the tier admits
  (an ``indication_not_met`` placement is ``notEligible``), and no rule writes the retired
  ``rank``/``step`` numbers (DECISIONS §D4.17).
* every order rule (``orders.rules.yaml``) has an ``id`` and a ``source``, and every order card
  kind it can conclude is a kind the order cards render, for the target that renders it, and
  has its text under ``order_cards.yaml`` ``cards`` (a held candidate, ``hold``, shows no card
  and needs none).

Run by :func:`plugin.thyroid.create_services`, so a broken knowledge edit stops start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from plugin.thyroid.assessment.model import ACTIONS, RAIR_STATUSES
from plugin.thyroid.knowledge.parts import load_with_parts

if TYPE_CHECKING:  # precedence.py imports KnowledgeError from here
    from plugin.thyroid.knowledge.precedence import Precedence

# conclusion fact type -> (the field that names it, the cards.yaml section that words it)
_WORDED = {
    "action": ("value", "actions"),
    "warning": ("code", "warnings"),
    "criterion": ("name", "criteria_long"),
    "therapy": ("drug", "drugs"),
}
# the kinds precedence.yaml must rank, and the §D1 vocabulary of their values (``None``: any)
_RANKED: dict[str, tuple[str, ...] | None] = {
    "status": RAIR_STATUSES,
    "action": ACTIONS,
    "therapy": ("onLabel", "guidelineSupportedOffLabel", "trialOnly", "notEligible"),
    "preferred": None,
    "order_check": None,  # values: order card kinds, checked against each order rule's kind
}
# NOT_APPLICABLE is worded per histology (ATC/MTC) in cards.yaml's ``status`` section
_STATUS_KEYS = {"NOT_APPLICABLE": ("ATC", "MTC")}


class KnowledgeError(Exception):
    """The rule files and the card text disagree."""


def check_knowledge(rules_dir: Path, precedence: Precedence | None = None) -> None:
    """Raise :class:`KnowledgeError` listing every conclusion that has no card text or names no
    known tier.

    :param precedence: the folder's loaded ``precedence.yaml`` (read from ``rules_dir`` if not
        given).
    """
    from plugin.thyroid.knowledge.loader import ORDER_RULES

    if precedence is None:
        from plugin.thyroid.knowledge.precedence import load_precedence

        precedence = load_precedence(rules_dir / "precedence.yaml")
    try:
        cards = load_with_parts(rules_dir / "cards.yaml")
        order_cards = load_with_parts(rules_dir / "order_cards.yaml")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"cannot read the card text (cards.yaml, order_cards.yaml, their"
                             f" parts): {exc}") from exc
    therapies = _load(rules_dir / "therapies.yaml")
    rules = _rules(rules_dir)
    order_rules = _load(rules_dir / ORDER_RULES)
    problems = [*_problems(rules, cards, therapies),
                *_tier_problems({**rules, **order_rules}, precedence)]
    problems += _order_problems(order_rules, order_cards)
    if problems:
        raise KnowledgeError("knowledge files disagree: " + "; ".join(sorted(set(problems))))


def _problems(
    rules: Mapping[str, Mapping[str, Any]], cards: Mapping[str, Any], therapies: Mapping[str, Any]
) -> Iterable[str]:
    cited = cards.get("rules") or {}
    for name, rule in rules.items():
        rule_id = str(rule.get("id", "")).split(":")[0]
        if rule_id not in cited:
            yield f"rule {name!r} ({rule_id}) has no entry under cards.yaml 'rules'"
        for fact in _asserted(rule):
            yield from _fact_problems(name, fact, cards)
    worded_drugs = cards.get("drugs") or {}
    for drug in therapies.get("drugs") or {}:
        if drug not in worded_drugs:
            yield f"therapies.yaml drug {drug!r} has no entry under cards.yaml 'drugs'"


def _tier_problems(
    rules: Mapping[str, Mapping[str, Any]], precedence: Precedence
) -> Iterable[str]:
    for fact_type, vocabulary in _RANKED.items():
        ranked = precedence.kinds.get(fact_type)
        if ranked is None:
            yield f"precedence.yaml has no tiers for {fact_type!r}"
            continue
        if fact_type in ("status", "action") and ranked.otherwise not in (vocabulary or ()):
            yield (f"precedence.yaml {fact_type!r}: 'otherwise' {ranked.otherwise!r} is not "
                   f"a {fact_type}")
        for each in ranked.tiers:
            for admitted in each.values:
                if vocabulary is not None and admitted not in vocabulary:
                    yield (f"precedence.yaml {fact_type!r} tier {each.name!r}: {admitted!r} is "
                           f"not a {ranked.field} of the assessment (DECISIONS §D1)")
    for name, rule in rules.items():
        for fact in _asserted(rule):
            kind = precedence.kinds.get(str(fact.get("type")))
            retired = sorted({"rank", "step"} & set(fact))
            if retired:
                yield (f"rule {name!r}: {fact.get('type')} carries {'/'.join(retired)}; "
                       "precedence is a tier name now (precedence.yaml)")
            if kind is None:
                if "tier" in fact:
                    yield (f"rule {name!r}: {fact.get('type')} facts have no tiers "
                           "in precedence.yaml")
                continue
            tier_name = fact.get("tier")
            tier = kind.tier(tier_name) if isinstance(tier_name, str) else None
            if tier is None:
                known = ", ".join(t.name for t in kind.tiers)
                yield (f"rule {name!r}: {kind.type} tier {tier_name!r} is not a tier of "
                       f"precedence.yaml {kind.type!r} (known: {known})")
                continue
            value = fact.get(kind.field)
            if tier.values and not (isinstance(value, str) and value.startswith("$")) \
                    and str(value) not in tier.values:
                yield (f"rule {name!r}: {kind.type} tier {tier.name!r} admits "
                       f"{kind.field} {list(tier.values)}, not {value!r}")


def _fact_problems(name: str, fact: Mapping[str, Any], cards: Mapping[str, Any]) -> Iterable[str]:
    kind = fact.get("type")
    if kind == "status":
        value = str(fact.get("value"))
        keys = _STATUS_KEYS.get(value, (value,))
        missing = [k for k in keys if k not in (cards.get("status") or {})]
        if missing:
            yield f"rule {name!r}: status {value} has no text under cards.yaml 'status'"
        return
    if kind not in _WORDED:
        return
    field, section = _WORDED[kind]
    worded = fact.get(field)
    if not isinstance(worded, str) or worded.startswith("$"):
        return  # copied from a fact at run time: checked through therapies.yaml
    if worded not in (cards.get(section) or {}):
        yield f"rule {name!r}: {kind} {worded!r} has no text under cards.yaml {section!r}"


#: what a held order candidate may say (plugin.thyroid.orders.drugs / .cards read it)
_HOLDS = frozenset({"continuation", "covered"})


def _order_problems(rules: Mapping[str, Any], order_cards: Mapping[str, Any]) -> list[str]:
    from plugin.thyroid.orders.common import ORDER_CARD_KINDS

    worded = order_cards.get("cards") or {}
    problems = []
    for name, rule in rules.items():
        if not isinstance(rule, Mapping):
            problems.append(f"order rule {name!r} is not a mapping")
            continue
        for key in ("id", "source"):
            if not str(rule.get(key) or "").strip():
                problems.append(f"order rule {name!r} has no {key!r}")
        for fact in _asserted(rule):
            if fact.get("type") != "order_check":
                continue
            kind = str(fact.get("kind"))
            hold = fact.get("hold")
            if kind not in ORDER_CARD_KINDS:
                problems.append(f"order rule {name!r}: kind {kind!r} is no order card kind")
            elif hold is None and kind.removeprefix("order-") not in worded:
                problems.append(f"order rule {name!r}: kind {kind!r} has no text under"
                                " order_cards.yaml 'cards'")
            if hold is not None and hold not in _HOLDS:
                problems.append(f"order rule {name!r}: hold {hold!r} is not one of"
                                f" {sorted(_HOLDS)}")
            target = str(fact.get("target") or "")
            wanted = _target_of(kind)
            if (target != wanted) if wanted else not target.startswith("$"):
                problems.append(f"order rule {name!r}: kind {kind!r} is rendered for target"
                                f" {wanted or 'an ordered drug ($alias.drug)'}, not {target!r}")
    return problems


def _target_of(kind: str) -> str | None:
    """The fixed target a card kind is rendered for; ``None``: an ordered drug."""
    from plugin.thyroid.orders.cards import I131_TARGET, PREGNANCY_TARGET
    from plugin.thyroid.orders.common import PREGNANCY_CAUTION

    if kind == PREGNANCY_CAUTION:
        return PREGNANCY_TARGET
    return I131_TARGET if kind.startswith("order-i131-") else None


def _asserted(rule: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    conclusion = (rule.get("do") or {}).get("assert")
    if conclusion is None:
        return []
    return list(conclusion) if isinstance(conclusion, list) else [conclusion]


def _rules(rules_dir: Path) -> dict[str, Mapping[str, Any]]:
    from plugin.thyroid.knowledge.loader import rule_files

    rules: dict[str, Mapping[str, Any]] = {}
    for path in rule_files(rules_dir):
        rules.update(_load(path))
    return rules


def _load(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"cannot read {path.name}: {exc}") from exc
    return data or {}
