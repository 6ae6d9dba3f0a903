"""Sibling baselines of the papers' tables that are a backbone plus a head (SUEDE Table II: MesoNet, Xception,
DeepPixBiS), registered as torchvision-style backbones: a headless network giving a pooled feature, classified by
padsweep's linear head (``head.kind=linear``), trained and evaluated like the ResNet50 / ViT-B/16 rows.

Left out, because each needs more than a backbone and a head (docs/SCHEDULES.md, "Baselines"): CDCN and Auxiliary
(depth-map supervision; Auxiliary also rPPG), FFD (attention-map supervision), MultiAtten (multi-attentional
deepfake detection with a regional independence loss), UniAttackDetection (a CLIP method with its own
teacher-student prompt modules).
"""

from __future__ import annotations

from pad_core.models.baselines import deeppixbis, meso, xception
from pad_core.models.torchvision_names import TV_BACKBONES, Network

# The networks TV_BACKBONES names meso4, xception, deeppixbis (pad_core/models/torchvision_names.py); depth = conv
# blocks (Meso-4), residual blocks (Xception), dense blocks (DeepPixBiS)
MESO4 = Network(meso.Meso4, meso.HIDDEN, meso.IMAGE_SIZE, 4)
XCEPTION = Network(xception.Xception, xception.FEATURE_DIM, xception.IMAGE_SIZE, 3 + xception.MIDDLE_BLOCKS + 1)
DEEPPIXBIS = Network(deeppixbis.DeepPixBiS, deeppixbis.MAP_SIDE ** 2, deeppixbis.IMAGE_SIZE, 2)
SIBLINGS = tuple(name for name in TV_BACKBONES.list() if TV_BACKBONES.get(name).network.startswith(f"{__name__}:"))
