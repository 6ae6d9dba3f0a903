"""The file names inside a checkpoint folder (pad_core/engine/checkpoint.py writes them). Torch-free, so that a
reader that only looks for them (``--plan`` asking which cells can resume) loads no torch."""

STATE_FILE = "state.pt"  # what a resume needs: model, optimiser, schedule, TrainState, every rank's RNG streams
BEST_FILE = "best.pt"  # the best-dev weights, only in the checkpoint written after they changed
META_FILE = "meta.json"  # step, best step and world size, readable without loading the state
