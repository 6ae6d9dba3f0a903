"""Row lists and search spaces of the sweeps: data and pure functions, no Ray/Optuna imports.

Search spaces are Optuna define-by-run functions of a trial-like object (``suggest_float``...); raw
draws are named ``search.*`` and the function returns the config keys they set.
"""
