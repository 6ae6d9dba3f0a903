"""Which config keys a given config never reads (a row that changes only these changes nothing)."""

from __future__ import annotations

from pad_core.config import RunCfg
from pad_core.models.backbones import is_torchvision

MOE_FAMILIES = {"soft": "moe.soft.", "moae": "moe.moae.", "sue": "moe.sue."}


def _moe_inactive(cfg: RunCfg) -> list[str]:
    out = [prefix for kind, prefix in MOE_FAMILIES.items() if cfg.moe.kind != kind]
    if cfg.moe.kind == "none":
        out += ["moe.layers", "moe.tower", "moe.mode"]
    if cfg.moe.kind != "sue":
        out += ["loss.router_z_w", "loss.balance_w"]
    elif cfg.moe.tower == "visual":
        out.append("moe.sue.mask_text_padding")
    if cfg.moe.kind == "soft" and cfg.loss.moe_cosine_w == 0:
        out += ["moe.soft.cosine_ref", "moe.soft.detach_ref"]
    return out


def _loss_inactive(cfg: RunCfg) -> list[str]:
    loss, out = cfg.loss, []
    if loss.cr_mode == "off":
        out += ["loss.cr_t", "loss.dm_w", "loss.cdm_w"]
    if loss.metric == "none":
        out.append("loss.metric_w")
    if loss.metric not in ("triplet", "hard_triplet"):
        out.append("loss.metric_margin")
    if loss.metric != "supcon":
        out.append("loss.metric_temperature")
    if loss.cr_mode == "off" and loss.metric == "none":
        out.append("loss.feature")
    return out


def _head_inactive(cfg: RunCfg) -> list[str]:
    if cfg.head.kind != "prompt":
        return ["head.templates", "head.class_words", "head.attack_prompts", "head.live_prompts", "backbone.train_text"]
    return ["head.templates", "head.class_words"] if cfg.head.attack_prompts else []


def _family_inactive(cfg: RunCfg) -> list[str]:
    out = [f"{family}." for family in ("bigmoe", "atr") if cfg.family != family]
    if cfg.family != "atr":
        out += ["loss.depth_w", "loss.gate_w"]
    if cfg.family != "clip":  # BIG-MoE and ATR-FAS bring their own experts and a linear classifier
        out += ["moe.", "head.", "backbone.train_text"]
    if cfg.family == "atr":
        out += _atr_inactive(cfg.atr)
    elif cfg.family == "bigmoe":
        out += _bigmoe_inactive(cfg.bigmoe)
    return out


def _atr_inactive(atr) -> list[str]:
    out = [] if atr.encoder == "clip" else ["backbone."]  # the CNN encoder reads no backbone setting
    if atr.mix != "gate":
        out += ["loss.gate_w", "atr.gate_per_frame"]
    if atr.mix == "single":
        out.append("atr.experts")
    return out


def _bigmoe_inactive(big) -> list[str]:
    out = ["bigmoe.ffn_"] if big.experts == "peer" else ["bigmoe.peer_"]
    if big.gate_input == "expert":  # prompts reach the output only through the isolated gate: no prompt path
        return out + ["bigmoe.cpb", "bigmoe.cpb_residual", "bigmoe.eca_kernel", "bigmoe.fix_transpose",
                      "bigmoe.prompt_dim", "bigmoe.cdc_theta"]
    if not big.cpb:
        out += ["bigmoe.cpb_residual", "bigmoe.eca_kernel"]
    return out


def inactive_prefixes(cfg: RunCfg) -> list[str]:
    out = _moe_inactive(cfg) + _loss_inactive(cfg) + _head_inactive(cfg) + _family_inactive(cfg)
    if is_torchvision(cfg.backbone.name):  # torchvision networks take ImageNet weights, open_clip ones pretrained
        out += ["moe.", "backbone.train_text", "backbone.pretrained"]
    else:
        out.append("backbone.imagenet_weights")
    if cfg.optim.schedule != "exponential":
        out += ["optim.decay_gamma", "optim.decay_steps"]
    if cfg.eval.threshold_policy != "fixed":
        out.append("eval.fixed_threshold")
    if cfg.eval.threshold_policy in ("fixed", "test_eer"):  # a given tau is placed nowhere; a test-set tau splits
        out.append("eval.threshold_placement")  # the set it was found on alike at either placement
    if not cfg.data.manifest.startswith("synthetic:"):
        out += ["data.synth_scale", "data.synth_size", "data.synth_seed"]
    return out


def inactive_keys(cfg: RunCfg, keys: list[str]) -> list[str]:
    """The subset of ``keys`` that ``cfg`` never reads."""
    prefixes = inactive_prefixes(cfg)
    return [k for k in keys if any(k == p or (p.endswith((".", "_")) and k.startswith(p)) for p in prefixes)]
