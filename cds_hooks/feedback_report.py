"""The text of ``rair-cds feedback-report``: rates per card kind and per rule, marked counts.

Rates count only feedback that matches what was issued; feedback that names an unknown card,
an unknown suggestion or an override reason the card never offered is counted apart (see
docs/FEEDBACK.md). Rules are listed most-overridden first, so knowledge that clinicians
override stands out.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_hooks.feedback_store import FullReport, Rates, ReportRow

KIND_HEADER = ("service", "kind", "total", "accepted", "overridden", "accept%", "override%")
RULE_HEADER = ("service", "rule", "total", "accepted", "overridden", "accept%", "override%")
MARKED_HEADER = ("service", "unknown-card", "unknown-suggestion", "unknown-reason")


def format_report(report: FullReport | list[ReportRow]) -> str:
    """Plain-text tables; a bare list of kind rows gives the kind table alone."""
    full = report if isinstance(report, FullReport) else FullReport(kinds=list(report))
    if not (full.kinds or full.rules or full.marked):
        return "no feedback recorded"
    sections = []
    if full.kinds or not isinstance(report, FullReport):
        sections.append(
            table(KIND_HEADER, [(r.service_id, r.kind, *_rates(r)) for r in full.kinds])
        )
    if full.rules:
        sections.append(
            "Per rule (the rules behind each card; most overridden first):\n"
            + table(RULE_HEADER, [(r.service_id, r.rule, *_rates(r)) for r in full.rules])
        )
    if full.marked:
        sections.append(
            "Marked feedback (not counted above; docs/FEEDBACK.md):\n"
            + table(
                MARKED_HEADER,
                [
                    (m.service_id, str(m.unknown_card), str(m.unknown_suggestion),
                     str(m.unknown_reason))
                    for m in full.marked
                ],
            )
        )
    return "\n\n".join(sections)


def _rates(row: Rates) -> tuple[str, ...]:
    return (
        str(row.total),
        str(row.accepted),
        str(row.overridden),
        f"{100 * row.accept_rate:.1f}",
        f"{100 * row.override_rate:.1f}",
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, trailing blanks trimmed."""
    lines = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
