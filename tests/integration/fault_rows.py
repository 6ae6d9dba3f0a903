"""Rows for the fault tests: a healthy baseline, a row whose loss overflows to inf at the first step, and a row
whose time budget (0.012 s) runs out after its first step. Both faulty rows stop deterministically."""

from pad_core.ablation import Row

ROWS = (
    Row("ok", "healthy", {}),
    Row("diverges", "loss weight 1e39 (overflows float32)", {"loss.cls_w": 1e39}),
    Row("slow", "time budget 0.012 s", {"train.max_minutes": 0.0002}),
)
BASE = {"moe.kind": "none"}
HEALTHY = ROWS[:1]  # one cell: the retry tests need no comparison row
