"""Imports follow use: a sweep file's ``--help``, its parser and a refusal that needs no data, model or cluster load
none of torch, open_clip, pandas, Ray, MLflow or Optuna (seconds each: docs/BENCHMARKS.md §13).

Each check runs in a fresh interpreter (this test process has imported them all) and reads its ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "open_clip", "pandas", "ray", "mlflow", "optuna")

# Every sweep file's module level (its declaration and imports), the shared parser, --help and one refusal.
PROBE = """
import contextlib, io, json, runpy, sys
from pathlib import Path

done = {}
def loaded(what):
    done[what] = sorted(m for m in HEAVY if m in sys.modules)

HEAVY = %r
for path in sorted(Path("sweeps").glob("*.py")):
    runpy.run_path(str(path), run_name="probe")  # module level only: the file's sweep_main call is not run
loaded("import every sweep file")
from pad_core.integrations.cli import build_parser, sweep_main
build_parser("probe").parse_args(["--seeds", "0,1", "--protocols", "P1"])
loaded("build the parser")
for argv in (["--help"], ["--seeds", "0,0"], ["--set", "moe.soft.nrm=1"], ["--set", "optim.lr=abc"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            sweep_main("probe", "sweeps/probe.py", get_ablation=lambda args: None, argv=argv)
        except SystemExit as end:
            code = end.code
    loaded(f"{' '.join(argv)} (exit {code}: {err.getvalue().strip()[:80]})")
print(json.dumps(done))
"""


def test_help_parser_and_a_refusal_load_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    done = json.loads(out.stdout.splitlines()[-1])
    assert len(done) == 6 and any("exit 0" in k for k in done) and any("exit 2: error: --seeds=" in k for k in done)
    # --set is checked against the config schema while the arguments are parsed: key and value, no model needed
    assert any("exit 2: error: --set moe.soft.nrm='1': unknown config key" in k for k in done)
    assert any("exit 2: error: --set optim.lr='abc': not a valid float" in k for k in done)
    assert done == {what: [] for what in done}


def test_a_lazily_exported_name_wins_over_its_submodule_of_the_same_name():
    """``pad_core.ablation.render`` (module render.py, function render): the package's name is the function, as when
    the package imported it eagerly, even where the submodule was imported first."""
    probe = ("import pad_core.ablation.render\nfrom pad_core.ablation import render, Row\n"
             "import pad_core.ablation as ab\nprint(callable(render), type(render).__name__, ab.render is render)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "function", "True"]


def test_a_plan_starts_no_cluster_library(tmp_path):
    """``--plan`` reads the manifest and the configs (pandas, torch for the weights rule) but never Ray, MLflow or
    Optuna: it needs no cluster, and no MLflow server when none is given."""
    probe = ("import runpy, sys\nsys.argv = ['sweeps/mmoe_components.py', '--plan', '--smoke-test', '--storage', "
             f"{str(tmp_path)!r}]\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nfinally:\n"
             "    print('LOADED', *sorted(m for m in ('ray', 'mlflow', 'optuna') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "estimated GPU-hours" in out.stdout and out.stdout.splitlines()[-1] == "LOADED"
