"""Plain-PyTorch training engine (no Ray / MLflow imports here): ``build`` builds a run, ``loop`` runs it."""

from pad_core.engine.build import Built, build_training
from pad_core.engine.context import Report, RunContext
from pad_core.engine.loop import NonFiniteLoss, TimeBudgetExceeded, TrainingRun, TrialStopped, train

__all__ = ["Built", "NonFiniteLoss", "Report", "RunContext", "TimeBudgetExceeded", "TrainingRun", "TrialStopped",
           "build_training", "train"]
