"""``--plan``: the GPU-hours estimate against arithmetic done here, and the plan of a real sweep file: every cell
listed with its delta and status, a cell with a checkpoint shown as resumed, and neither Ray nor MLflow touched."""

import pytest

from pad_core.ablation.cost import A100_BF16_PEAK, ASSUMED_MFU, MOE_RATIO_ALL_BLOCKS, THROUGHPUT, estimate
from pad_core.config import from_flat, scale_overrides

VIT = "ViT-B-16-quickgelu"


def _cfg(**flat):
    return from_flat({**scale_overrides("paper"), **{k.replace("__", "."): v for k, v in flat.items()}})


def test_vanilla_clip_estimate_is_images_times_three_forwards_over_the_sustained_rate():
    cfg = _cfg(moe__kind="none")
    rate = A100_BF16_PEAK * ASSUMED_MFU
    train_s = 4000 * 32 * 3 * 39.51e9 / rate
    eval_s = (40 + 1) * 1000 * 39.51e9 / rate + 2000 * 39.51e9 / rate  # 40 dev evaluations + the final one, test
    assert estimate(cfg).gpu_hours == pytest.approx(train_s / 3600, rel=1e-9)
    assert estimate(cfg, dev_images=1000, test_images=2000).gpu_hours == pytest.approx((train_s + eval_s) / 3600,
                                                                                        rel=1e-9)


@pytest.mark.parametrize(("layers", "share"), [("all", 1.0), ("early", 3 / 12), ((4, 5), 2 / 12)])
def test_moe_cost_grows_with_the_blocks_it_occupies(layers, share):
    vanilla = estimate(_cfg(moe__kind="none")).gpu_hours
    moe = estimate(_cfg(moe__kind="soft", moe__layers=layers)).gpu_hours
    assert moe / vanilla == pytest.approx(1 + (MOE_RATIO_ALL_BLOCKS["soft", "visual"] - 1) * share, rel=1e-9)


def test_families_and_backbones_without_a_figure_get_no_number():
    assert estimate(_cfg(**{"backbone.name": "pad-tiny-vit"})) is None
    assert estimate(_cfg(family="atr", moe__kind="none")) is None
    assert all(fig.forward_gflop > 0 and not fig.measured for fig in THROUGHPUT.values())


def test_plan_of_a_sweep_file_lists_every_cell_and_touches_neither_ray_nor_mlflow(tmp_path, capsys, monkeypatch):
    import ray

    from pad_core.ablation.plan import base_diff
    from pad_core.data import prepare
    from pad_core.integrations.cell_checkpoints import CellCheckpoints
    from pad_core.integrations.cli import sweep_main
    from pad_core.provenance import code_version
    from sweeps.mmoe_components import SWEEP

    get_ablation = SWEEP.for_args

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    storage = tmp_path / "storage"
    argv = ["--scale", "paper", "--plan", "--storage", str(storage), "--seeds", "0,1", "--protocols", "P1"]
    text = sweep_main("plan test", "sweeps/mmoe_components.py", get_ablation=get_ablation, argv=argv)
    assert not ray.is_initialized()
    lines = [ln for ln in text.splitlines() if ln.strip().split(" ")[0] in {r.name for r in SWEEP.rows}]
    assert len(lines) == len(SWEEP.rows) * 2 and all(" train " in ln for ln in lines)
    assert "no MLflow URI given" in text and "estimated GPU-hours to run" in text
    assert "train.precision=bf16" in text  # the paper scale's precision, in the base line

    # a checkpoint in the cell's folder turns that cell into "resume"
    from pad_core.integrations.cli import base_overrides, build_parser
    from pad_core.sweep_args import SweepArgs

    ns = build_parser("x").parse_args(argv)
    spec = get_ablation(SweepArgs.from_namespace(ns, "mmoe_components-paper", base_overrides(ns)))
    cell = spec.cells()[-1]
    cell = cell.identify(code_version(), prepare(cell.cfg.data, check_files=False).manifest.sha256)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "state.pt").write_bytes(b"x")
    CellCheckpoints(str(storage), spec.name, cell.key).save(str(ckpt), 100)
    capsys.readouterr()
    again = sweep_main("plan test", "sweeps/mmoe_components.py", get_ablation=get_ablation, argv=argv)
    resumed = [ln for ln in again.splitlines() if " resume " in ln]
    assert len(resumed) == 1 and resumed[0].split()[0] == cell.row.name and resumed[0].split()[2] == str(cell.seed)
    delta = base_diff(spec, cell)
    assert all(f"{k}={v}" in resumed[0] for k, v in delta.items())


