"""Scenario building blocks shared by several scenarios (a standard adult, JS-ii, recent PD, …)."""

from __future__ import annotations

from sample_builder.patient import Patient


def adult(pid: str, sex: str = "female", birth: str = "1962-04-18",
          name: tuple[str, str] = ("Example", "Alex"), histology: str = "PTC") -> Patient:
    p = Patient(pid, birth, sex, name)
    p.cancer(histology)
    p.thyroidectomy("2022-10-03")
    return p


def js_ii_base(p: Patient, rai_date: str = "2024-03-01", scan_date: str = "2024-03-08") -> None:
    """One therapeutic 150 mCi (5,550 MBq) RAI; post-therapy scan with no uptake, TSH 85."""
    p.rai(rai_date, 150)
    p.scan(scan_date, "post-therapy", "no", tsh=85)


def recent_pd(p: Patient, first: tuple[str, float] = ("2025-01-15", 30),
              second: tuple[str, float] = ("2026-06-10", 38)) -> None:
    """Target-lesion sums rising >= 20 % and >= 5 mm, the rise dated within 14 months."""
    p.lesion_sum(*first)
    p.lesion_sum(*second)
    p.status(second[0], "worsened")


def ntrk3_fusion_pd_on_larotrectinib(p: Patient) -> None:
    """JS-ii; ETV6::NTRK3 (RNA panel, 2024); PD on larotrectinib (stopped for progression)."""
    js_ii_base(p)
    p.variant("NTRK3", fusion_partner="ETV6", date="2024-08-01",
              text="ETV6::NTRK3 fusion detected by RNA NGS")
    p.lesion_sum("2024-09-20", 45)
    p.lesion_sum("2025-03-01", 24)
    p.lesion_sum("2026-07-25", 31)
    p.status("2026-07-25", "worsened")
    p.therapy("larotrectinib", "2024-10-01", "2026-08-01", stopped="progression")
