"""Render one patient's :class:`Assessment` (and the record behind it) as CDS Hooks cards.

The assessment decides; the card modules only word it, from the templates and citations in
``rules/thyroid/cards.yaml``. Card kinds (``RenderedCard.kind``, reported per card for feedback),
in the order they are returned:

* ``warning-<code>``: one **critical** card per blocking warning code (§A4.2), which also names
  the same code's non-blocking drugs (:mod:`~plugin.thyroid.cards.warnings`);
* ``rai-status``: the RAI-refractory status with its criterion and evidence (RAI dates,
  activities in MBq and mCi, the scans) **and the one next step** (§A4.1); for ``NOT_ESTABLISHED``
  the data-needed card; for ``NOT_APPLICABLE`` the ATC / MTC route card
  (:mod:`~plugin.thyroid.cards.status`);
* ``molecular-testing``: when E1 fires, with a draft ``ServiceRequest`` suggestion;
* ``therapy-options``: one line per drug (on-label, off-label, trial-only, not eligible) with
  the drug-level cautions (:mod:`~plugin.thyroid.cards.therapy`);
* ``warning-<code>``: a non-blocking warning raised by the patient's data that needs action
  (template ``fold: card``); the others are folded into the status, therapy or data-quality card;
* ``data-quality``: resources read with a caveat, prefetch keys that could not be had, and
  W-DATA-CONFLICT. It shows resource references and reasons only, never record values.

Every card names its guideline or label in ``source``, cites its rule IDs in ``detail`` and ends
with the decision-support disclaimer; warning and critical cards carry override reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cds_hooks.cards import Card
from plugin.thyroid.assessment.model import Assessment, Warning
from plugin.thyroid.cards.common import (
    CardContext,
    RenderedCard,
    fit_summary,
    format_activity,
    load_templates,
)
from plugin.thyroid.cards.status import data_quality_card, status_card
from plugin.thyroid.cards.therapy import testing_card, therapy_card
from plugin.thyroid.cards.warnings import (
    absorbed_by_critical,
    critical_cards,
    folded_into_status,
    warning_card,
)
from plugin.thyroid.clinical_model import MBQ_PER_MCI, PatientRecord
from plugin.thyroid.facts.derivation import Derivation

__all__ = ["MBQ_PER_MCI", "RenderedCard", "fit_summary", "format_activity",
           "load_templates", "render", "render_cards"]


def render(
    assessment: Assessment,
    record: PatientRecord,
    *,
    patient_id: str | None = None,
    unavailable: Sequence[str] = (),
    templates: Mapping[str, Any] | None = None,
    derivation: Derivation | None = None,
) -> list[RenderedCard]:
    """Every card for one patient, critical first, then in clinical reading order.

    :param patient_id: the patient's logical id (for the draft ServiceRequest subject); taken
        from ``record.patient_source`` when not given.
    :param unavailable: prefetch keys that were wanted but could not be had.
    :param derivation: the record's derivation as of the assessment's date (computed when not
        given, with the default thresholds).
    """
    ctx = CardContext(templates or load_templates(), assessment, record, patient_id,
                      tuple(unavailable), derivation)
    has_therapy = bool(assessment.on_label or assessment.guideline_supported_off_label
                       or assessment.trial_only or assessment.not_eligible)
    folds: dict[str, list[Warning]] = {"status": [], "therapy": [], "data-quality": [],
                                       "card": []}
    for w in ctx.a.warnings:
        if w.blocking or folded_into_status(ctx, w) or absorbed_by_critical(ctx, w):
            continue
        target = ctx.fold_target(w)
        if target == "therapy" and not has_therapy:
            target = "status"
        folds.setdefault(target, folds["card"]).append(w)

    critical = critical_cards(ctx)
    out: list[RenderedCard] = list(critical)
    out.append(status_card(ctx, folds["status"], has_critical=bool(critical)))
    if assessment.suggest_molecular_testing:
        out.append(testing_card(ctx))
    therapy = therapy_card(ctx, folds["therapy"])
    if therapy:
        out.append(therapy)
    done: set[str] = set()
    for w in folds["card"]:
        if w.code not in done:
            done.add(w.code)
            out.append(warning_card(ctx, [x for x in folds["card"] if x.code == w.code]))
    dq = data_quality_card(ctx, folds["data-quality"])
    if dq:
        out.append(dq)
    return out


def render_cards(assessment: Assessment, record: PatientRecord, **kwargs: Any) -> list[Card]:
    """Like :func:`render`, cards only."""
    return [rc.card for rc in render(assessment, record, **kwargs)]
