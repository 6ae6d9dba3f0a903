"""Meso-4 (Afchar et al., "MesoNet: a Compact Facial Video Forgery Detection Network", WIFS 2018), the MesoNet row
of SUEDE Table II: four conv blocks on a 256 x 256 face, a 16-unit hidden layer; the classifier is padsweep's linear
head on that hidden feature (the paper's last Dense(1) + sigmoid, as a 2-way softmax). Trained from scratch in its
paper: it has no ImageNet weights.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 256
HIDDEN = 16  # the paper's Dense(16) before the output


def _block(c_in: int, c_out: int, kernel: int, pool: int) -> nn.Sequential:
    # the paper's order: conv, ReLU, batch norm, max-pool ("same" padding)
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU(inplace=True),
                         nn.BatchNorm2d(c_out), nn.MaxPool2d(pool))


class Meso4(nn.Module):
    """b 3 256 256 -> b 16: the hidden feature the head classifies."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(_block(3, 8, 3, 2), _block(8, 8, 5, 2), _block(8, 16, 5, 2),
                                      _block(16, 16, 5, 4))  # 256 / (2 * 2 * 2 * 4) = 8: a 16 x 8 x 8 map
        self.hidden = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 8 * 8, HIDDEN),
                                    nn.LeakyReLU(0.1), nn.Dropout(0.5))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.features(images))
