"""What a ``backbone.pretrained`` value names: random init (""), an open_clip tag ("openai") or a local weights file.

One rule, without torch, for the command line (which makes file paths absolute before trials run elsewhere), the
preflight (which opens files and resolves tags) and the rehearsal (which stages a file for each tag).
"""

from __future__ import annotations

import os

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".npz", ".npy", ".pkl")


def is_weights_path(pretrained: str) -> bool:
    """An existing path, anything with a folder separator or a weights suffix, or a home/relative prefix; URLs
    (``s3://``, ``hf-hub:``) count as paths here so they are never mistaken for a tag (the preflight refuses them)."""
    return bool(pretrained) and (os.path.exists(os.path.expanduser(pretrained)) or "/" in pretrained
                                 or os.sep in pretrained or pretrained.startswith(("~", "."))
                                 or pretrained.lower().endswith(WEIGHT_SUFFIXES))


def is_tag(pretrained: str) -> bool:
    """An open_clip pretrained tag ("openai"), as opposed to random init ("") or a local file."""
    return bool(pretrained) and not is_weights_path(pretrained)
