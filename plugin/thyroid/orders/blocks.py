"""What a blocking order card cites: the source and the rules behind one block on one drug.

A block that rests on the ordered drug's own label (W-PREG's embryo-fetal toxicity, W-HTN, W-BLEED)
cites that label, not another drug's (``source_from_drug`` in ``order_cards.yaml``
``blocking_text``); W-HTN and W-BLEED name the rule that listed the drug (``rules_from_option``),
since no rule title describes the block itself. Other blocks cite their warning's own source and
rules (W-PEDS-AGE: H1, W-RET-POINT: E6, W-PREG: H4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugin.thyroid.assessment.model import Assessment, Warning


def block_basis(blocking_text: Mapping[str, Any], drug_labels: Mapping[str, Any],
                assessment: Assessment, block: Warning, drug: str) -> tuple[str, list[str]]:
    """(source key, rules) for ``block`` on an order for ``drug``."""
    spec = blocking_text.get(block.code, blocking_text["default"])
    keys = list(spec.get("sources") or ["DESIGN"])
    rules = list(spec.get("rules", []))
    label = drug_labels.get(drug, {}).get("source")
    source = label if label and (spec.get("source_from_drug") or label in keys) else keys[0]
    if spec.get("rules_from_option"):
        listed = [o.rule for o in assessment.on_label + assessment.guideline_supported_off_label
                  if o.drug == drug and o.rule]
        rules = listed[:1] or rules
    return source, rules
