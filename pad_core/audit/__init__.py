"""Dead-toggle audit of ablation rows and registered variants (see :mod:`pad_core.audit.check`)."""

from __future__ import annotations

from pad_core.ablation import AblationSpec
from pad_core.audit.check import Finding, audit_row, probe
from pad_core.audit.twin import on_twin
from pad_core.config import from_flat, scale_overrides
from pad_core.models.variants import VARIANTS

__all__ = ["Finding", "audit_spec", "audit_variants"]


def audit_spec(spec: AblationSpec) -> list[Finding]:
    """Every row of a sweep against the sweep's baseline row (first protocol and seed)."""
    protocol, seed = spec.protocols[0], spec.seeds[0]
    by_name = {r.name: r for r in spec.rows}
    baseline = spec.row_config(by_name[spec.baseline_row], protocol, seed)
    base_probe = probe(on_twin(baseline))
    findings = [Finding(spec.baseline_row, f"parameter {p} receives no gradient") for p in base_probe.dead]
    for row in spec.rows:
        if row.name != spec.baseline_row:
            findings += audit_row(row.name, spec.row_config(row, protocol, seed), baseline, base_probe)
    return findings


def audit_variants(scale: str = "demo") -> list[Finding]:
    """Every registered variant against vanilla CLIP at ``scale``."""
    base = from_flat({**scale_overrides(scale), **VARIANTS.get("clip")})
    base_probe = probe(on_twin(base))
    findings: list[Finding] = []
    for name in VARIANTS.list():
        if name != "clip":
            findings += audit_row(name, from_flat({**scale_overrides(scale), **VARIANTS.get(name)}), base, base_probe)
    return findings
