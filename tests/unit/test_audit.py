"""The dead-toggle audit: variants and sweep rows pass; dead rows are caught statically and dynamically."""

import pytest

from pad_core.ablation import AblationSpec, Row
from pad_core.audit import audit_spec, audit_variants
from pad_core.audit.check import audit_row
from pad_core.audit.inactive import inactive_keys
from pad_core.audit.twin import on_twin
from pad_core.config import from_flat, scale_overrides
from pad_core.models.backbones import backbone_info
from search_spaces.mmoe import MASK_RATE_ROWS, MMOE_BASE

SMOKE = scale_overrides("smoke")


def test_every_registered_variant_passes():
    assert audit_variants("smoke") == []


def test_mask_rate_rows_pass():
    spec = AblationSpec("t", "T", MASK_RATE_ROWS, ("P1",), (0,), base={**MMOE_BASE, **SMOKE})
    assert audit_spec(spec) == []


def test_static_dead_toggle_is_caught():
    cfg = from_flat({**SMOKE, "moe.kind": "soft", "moe.sue.top_k": 1})
    assert inactive_keys(cfg, ["moe.sue.top_k", "moe.soft.num_experts"]) == ["moe.sue.top_k"]
    spec = AblationSpec("t", "T", (Row("soft", "S", {"moe.kind": "soft"}),
                                   Row("dead", "dead", {"moe.kind": "soft", "moe.sue.top_k": 1})), ("P1",), (0,),
                        base=SMOKE)
    findings = audit_spec(spec)
    assert len(findings) == 2  # never read, and (being the only change) no effect on the model
    assert findings[0].row == "dead" and "never reads" in findings[0].problem


def test_dynamic_dead_toggle_is_caught():
    """A weight on a term the model does not produce: read by the loss code, but it changes nothing."""
    base = from_flat({**SMOKE, "moe.kind": "soft"})
    same = from_flat({**SMOKE, "moe.kind": "soft", "moe.soft.cosine_ref": 0})
    assert [f.problem for f in audit_row("noop", same, base)] == [  # an ablation row equal to its baseline
        "is the same config as the baseline: it changes nothing"]
    detach = from_flat({**SMOKE, "moe.kind": "soft", "loss.moe_cosine_w": 1.0, "moe.soft.detach_ref": True})
    cos = from_flat({**SMOKE, "moe.kind": "soft", "loss.moe_cosine_w": 1.0})
    assert audit_row("detach", detach, cos) == []  # changes only gradients: still alive


def test_twin_keeps_depths_and_shrinks_widths():
    cfg = from_flat({"moe.kind": "sue", "moe.layers": "later", "moe.tower": "both"})
    twin = on_twin(cfg)
    real, small = backbone_info(cfg.backbone.name), backbone_info(twin.backbone.name)
    assert (small.visual_layers, small.text_layers) == (real.visual_layers, real.text_layers) == (12, 12)
    assert small.visual_width < real.visual_width and twin.backbone.pretrained == ""


@pytest.mark.parametrize("key", ["loss.dm_w", "loss.metric_margin", "head.templates"])
def test_inactive_rules(key):
    cfg = from_flat({**SMOKE, "head.kind": "linear"})
    assert inactive_keys(cfg, [key]) == [key]


def test_threshold_settings_are_inactive_where_the_policy_reads_none():
    """A given tau is placed nowhere (no split is searched); a tau found on test splits test alike at either
    placement (no metric changes); a found tau never reads the given one."""
    fixed = from_flat({**SMOKE, "eval.threshold_policy": "fixed"})
    own = from_flat({**SMOKE, "eval.threshold_policy": "test_eer"})  # found and applied on test: same partition
    found = from_flat({**SMOKE, "eval.threshold_policy": "dev_eer"})
    keys = ["eval.threshold_placement", "eval.fixed_threshold"]
    assert inactive_keys(fixed, keys) == ["eval.threshold_placement"]
    assert inactive_keys(own, keys) == keys
    assert inactive_keys(found, keys) == ["eval.fixed_threshold"]


def paper_tables():
    from search_spaces import moae_cr, suede

    return [("moae_cr_t1", moae_cr.BASELINE_ROWS, moae_cr.MOAE_BASE), ("moae_cr_t4", moae_cr.COMPONENT_ROWS,
                                                                      moae_cr.MOAE_BASE),
            ("moae_cr_t2", moae_cr.LOSS_SWAP_ROWS, moae_cr.MOAE_BASE), ("moae_cr_t5", moae_cr.GRID_ROWS,
                                                                       moae_cr.MOAE_BASE),
            ("suede_t1", suede.TABLE1_ROWS, suede.SUEDE_BASE), ("suede_t3", suede.EXPERT_SETTING_ROWS,
                                                              suede.SUEDE_BASE),
            ("suede_t4", suede.LAYER_ROWS, suede.SUEDE_BASE), ("suede_fig5", suede.ROUTED_COUNT_ROWS,
                                                              suede.SUEDE_BASE)]


@pytest.mark.parametrize(("name", "rows", "base"), paper_tables(), ids=[t[0] for t in paper_tables()])
def test_every_paper_table_row_is_expressible_and_passes_the_audit(name, rows, base):
    """Audited at paper scale (ViT-B/16 depths via the audit twin): layer sets, towers and heads as in the papers."""
    baseline = "clip" if any(r.name == "clip" for r in rows) else ""
    spec = AblationSpec(name, name, rows, ("P1",), (0,), base=base, baseline=baseline)
    assert len(spec.cells()) == len(rows)
    assert audit_spec(spec) == []
