"""Plain-PyTorch training engine (no Ray / MLflow imports here)."""

from pad_core.engine.loop import NonFiniteLoss, RunContext, TimeBudgetExceeded, TrainingRun, TrialStopped, train

__all__ = ["NonFiniteLoss", "RunContext", "TimeBudgetExceeded", "TrainingRun", "TrialStopped", "train"]
