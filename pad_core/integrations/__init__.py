"""The only modules that import ray, mlflow or optuna (Ray Train/Tune, MLflow records, services).

Import submodules directly (``pad_core.integrations.sweep``); this package imports nothing eagerly so
that ``pad_core`` stays importable without starting Ray.
"""
