"""The only modules that import ray, mlflow or optuna (Ray Train/Tune, MLflow records, services).

Import submodules directly (``pad_core.integrations.sweep``); this package imports nothing eagerly so
that ``pad_core`` stays importable without starting Ray.
"""

import os

# No calls home from any process that records runs (drivers, trial drivers, Train workers import this
# package first): MLflow's telemetry client also rewrites os.environ from a background thread, which
# raced with an MLflow request and failed a trial here (KeyError '_MLFLOW_TELEMETRY_SESSION_ID').
for _key, _value in (("MLFLOW_DISABLE_TELEMETRY", "true"), ("DO_NOT_TRACK", "true"), ("RAY_USAGE_STATS_ENABLED", "0")):
    os.environ.setdefault(_key, _value)
