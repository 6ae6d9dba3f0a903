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


PLAN_PROBE = ("import runpy, sys\nsys.argv = [%r, '--plan', *%r, '--storage', %r]\ntry:\n"
              "    runpy.run_path(sys.argv[0], run_name='__main__')\nfinally:\n"
              "    print('LOADED', *sorted(m for m in %r if m in sys.modules))")
NO_PLAN_LIBRARY = ("ray", "mlflow", "optuna", "torch", "open_clip", "torchvision")


def run_plan(sweep: str, flags: list[str], storage: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    probe = PLAN_PROBE % (sweep, flags, str(storage), NO_PLAN_LIBRARY)
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env=env)


def test_a_plan_starts_no_cluster_library(tmp_path):
    """``--plan`` reads the manifest and the configs (pandas) but never Ray, MLflow or Optuna, nor torch, open_clip
    or torchvision: it needs no cluster and no model, and no MLflow server when none is given. The weights rule
    (random init refused at a scale that fine-tunes), the torchvision names, the backbone shapes and MoE blocks of
    the cost estimate and the checkpoint file names it asks are torch-free (pad_core/models/initial_weights.py,
    torchvision_names.py, backbone_shapes.py, moe_blocks.py, pad_core/engine/checkpoint_files.py)."""
    out = run_plan("sweeps/mmoe_components.py", ["--smoke-test"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "estimated GPU-hours" in out.stdout and out.stdout.splitlines()[-1] == "LOADED"
    # at the paper scale the cost estimate places the MoE layers in ViT-B/16's blocks: open_clip's config file is read
    paper = run_plan("sweeps/mmoe_components.py", ["--scale", "paper"], tmp_path)
    assert paper.returncode == 0, paper.stderr[-2000:]
    assert "ViT-B-16-quickgelu 39.51 GFLOP/img x1.62" in paper.stdout and paper.stdout.splitlines()[-1] == "LOADED"


def test_a_plan_of_torchvision_rows_loads_no_torch(tmp_path):
    """Rows of torchvision-style networks (ResNet50, ViT-B/16, the SUEDE Table II siblings) at the demo scale ask
    the random-init rule for ``backbone.imagenet_weights`` and the plan's weights column: no torch either; and a row
    refused for random init at the paper scale is refused without it."""
    out = run_plan("sweeps/suede_jfsfdb.py", ["--scale", "demo", "--allow-random-init"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resnet50" in out.stdout and out.stdout.splitlines()[-1] == "LOADED"
    refused = run_plan("sweeps/suede_jfsfdb.py", ["--scale", "paper"], tmp_path)
    assert refused.returncode == 2 and "would start from random init" in refused.stderr, refused.stderr[-2000:]
    assert refused.stdout.splitlines()[-1] == "LOADED"


def test_a_plan_of_a_search_is_refused_before_the_space_is_sampled():
    """``--mode search --plan`` has nothing to plan; the refusal comes before the dry draws of the space (Optuna, the
    model factory), so it loads none of the heavy libraries."""
    probe = ("import runpy, sys\nsys.argv = ['sweeps/hpo.py', '--plan']\ntry:\n    runpy.run_path(sys.argv[0], "
             "run_name='__main__')\nexcept SystemExit as end:\n    print('EXIT', end.code)\nfinally:\n"
             f"    print('LOADED', *sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert "error: --plan='--mode search': a search's cells are drawn while it runs" in out.stderr
    assert out.stdout.splitlines()[-2:] == ["EXIT 2", "LOADED"]
