"""MoE introspection: how each layer's experts are used, overall and by attack type and capture device.

Inputs are per-sample expert shares p(e | x) (rows sum to 1) per visual MoE layer, collected during
evaluation. Mutual information treats the expert as a random variable drawn from p(e | x):
I(E; A) = sum_{e,a} p(e, a) log2 p(e, a) / (p(e) p(a)) with p(e, a) = (1/N) sum_{x: a(x) = a} p(e | x).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def mutual_information(shares: np.ndarray, groups: np.ndarray) -> float:
    """I(expert; group) in bits from per-sample expert shares ``N x E`` and group labels ``N``."""
    labels, inverse = np.unique(groups, return_inverse=True)
    joint = np.zeros((shares.shape[1], len(labels)))
    np.add.at(joint.T, inverse, shares)
    joint /= len(shares)
    pe, pa = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log2(joint[nz] / (pe @ pa)[nz])).sum())


def load_entropy(load: np.ndarray) -> float:
    """Entropy of the mean expert load, normalised to [0, 1] (1 = perfectly balanced)."""
    p = load[load > 0]
    return float(-(p * np.log(p)).sum() / np.log(len(load))) if len(load) > 1 else 1.0


def routing_metrics(routing: dict[str, np.ndarray], frame: pd.DataFrame) -> dict[str, float]:
    """Per layer (a compact set; per-expert loads by attack type and device are in ``routing_breakdown``):
    ``moe_<layer>_load_max`` (busiest expert's share), ``_load_entropy``, ``_mi_attack``, ``_mi_device``."""
    out = {}
    for layer, shares in routing.items():
        load = shares.mean(axis=0)
        out[f"moe_{layer}_load_max"] = float(load.max())
        out[f"moe_{layer}_load_entropy"] = load_entropy(load)
        out[f"moe_{layer}_mi_attack"] = mutual_information(shares, frame["attack_type"].to_numpy())
        out[f"moe_{layer}_mi_device"] = mutual_information(shares, frame["device"].to_numpy())
    return out


def routing_summary(routing: dict[str, np.ndarray], frame: pd.DataFrame) -> dict[str, float]:
    """Means over layers (logged at every evaluation): ``moe_load_entropy``, ``moe_mi_attack``, ``moe_mi_device``."""
    if not routing:
        return {}
    per_layer = routing_metrics(routing, frame)
    return {f"moe_{k}": float(np.mean([v for key, v in per_layer.items() if key.endswith(f"_{k}")]))
            for k in ("load_entropy", "mi_attack", "mi_device")}


def routing_breakdown(routing: dict[str, np.ndarray], frame: pd.DataFrame) -> pd.DataFrame:
    """Mean expert share per (layer, attack type, device): the table behind the MI numbers."""
    parts = []
    for layer, shares in routing.items():
        cols = [f"e{i}" for i in range(shares.shape[1])]
        by = pd.DataFrame(shares, columns=cols).assign(attack_type=frame["attack_type"].to_numpy(),
                                                       device=frame["device"].to_numpy())
        parts.append(by.groupby(["attack_type", "device"], as_index=False)[cols].mean().assign(layer=layer))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
