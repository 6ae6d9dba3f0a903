"""Plain-PyTorch training engine (no Ray / MLflow imports here): ``build`` builds a run, ``loop`` runs it.

Names load on first use (pad_core/lazy_exports.py): a submodule that needs no torch (``checkpoint_files``, read by
``--plan``) imports without the engine.
"""

from typing import TYPE_CHECKING

from pad_core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pad_core.engine.build import Built, build_training
    from pad_core.engine.context import Report, RunContext
    from pad_core.engine.loop import NonFiniteLoss, TimeBudgetExceeded, TrainingRun, TrialStopped, train

__all__ = ["Built", "NonFiniteLoss", "Report", "RunContext", "TimeBudgetExceeded", "TrainingRun", "TrialStopped",
           "build_training", "train"]
__getattr__ = lazy_exports(__name__, {
    "build": ("Built", "build_training"),
    "context": ("Report", "RunContext"),
    "loop": ("NonFiniteLoss", "TimeBudgetExceeded", "TrainingRun", "TrialStopped", "train"),
})
