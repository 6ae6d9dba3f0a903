"""The two service addresses a sweep is given, checked before anything is recorded:

- the MLflow tracking URI must name a tracking *server* (http/https, or hosted Databricks): a file, folder,
  SQLite or database store lives on one machine, and trials on other Ray nodes would write their runs into their
  own copies (the table, rebuilt on the driver, would miss them). A server that answers but is not MLflow (the Ray
  dashboard, given by mistake) is refused by probing MLflow's REST API;
- the Ray address must name the cluster (its GCS ``host:6379`` or a Ray client ``ray://host:10001``), not the
  dashboard / job API (``http://host:8265``), which ``ray.init`` cannot join.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from pad_core.errors import SweepError

TRACKING_KEY = "--mlflow-uri / MLFLOW_TRACKING_URI"
RAY_KEY = "--ray-address / RAY_ADDRESS"
HOSTED = ("databricks", "databricks-uc")  # hosted MLflow, reachable from every node; logs in through the env
HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:\d+(/.*)?")  # 127.0.0.1:5000, mlflow.internal:5000/
MLFLOW_PROBE = "/api/2.0/mlflow/experiments/search?max_results=1"  # a read every MLflow server answers
SERVER_FIX = ("run a tracking server over that store (bash scripts/services.sh up, or python -m "
              "pad_core.integrations.services mlflow --help) and pass its http:// address")


def scheme_of(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def check_tracking_form(uri: str) -> None:
    """Refuse, without contacting anything, a tracking URI that is not an MLflow server every node can reach."""
    scheme = scheme_of(uri)
    if scheme in ("http", "https"):
        if not urlsplit(uri).hostname:
            raise SweepError(TRACKING_KEY, uri, "no host in the address", "write e.g. http://127.0.0.1:5000")
        return
    if scheme in HOSTED or uri in HOSTED or uri.startswith(tuple(f"{h}:" for h in HOSTED)):
        return
    if not scheme and HOST_PORT.fullmatch(uri):
        raise SweepError(TRACKING_KEY, uri, "no http:// in front: MLflow would read it as a local folder and record "
                         "the sweep there", f"write --mlflow-uri http://{uri}")
    if scheme in ("", "file", "sqlite"):
        where = "a store on this machine's disk (a file, folder or SQLite database)"
    else:
        where = f"a {scheme}:// store used directly, without a tracking server (artifacts would stay on each node)"
    raise SweepError(TRACKING_KEY, uri, f"{where}: trials on other Ray nodes cannot write to it, so their runs would "
                     "be lost to the table rebuilt here; a sweep records through an MLflow tracking server", SERVER_FIX)


def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error status is an answer too. Raises OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - http(s) URLs only
            return reply.status, reply.read(65536)
    except urllib.error.HTTPError as err:
        return err.code, err.read(65536) if err.fp else b""
    except http.client.HTTPException as err:  # something answered, but not in HTTP/1.x (a gRPC port)
        raise OSError(f"not an HTTP answer ({err.__class__.__name__})") from None


def json_object(body: bytes) -> dict | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def ray_dashboard(base_url: str, timeout: float = 3.0) -> str | None:
    """"the Ray dashboard (Ray <version>)" when a Ray dashboard answers at ``base_url``, else None. With token
    auth on (clusters) the API answers 401, but the page at / still carries the title "Ray Dashboard"."""
    base = base_url.rstrip("/")
    try:
        status, body = http_get(base + "/api/version", timeout)
        found = json_object(body) if status == 200 else None
        if found and "ray_version" in found:
            return f"the Ray dashboard (Ray {found['ray_version']})"
        status, body = http_get(base + "/", timeout)
    except (OSError, ValueError):
        return None
    return "the Ray dashboard" if status == 200 and b"<title>Ray Dashboard</title>" in body else None


def probe_mlflow(uri: str, timeout: float = 5.0) -> None:
    """Refuse in seconds when nothing answers at ``uri`` (the client would retry for minutes), or when what answers
    is not MLflow. 401/403 count as MLflow with authentication on (the client logs in through its environment),
    unless the page at / says it is the Ray dashboard (which answers 401 too, with token auth on)."""
    try:
        status, body = http_get(uri.rstrip("/") + MLFLOW_PROBE, timeout)
    except (OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise SweepError(TRACKING_KEY, uri, f"no MLflow server answers there ({reason})",
                         "start it (bash scripts/services.sh up) or fix the address") from None
    mlflow = status in (401, 403) or (status == 200 and json_object(body) is not None)
    ray = ray_dashboard(uri, timeout)
    if mlflow and not ray:
        return
    what = ray or f"an HTTP server that is not MLflow (GET {MLFLOW_PROBE} answered {status})"
    raise SweepError(TRACKING_KEY, uri, f"{what} answers there, not an MLflow tracking server",
                     "give the MLflow server's address (bash scripts/services.sh up prints it, port 5000 by default); "
                     "the Ray dashboard's address is for ray job submit --address")


def check_ray_form(address: str) -> tuple[str, int]:
    """(host, port) of a Ray cluster address; an HTTP address (the dashboard / job API) or another scheme is
    refused, naming the address a sweep needs."""
    scheme = scheme_of(address)
    parts = urlsplit(address if scheme else f"ray://{address}")
    host = parts.hostname or "<head>"
    if scheme in ("http", "https"):
        raise SweepError(RAY_KEY, address, "an HTTP address: the Ray dashboard / job API, which a sweep cannot "
                         "join as a driver", f"give the cluster's GCS address {host}:6379 (or ray://{host}:10001 "
                         "for Ray client); to go through the dashboard, submit the sweep instead: ray job submit "
                         f"--address {address} --working-dir . -- python sweeps/<file>.py")
    if scheme not in ("", "ray"):
        raise SweepError(RAY_KEY, address, f"unknown scheme {scheme}://", f"give {host}:6379 (GCS) or "
                         f"ray://{host}:10001 (Ray client), or unset RAY_ADDRESS for a local Ray")
    try:
        return parts.hostname or "", parts.port or (10001 if scheme == "ray" else 6379)
    except ValueError as err:
        raise SweepError(RAY_KEY, address, f"not a host:port address ({err})",
                         "give host:6379 (GCS) or ray://host:10001 (Ray client)") from None


def refuse_http_port(address: str, host: str, port: int, timeout: float = 3.0) -> None:
    """The GCS and Ray client ports speak gRPC; a port that answers plain HTTP is a web server (the Ray dashboard,
    or MLflow given by mistake), which ``ray.init`` would wait on for minutes."""
    try:
        status, _ = http_get(f"http://{host}:{port}/", timeout)
    except (OSError, ValueError):
        return  # no HTTP answer: a gRPC port, as expected
    what = ray_dashboard(f"http://{host}:{port}", timeout) or f"an HTTP server (GET / answered {status})"
    raise SweepError(RAY_KEY, address, f"this port is {what}, not the cluster's GCS or Ray client port",
                     f"give {host}:6379 (GCS; the head's --port) or ray://{host}:10001 (Ray client); a dashboard "
                     "address is for ray job submit --address")
