"""From a dataset as downloaded to a paper table: each importer's fixture tree (the published layout, generated here)
is imported by the real command line, and the table its data serves runs as a smoke sweep from that manifest on the
real stack (Ray head, MLflow server), its cells finished and the table printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pad_core.ablation.render import CI_STATS, FALLBACK
from tests.fixtures.layouts import flash as flash_layout
from tests.fixtures.layouts import irisgeneral as iris_layout
from tests.fixtures.layouts import jfsfdb as jfsfdb_layout
from tests.fixtures.layouts import mmdg as mmdg_layout
from tests.fixtures.layouts import uniattackdata as uniattack_layout
from tests.integration.conftest import run_sweep
from tests.integration.test_sweeps import children

ROOT = Path(__file__).resolve().parents[2]
# The fixture JFSFDB holds the six member sets padsweep reads (3DMAD, HKBU-MARs and 3DMask are refused by the
# importer), so its protocols run only with their absent sets named in the run's notes.
ABSENT_OK = ("--set", "data.allow_missing_values=true")

CASES = {  # importer -> (fixture writer, sweep files of the tables its data serves, extra sweep arguments)
    "uniattackdata": (uniattack_layout.write, ("moae_uniattack.py", "suede_uniattack.py"), ()),
    "jfsfdb": (jfsfdb_layout.build, ("moae_jfsfdb.py", "suede_jfsfdb.py"), ABSENT_OK),
    "irisgeneral": (iris_layout.write, ("mmoe_backbones.py",), ()),
    "mmdg": (lambda root: (mmdg_layout.mmdg_benchmark(root), root)[1], ("bigmoe_cpb.py",), ()),
    "flash": (flash_layout.build, ("atr_dn.py",), ()),
}


def imported(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    root.mkdir()
    CASES[name][0](root)
    out = root / "padsweep_manifest.parquet"
    proc = subprocess.run([sys.executable, "-m", "pad_core", "import", name, str(root), "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_imported_dataset_runs_the_smoke_sweeps_of_its_tables(stack, tmp_path, name):
    manifest = imported(name, tmp_path)
    for sweep_file in CASES[name][1]:
        sweep = f"imported-{Path(sweep_file).stem}"
        out = run_sweep(stack, sweep_file, "--smoke-test", "--data", str(manifest), "--sweep-name", sweep,
                        *CASES[name][2]).stdout
        _, runs = children(MlflowClient(stack["mlflow"]), sweep)
        assert runs and all(r.data.tags["pad.outcome"] == "completed" for r in runs), sweep
        assert len({r.data.tags["pad.data_version"] for r in runs}) == 1  # every cell read the imported manifest
        assert CI_STATS in out and FALLBACK not in out, out[-3000:]  # intervals from every run's scores
