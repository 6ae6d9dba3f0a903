"""The row of the 2-worker DDP rehearsal: CLIP trained with the papers' symmetric CLIP loss (MMoE Eq. 5), a
batch-level loss that DDP must compute over the global batch (gather with gradient), at ViT-B/16 shapes in bf16.

Why not an MoE row: two ViT-B/16 ranks with Adam must fit this machine's 23 GB. A SUE row (text & visual, early
blocks) took 9.7 + 8.8 GB and stalled the machine in reclaim; vanilla CLIP takes about 6 GB a rank. The MoE
layers meet bf16 in tests/model/test_bf16.py and DDP in tests/engine/test_global_batch.py, at the tiny size."""

from pad_core.ablation import Row

DDP_ROWS = (Row("clip_symmetric", "CLIP, symmetric CLIP loss", {"head.loss": "clip_symmetric"}),)