def test_a_checkpoint_of_a_deleted_run_is_planned_as_train_not_resume(tmp_path, capsys, store):
    """Checkpoints resume only in the MLflow run that wrote them: once that run is deleted, the cell trains from
    step 0 (the trial discards them), and the plan says so instead of "resume"."""
    from pad_core.data import prepare
    from pad_core.integrations.cell_checkpoints import CellCheckpoints
    from pad_core.integrations.cli import base_overrides, build_parser, sweep_main
    from pad_core.integrations.mlflow_runs import SweepRecord
    from pad_core.provenance import code_version
    from pad_core.sweep_args import SweepArgs
    from sweeps.mmoe_components import SWEEP

    uri, storage = store, tmp_path / "storage"  # the session's MLflow server (a sweep refuses local stores)
    argv = ["--plan", "--storage", str(storage), "--seeds", "0", "--protocols", "P1", "--mlflow-uri", uri,
            "--sweep-name", "plan-deleted-run", "--allow-random-init"]  # demo-sized, no demo backbone needed
    ns = build_parser("x").parse_args(argv)
    spec = SWEEP.for_args(SweepArgs.from_namespace(ns, "plan-deleted-run", base_overrides(ns)))
    cell = spec.cells()[-1]
    cell = cell.identify(code_version(), prepare(cell.cfg.data, check_files=False).manifest.sha256)
    record = SweepRecord(uri, "padsweep")
    run_id = record.child(record.parent(spec.name, {}), cell.key, cell.run_name, {}, {}).run_id
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "state.pt").write_bytes(b"x")
    CellCheckpoints(str(storage), spec.name, cell.key, run_id=run_id).save(str(ckpt), 3)

    def status() -> str:
        capsys.readouterr()
        text = sweep_main("plan test", "sweeps/mmoe_components.py", get_ablation=SWEEP.for_args, argv=argv)
        line = next(ln for ln in text.splitlines() if ln.split()[:1] == [cell.row.name])
        return line.split()[3]

    assert status() == "resume"
    record.client.delete_run(run_id)
    assert status() == "train"


def test_paper_plan_shows_each_rows_weights_and_marks_the_guessed_values(monkeypatch):
    """MMoE Tables 3-4 at the paper scale: CLIP rows start from the openai tag, torchvision rows from torchvision's
    ImageNet file, and the values MMoE does not give (FLIP's batch, steps, weight decay) are marked as guesses."""
    from pad_core.integrations.cli import sweep_main
    from sweeps.mmoe_backbones import SWEEP

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    argv = ["--scale", "paper", "--plan", "--seeds", "0", "--protocols", "P1", "--set", "optim.weight_decay=1e-5"]
    text = sweep_main("plan test", "sweeps/mmoe_backbones.py", get_ablation=SWEEP.for_args, argv=argv)
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln.strip().split(" ")[0] in {r.name for r in SWEEP.rows}}
    assert " weights " in text
    for row in ("clip", "flip", "mmoe"):
        assert lines[row].split()[5] == "openai"
    assert "torchvision ResNet50_Weights.IMAGENET1K_V1" in lines["resnet50"]
    assert "torchvision ViT_B_16_Weights.IMAGENET1K_V1" in lines["vit_b16"]
    assert "train.steps=4000 [guess]" in text and "data.batch_size=32 [guess]" in text
    assert "optim.lr=1e-06," in text  # MMoE prints its lr: not a guess
    assert "optim.weight_decay=1e-05," in text and "optim.weight_decay=1e-05 [guess]" not in text  # the user's value
    assert "    train.steps=4000: MMoE does not say" in text


def test_weights_column_for_models_without_pretrained_parts():
    from pad_core.ablation.plan import weights_of
    from search_spaces.atr_fas import ATR_BASE

    assert weights_of(from_flat(dict(ATR_BASE))) == "none (no pretrained parts)"
    assert weights_of(from_flat({**ATR_BASE, "atr.encoder": "clip"})) == "openai"  # its CLIP encoder is pretrained
    assert weights_of(from_flat({"backbone.pretrained": ""})) == "random init"
    mesonet = {"backbone.name": "meso4", "head.kind": "linear"}
    assert weights_of(from_flat(mesonet)) == "random init (torchvision has no meso4 weights)"
    assert weights_of(from_flat({**mesonet, "backbone.imagenet_weights": "/w/meso4.pt"})) == "/w/meso4.pt"
