"""padsweep core: configs, models, data, metrics, engine and ablation tables for MoE PAD research.

Ray, MLflow and Optuna are used only by :mod:`pad_core.integrations`.
"""

from pad_core.config import RunCfg, config_hash, from_flat, to_flat
from pad_core.errors import ConfigError, DataError, PadError, SweepError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "PadError", "RunCfg", "SweepError", "config_hash", "from_flat", "to_flat"]


def create_model(*args, **kwargs):
    """See :func:`pad_core.models.create_model` (imported lazily: it loads torch and open_clip)."""
    from pad_core.models import create_model as _create

    return _create(*args, **kwargs)
