"""Links into the MLflow UI that show a sweep's runs side by side, and headless-Chromium capture of them.

The UI nests child runs under their parent unless the list is filtered and not sorted by start time, so the
sweep link filters by ``pad.sweep`` and sorts by the headline test metric: every cell's run is then a row,
named ``row·protocol·sSEED``, and the chart view compares their curves.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.parse

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def sweep_url(tracking_uri: str, experiment_id: str, sweep: str, sort_metric: str = "", charts: bool = False) -> str:
    query = {"searchFilter": f"tags.`pad.sweep` = '{sweep}'",
             "orderByKey": f"metrics.`{sort_metric}`" if sort_metric else "attributes.run_name", "orderByAsc": "true"}
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
