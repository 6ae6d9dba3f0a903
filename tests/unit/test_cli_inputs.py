"""The sweep command line by class of input (issue 16, causes 1, 2 and 3 of the command line, 9):

- every padsweep exception survives pickling and Ray's rebuilding of a task's error, and its
  ``key=value: problem. Fix: ...`` text is what a failed cell's ``pad.reason`` carries;
- inputs repeated, empty, zero or negative, or set by the sweep itself are refused, not replaced or dropped;
- misleading inputs (ranges, spaces, groups, service addresses of the wrong kind, unsafe names, S3 without
  credentials) get ``<key>=<value>: <problem>. Fix: ...``, exit 2, and leave a real MLflow server unchanged;
- local paths are made absolute on the driver (trials run in another folder).

Refusals go through the real command line (``sweep_main``) with an unreachable Ray address; the services probed
are real (an MLflow server, a local Ray instance with its dashboard).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pickle
import pkgutil
import re
from pathlib import Path

import pytest

import pad_core
from pad_core.ablation import Row
from pad_core.config import to_flat, to_params
from pad_core.errors import PadError
from pad_core.integrations.cli import base_overrides, build_parser, options, sweep_main
from pad_core.integrations.cli_inputs import NUMBERS, parse
from pad_core.sweep_args import SweepArgs, add_own_flags
from tests.refusals import (  # noqa: F401 - no_ambient_cluster: autouse fixture
    ROOT,
    UNREACHABLE_RAY,
    inputs_of,
    no_ambient_cluster,
    refused,
)

BAD_ROWS = (Row("clip", "CLIP", {}), Row("it's", "a quote in a row name", {"optim.lr": 2e-3}))
REFUSAL_SECONDS: dict[str, float] = {}  # case -> seconds from sweep_main to exit 2 (printed at the end)


def exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in pad_core, found by importing each module (a new one is covered)."""
    found = {}
    for info in pkgutil.walk_packages(pad_core.__path__, "pad_core."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def example(cls: type[BaseException]) -> BaseException:
    """An instance built from the constructor's own parameters (a string per required one)."""
    try:
        params = [p for p in inspect.signature(cls).parameters.values()
                  if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except ValueError:  # a builtin's signature (no __init__ of its own): one message
        params = []
    return cls(*[f"<{p.name}>" for p in params]) if params else cls("a message")


@pytest.mark.parametrize("cls", exception_classes(), ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_padsweep_exception_survives_pickling(cls):
    import ray.cloudpickle

    error = example(cls)
    for dumps, loads in ((pickle.dumps, pickle.loads), (ray.cloudpickle.dumps, ray.cloudpickle.loads)):
        back = loads(dumps(error))
        assert type(back) is cls and str(back) == str(error) and back.args == error.args
        assert vars(back) == vars(error)


def test_the_walk_finds_padsweeps_own_errors():
    names = {c.__name__ for c in exception_classes()}
    assert {"PadError", "ConfigError", "DataError", "SweepError", "TrialStopped", "CheckpointError",
            "GpuUnavailable"} <= names


def test_a_failed_cells_reason_is_the_pad_errors_own_text():
    """pad.reason: the ``key=value: problem. Fix: ...`` line, from the exception (however wrapped) or from the
    trial's traceback text; other errors keep their class-named line."""
    from pad_core.errors import DataError
    from pad_core.integrations.callbacks import _reason

    message = "data.manifest='/m.csv': cannot read the manifest. Fix: give an existing path"
    try:
        try:
            raise OSError("disk gone")
        except OSError as err:
            raise DataError("data.manifest", "/m.csv", "cannot read the manifest", "give an existing path") from err
    except DataError as err:
        assert _reason(err) == message
    trace = f'ray::train() (pid=1)\n  File "loop.py", line 9, in fit\npad_core.errors.DataError: {message}'
    assert _reason(trace) == message
    assert _reason("Traceback ...\npad_core.engine.loop.NonFiniteLoss: loss is nan at step 3") == \
        "pad_core.engine.loop.NonFiniteLoss: loss is nan at step 3"


@pytest.fixture(scope="module")
def server(store):
    """The session's MLflow server holding an earlier sweep (tests/conftest.py::store)."""
    yield store
    print("\ntime to refusal (s, in-process):", {k: round(v, 2) for k, v in REFUSAL_SECONDS.items()})


def refusal(file: str, args: list[str], server: str, capsys, ray_address: str = UNREACHABLE_RAY) -> str:
    """stderr of the command line, which must exit 2 and leave the MLflow server exactly as it was."""
    return refused(file, args, server, capsys, ray_address=ray_address, times=REFUSAL_SECONDS)


REPEATED_OR_IGNORED = [  # (sweep file, arguments, what the message must say)
    ("mask_rates.py", ["--seeds", "0,0"], r"--seeds='0,0'.*named more than once.*Fix: name each once: --seeds 0"),
    ("mask_rates.py", ["--protocols", "P1,P1"], r"--protocols='P1,P1'.*more than once"),
    ("mmoe_backbones.py", ["--protocols", "P3,P3.1"], r"--protocols='P3,P3.1'.*\['P3.1'\].*more than once.*groups"),
    ("mask_rates.py", ["--protocols", "P3, P3.2"], r"\['P3.2'\].*more than once"),
    ("mask_rates.py", ["--mode", "search", "--confirm-seeds", "100,100"], r"--confirm-seeds='100,100'.*more than"),
    ("mask_rates.py", ["--set", "train.seed=7"], r"--set train.seed='7'.*sets this key itself.*Fix: use --seeds"),
    ("mask_rates.py", ["--set", "data.protocol=P2"], r"--set data.protocol='P2'.*itself.*Fix: use --protocols"),
    ("hpo.py", ["--set", "train.seed=3"], r"--set train.seed.*--confirm-seeds"),
    ("mask_rates.py", ["--set", "optim.lr=1e-3", "--set", "optim.lr=2e-3"], r"--set=.*optim.lr=1e-3.*optim.lr=2e-3.*"
                                                                             r"more than once.*only the last"),
    ("mask_rates.py", ["--data", "synthetic:iris", "--set", "data.manifest=synthetic:iris"],
     r"--set data.manifest.*--data is given too"),
    ("mask_rates.py", ["--seeds", ""], r"--seeds='': an empty list.*default would be used"),
    ("mask_rates.py", ["--protocols", " "], r"--protocols=' ': an empty list"),
    ("mask_rates.py", ["--mode", "search", "--confirm-seeds", ""], r"--confirm-seeds='': an empty list"),
    ("mask_rates.py", ["--seeds", "0,,1"], r"--seeds='0,,1': an empty item.*Fix: write --seeds 0,1"),
    ("mask_rates.py", ["--mode", "search", "--num-samples", "0"], r"--num-samples=0: must be >= 1"),
    ("mask_rates.py", ["--mode", "search", "--top-k", "0"], r"--top-k=0: must be >= 1"),
    ("hpo.py", ["--num-samples", "-3"], r"--num-samples=-3: negative"),
    ("mask_rates.py", ["--max-concurrent", "0"], r"--max-concurrent=0: must be >= 1.*omit the flag"),
    ("mask_rates.py", ["--workers-per-trial", "0"], r"--workers-per-trial=0: must be >= 1"),
    ("mask_rates.py", ["--seeds", "-1"], r"--seeds=-1: negative.*between 0 and 4294967295"),
    ("mask_rates.py", ["--seeds=1,-2"], r"--seeds=-2: negative"),
    ("mask_rates.py", ["--num-samples", "8"], r"--num-samples=8: only --mode search reads it.*--mode ablation"),
    ("mask_rates.py", ["--scheduler", "sha"], r"--scheduler='sha': only --mode search reads it"),
    ("hpo.py", ["--seeds", "1,2"], r"--seeds='1,2': only --mode ablation reads it.*--confirm-seeds"),
    ("hpo.py", ["--protocols", "P1,P2"], r"--protocols='P1,P2': names 3 protocols.*a search runs in one"),
    ("mask_rates.py", ["--mode", "search", "--protocols", "P3"], r"names 6 protocols.*--search-protocol P3.1"),
    ("mask_rates.py", ["--mode", "search", "--protocols", "P1", "--search-protocol", "P2"],
     r"given with --search-protocol"),
    ("mask_rates.py", ["--mode", "search", "--confirm-seeds", "0,1"], r"seed 0 is the seed the search trains on"),
    ("hpo.py", ["--set", "optim.lr=1e-3"], r"--set='optim.lr': the search space draws these keys in every trial"),
]
MISLEADING = [
    ("mask_rates.py", ["--seeds", "0-2"], r"--seeds='0-2': '0-2' is a range.*Fix: list every seed: --seeds 0,1,2"),
    ("mask_rates.py", ["--seeds", "1..3"], r"is a range.*--seeds 1,2,3"),
    ("mask_rates.py", ["--seeds", "zero"], r"--seeds='zero': not an integer"),
    ("mask_rates.py", ["--sweep-name", "it's"], r"--sweep-name=\"it's\": characters \[\"'\"\] are not allowed.*"
                                                 r"MLflow filter strings"),
    ("mask_rates.py", ["--sweep-name", "a/b"], r"characters \['/'\]"),
    ("mask_rates.py", ["--sweep-name", ""], r"--sweep-name='': empty"),
    ("mask_rates.py", ["--sweep-name", "x" * 101], r"too long"),
    ("rows.py", ["--rows", "tests.unit.test_cli_inputs:BAD_ROWS"], r"row=\"it's\": characters"),
    ("mask_rates.py", ["--cpus-per-worker", "0"], r"--cpus-per-worker=0.0: must be > 0"),
    ("mask_rates.py", ["--cpus-per-worker", "-2"], r"--cpus-per-worker=-2.0: negative"),
    ("mask_rates.py", ["--gpus-per-trial", "-1"], r"--gpus-per-trial=-1.0: negative; must be >= 0"),
    ("mask_rates.py", ["--gpus-per-trial", "1.5"], r"--gpus-per-trial=1.5: above one GPU a trial holds whole GPUs"),
    ("mask_rates.py", ["--workers-per-trial", "-1"], r"--workers-per-trial=-1: negative"),
    ("mask_rates.py", ["--max-concurrent", "-1"], r"--max-concurrent=-1: negative"),
    ("mask_rates.py", ["--tracking-outage", "nan"], r"--tracking-outage=nan: not a finite number"),
    ("mask_rates.py", ["--tracking-outage", "inf"], r"--tracking-outage=inf: not a finite number"),
    ("hpo.py", ["--sampler-seed", "-1"], r"--sampler-seed=-1: negative"),
    ("hpo.py", ["--reduction-factor", "1"], r"--reduction-factor=1: must be >= 2"),
    ("hpo.py", ["--search-protocol", "P9"], r"data.protocol='P9': not a protocol of uniattackdata"),
    ("mask_rates.py", ["--experiment", ""], r"--experiment='': empty"),
    ("mask_rates.py", ["--ray-address", ""], r"--ray-address='': empty"),
    ("mask_rates.py", ["--mlflow-uri", "127.0.0.1:5000"], r"'127.0.0.1:5000': no http:// in front.*"
                                                          r"Fix: write --mlflow-uri http://127.0.0.1:5000"),
    ("mask_rates.py", ["--mlflow-uri", "localhost:5000"], r"no http:// in front"),
    ("mask_rates.py", ["--mlflow-uri", "file:///tmp/mlruns"], r"a store on this machine's disk.*other Ray nodes"),
    ("mask_rates.py", ["--mlflow-uri", "mlruns"], r"'mlruns': a store on this machine's disk"),
    ("mask_rates.py", ["--mlflow-uri", "sqlite:///mlflow.db"], r"a store on this machine's disk"),
    ("mask_rates.py", ["--mlflow-uri", "postgresql://u@db/mlflow"], r"postgresql:// store used directly"),
    ("mask_rates.py", ["--mlflow-uri", "http://127.0.0.1:9"], r"http://127.0.0.1:9.*no MLflow server answers"),
    ("mask_rates.py", ["--ray-address", "http://127.0.0.1:8265"], r"an HTTP address: the Ray dashboard.*"
                                                                  r"127.0.0.1:6379.*ray job submit --address"),
    ("mask_rates.py", ["--ray-address", "grpc://127.0.0.1:6379"], r"unknown scheme grpc://"),
]


@pytest.mark.parametrize("file, args, message", REPEATED_OR_IGNORED + MISLEADING,
                         ids=[f"{f}:{' '.join(a)[:40]}" for f, a, _ in REPEATED_OR_IGNORED + MISLEADING])
def test_refused_with_value_and_fix_before_anything_is_recorded(file, args, message, server, capsys):
    err = refusal(file, args, server, capsys)
    assert re.search(message, err, flags=re.DOTALL), err


@pytest.mark.parametrize("dest", sorted(NUMBERS))
def test_every_numeric_flag_has_a_rule_that_refuses_below_its_range(dest, server, capsys):
    rule = NUMBERS[dest]
    file = "hpo.py" if dest == "sampler_seed" else "mask_rates.py"
    flag = "--" + dest.replace("_", "-")
    below = rule.low if rule.above else rule.low - 1
    mode = ["--mode", "search"] if file == "mask_rates.py" and dest in ("num_samples", "top_k", "grace_period",
                                                                       "reduction_factor") else []
    err = refusal(file, [*mode, flag, str(rule.kind(below))], server, capsys)
    assert f"error: {flag}=" in err


def test_a_sweep_files_own_numeric_and_text_flags_are_checked_too(server, capsys):
    """A flag a sweep file adds (type=int, free text) gets the default rules: no new flag goes unchecked."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Flags:
        my_count: int = 3
        my_label: str | None = None

    kinds = {**inputs_of("mask_rates.py"), "flags": Flags}
    for args, message in ((["--my-count", "-1"], "--my-count=-1: negative"), (["--my-label", ""], "--my-label='':")):
        with pytest.raises(SystemExit):
            sweep_main(argv=["--smoke-test", "--mlflow-uri", server, *args], **kinds)
        assert message in capsys.readouterr().err
    parser = build_parser("x")
    assert not [a.dest for a in parser._actions if a.type in (int, float)]  # noqa: SLF001


def test_s3_without_any_credentials_is_refused_naming_the_variables(server, capsys, monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))  # a developer's ~/.aws stays out
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for args, key in ((["--storage", "s3://bucket/prefix"], "--storage='s3://bucket/prefix'"),
                      (["--data", "s3://bucket/manifest.csv"], "data.manifest='s3://bucket/manifest.csv'")):
        err = refusal("mask_rates.py", args, server, capsys)
        assert f"{key}: no S3 credentials found" in err and "AWS_ACCESS_KEY_ID" in err, err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone")  # with credentials the check lets the URI through
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    opts = options(parse(build_parser("x"), ["--mlflow-uri", server, "--storage", "s3://bucket/prefix"]))
    assert opts.storage_path == "s3://bucket/prefix"


def spec_of(file: str, argv: list[str]):
    kinds = inputs_of(file)
    parser = build_parser("x")
    if "flags" in kinds:
        add_own_flags(parser.add_argument_group("this sweep"), kinds["flags"])
    ns = parse(parser, argv)
    return kinds["get_ablation"](SweepArgs.from_namespace(ns, "t", base_overrides(ns), flags=kinds.get("flags"))), ns


GROUPS = {"irisgeneral": "P3", "flash": "F", "uniattackdata": "P2", "mmdg": "P1", "jfsfdb": "separate-intra"}


@pytest.mark.parametrize("file", sorted(p.name for p in (ROOT / "sweeps").glob("*.py") if p.name != "hpo.py"))
def test_every_sweep_file_expands_protocol_groups_the_same_way(file):
    from pad_core.data.protocols import load_benchmark

    default, _ = spec_of(file, ["--smoke-test"])
    benchmark = load_benchmark(default.cells()[0].cfg.data.benchmark)
    group = GROUPS[benchmark.name]
    spec, _ = spec_of(file, ["--smoke-test", "--protocols", f" {group} "])
    assert spec.protocols == tuple(benchmark.groups[group])  # spaces stripped, the group's members in order


def test_spaces_around_protocols_are_stripped_and_explicit_lists_survive_the_smoke_scale():
    spec, _ = spec_of("mmoe_components.py", ["--smoke-test", "--protocols", "P1, P2", "--seeds", " 3 , 4"])
    assert spec.protocols == ("P1", "P2") and spec.seeds == (3, 4)


def test_relative_paths_are_made_absolute_in_the_config_the_trials_receive(tmp_path, monkeypatch):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "clip.pt").write_bytes(b"")
    (tmp_path / "manifest.csv").write_text("path\n")
    monkeypatch.chdir(tmp_path)
    argv = ["--mlflow-uri", "http://127.0.0.1:5000", "--data", "manifest.csv", "--pretrained", "weights/clip.pt",
            "--storage", "ray_results"]
    spec, ns = spec_of("mask_rates.py", argv)
    cell = spec.cells()[0]
    flat = to_flat(cell.cfg)  # a trial's plan carries this config (sweep.plans), and logs it as MLflow params
    assert flat["data.manifest"] == to_params(cell.cfg)["data.manifest"] == str(tmp_path / "manifest.csv")
    assert flat["backbone.pretrained"] == str(tmp_path / "weights" / "clip.pt")
    assert options(ns).storage_path == str(tmp_path / "ray_results")
    monkeypatch.chdir(ROOT)  # what the trial sees does not depend on its folder
    assert Path(flat["data.manifest"]).is_file() and Path(flat["backbone.pretrained"]).is_file()


@pytest.mark.parametrize("given, kept", [("openai", True), ("laion2b_s34b_b79k", True), ("", True),
                                         ("w.safetensors", False), ("./w", False), ("~/w.pt", False),
                                         ("hf-hub:org/model", True), ("https://host/w.pt", True)])
def test_pretrained_tags_and_uris_are_kept_and_files_made_absolute(given, kept):
    ns = parse(build_parser("x"), ["--pretrained", given, "--data", "synthetic:iris"])
    flat = base_overrides(ns)
    assert (flat["backbone.pretrained"] == given) is kept
    assert kept or os.path.isabs(flat["backbone.pretrained"])
    assert flat.get("data.manifest", "synthetic:iris") == "synthetic:iris"


@pytest.mark.parametrize("given, kept", [("torchvision", True), ("", True), ("IMAGENET1K_V1", True),
                                         ("resnet50-0676ba61.pth", False), ("./w", False), ("~/w.pth", False)])
def test_imagenet_weights_keep_torchvision_and_make_files_absolute(given, kept):
    """--imagenet-weights is parsed like --pretrained ('' = random init is accepted): 'torchvision' (its cache) and
    words are kept (a word is refused by the preflight with the values it takes), files made absolute."""
    ns = parse(build_parser("x"), ["--imagenet-weights", given])
    flat = base_overrides(ns)
    assert (flat["backbone.imagenet_weights"] == given) is kept
    assert kept or os.path.isabs(flat["backbone.imagenet_weights"])


def test_weight_flags_and_their_set_keys_are_not_given_twice():
    ns = parse(build_parser("x"), ["--imagenet-weights", "torchvision", "--set", "backbone.imagenet_weights="])
    with pytest.raises(PadError, match=r"--imagenet-weights is given too"):
        base_overrides(ns)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance of this process, with its dashboard (token auth as Ray sets it up by default)."""
    import ray

    from pad_core.integrations.services import free_port

    context = ray.init(address="local", num_cpus=1, include_dashboard=True, dashboard_host="127.0.0.1",
                       dashboard_port=free_port(), log_to_driver=False)
    yield {"dashboard": context.dashboard_url, "gcs": context.address_info["gcs_address"]}
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.ray
def test_a_pad_error_raised_in_a_ray_task_arrives_as_itself(local_ray):
    import ray

    from pad_core.errors import DataError
    from pad_core.integrations.callbacks import _reason

    @ray.remote
    def resume():
        raise DataError("checkpoint", "/ckpt/state.pt", "checkpoint file not found", "resume from a folder with one")

    with pytest.raises(PadError) as info:
        ray.get(resume.remote())
    message = "checkpoint='/ckpt/state.pt': checkpoint file not found. Fix: resume from a folder with one"
    assert isinstance(info.value, DataError) and info.value.key == "checkpoint" and str(info.value.cause) == message
    assert _reason(info.value) == message  # what the failed cell's pad.reason says
    assert _reason(str(info.value)) == message  # ... also when only the traceback text is left


@pytest.mark.slow
@pytest.mark.ray
def test_service_addresses_of_the_wrong_kind_are_refused_after_probing_them(local_ray, server, capsys):
    dashboard = f"http://{local_ray['dashboard']}"
    err = refusal("mask_rates.py", ["--mlflow-uri", dashboard], server, capsys)
    assert re.search(r"the Ray dashboard.* answers there, not an MLflow tracking server", err), err
    err = refusal("mask_rates.py", [], server, capsys, ray_address=local_ray["dashboard"])
    assert re.search(r"this port is the Ray dashboard( \(Ray [\d.]+\))?, not the cluster's GCS", err), err
    err = refusal("mask_rates.py", [], server, capsys, ray_address=server.removeprefix("http://"))
    assert "this port is an HTTP server" in err, err
    err = refusal("mask_rates.py", ["--mlflow-uri", f"http://{local_ray['gcs']}"], server, capsys)
    assert "no MLflow server answers there (not an HTTP answer" in err, err


def test_the_parser_is_usable_without_sweep_main():
    """build_parser's own parse still works for valid input (tests and tools parse without sweep_main)."""
    ns = build_parser("x").parse_args(["--seeds", "0, 1", "--protocols", "P1"])
    assert isinstance(ns, argparse.Namespace) and ns.seeds == (0, 1) and ns.protocols == ("P1",)
