"""Links into the MLflow UI that show a sweep's runs side by side, the experiment kind that makes MLflow show it as
model training, and headless-Chromium capture of them.

The UI nests child runs under their parent unless the list is filtered and not sorted by start time, so the
sweep link filters by ``pad.sweep`` and sorts by the headline test metric: every cell's run is then a row,
named ``row·protocol·sSEED``, and the chart view compares their curves.

MLflow 3 has two views of an experiment: GenAI (traces, sessions, judges) and machine learning (runs, charts,
artifacts). The experiment tag ``mlflow.experimentKind`` records which one an experiment is; the 3.17 UI opens
the view its ``workflowType`` (a URL parameter, else the browser's last choice, GenAI by default) names. So
padsweep tags every experiment it makes as model training, and every link it prints names the training view.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.parse

KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"  # MLflow's "Machine learning" kind: runs, charts, artifacts
TRAINING_VIEW = ("workflowType", "machine_learning")  # the UI's own switch between the GenAI and training views

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def training_experiment(client, name: str) -> str:
    """The id of experiment ``name``, created with the model-training kind; an experiment an older padsweep (or a
    user) made without a kind gets it, a kind already set is left as it is."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, tags={KIND_TAG: TRAINING_KIND})
    if found.lifecycle_stage != "active":  # MLflow adds no run to a deleted experiment, and the name stays taken
        from pad_core.errors import SweepError

        raise SweepError("--experiment", name, f"experiment {found.experiment_id} of this name is deleted in MLflow",
                         f"restore it (mlflow experiments restore --experiment-id {found.experiment_id}), or give "
                         "another --experiment")
    if KIND_TAG not in found.tags:
        client.set_experiment_tag(found.experiment_id, KIND_TAG, TRAINING_KIND)
    return found.experiment_id


def experiment_url(tracking_uri: str, experiment_id: str) -> str:
    """The experiment's own page in the training view (MLflow shows its runs table there)."""
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}?{urllib.parse.urlencode([TRAINING_VIEW])}"


def sweep_url(tracking_uri: str, experiment_id: str, sweep: str, sort_metric: str = "", charts: bool = False) -> str:
    query = {"searchFilter": f"tags.`pad.sweep` = '{sweep}'",
             "orderByKey": f"metrics.`{sort_metric}`" if sort_metric else "attributes.run_name", "orderByAsc": "true",
             TRAINING_VIEW[0]: TRAINING_VIEW[1]}
    if charts:
        query["compareRunsMode"] = "CHART"
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs?{urllib.parse.urlencode(query)}"


def sweep_link(tracking_uri: str, experiment: str, sweep: str) -> str:
    """The chart view of a sweep's runs, MLflow opened read-only (nothing is created); the bare tracking URI
    when the store or the experiment is not there."""
    from pad_core.errors import PadError
    from pad_core.integrations.mlflow_read import read_client

    try:
        found = read_client(tracking_uri).get_experiment_by_name(experiment)
    except PadError:
        return tracking_uri or ""
    if found is None or found.lifecycle_stage != "active":
        return tracking_uri
    return sweep_url(tracking_uri, found.experiment_id, sweep, charts=True)


def chromium(url: str, *, screenshot: str | None = None, size: str = "1500,900", budget_ms: int = 20000) -> str:
    """The page's DOM after ``budget_ms`` of virtual time (and a PNG at ``screenshot``), from headless Chromium."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise FileNotFoundError("chromium not found; install Debian's chromium (scripts/setup_system.sh)")
    with tempfile.TemporaryDirectory() as profile:
        flags = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
                 f"--window-size={size}"]
        action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        proc = subprocess.run([binary, *flags, *action, url], capture_output=True, text=True, timeout=180)
    return proc.stdout
