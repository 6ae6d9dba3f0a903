"""Sibling baselines of the papers' tables that are a backbone plus a head (SUEDE Table II: MesoNet, Xception,
DeepPixBiS), registered as torchvision-style backbones: a headless network giving a pooled feature, classified by
padsweep's linear head (``head.kind=linear``), trained and evaluated like the ResNet50 / ViT-B/16 rows.

Left out, because each needs more than a backbone and a head (docs/SCHEDULES.md, "Baselines"): CDCN and Auxiliary
(depth-map supervision; Auxiliary also rPPG), FFD (attention-map supervision), MultiAtten (multi-attentional
deepfake detection with a regional independence loss), UniAttackDetection (a CLIP method with its own
teacher-student prompt modules).
"""

from __future__ import annotations

from pad_core.models.backbones.torchvision_nets import TV_BACKBONES, TorchvisionSpec
from pad_core.models.baselines import deeppixbis, meso, xception

# name -> (spec, row label); depth = conv blocks (Meso-4), residual blocks (Xception), dense blocks (DeepPixBiS)
SIBLINGS = {
    "meso4": (TorchvisionSpec(meso.Meso4, meso.HIDDEN, meso.IMAGE_SIZE, 4, scratch=True), "MesoNet (Meso-4)"),
    "xception": (TorchvisionSpec(xception.Xception, xception.FEATURE_DIM, xception.IMAGE_SIZE,
                                 3 + xception.MIDDLE_BLOCKS + 1), "Xception"),
    "deeppixbis": (TorchvisionSpec(deeppixbis.DeepPixBiS, deeppixbis.MAP_SIDE ** 2, deeppixbis.IMAGE_SIZE, 2),
                   "DeepPixBiS (binary output only)"),
}

for _name, (_spec, _label) in SIBLINGS.items():
    if _name not in TV_BACKBONES:  # a reload of this module (importlib.reload) must not register twice
        TV_BACKBONES.register(_name)(_spec)
