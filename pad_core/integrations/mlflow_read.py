"""Opening MLflow to read it (tables, the runs link, plans): nothing is created, a wrong name is a clear error.

``MlflowClient`` writes as it opens a store: without a URI it makes ``./mlflow.db`` in the current folder, a
``sqlite:///`` path that does not exist becomes a new database, a ``file:`` path a new store, and
``SweepRecord`` creates a missing experiment. Reading commands open MLflow here instead: the store must exist
and answer as MLflow, the experiment and the sweep must exist, and a wrong one is named with the closest
existing ones.
"""

from __future__ import annotations

import difflib
import os
import sqlite3
import urllib.parse

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pad_core.errors import PadError
from pad_core.integrations.run_logger import QUICK
from pad_core.integrations.services.base import environ

URI_KEY = "--mlflow-uri"
SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")  # SQLAlchemy stores: MLflow creates missing tables
PARENT_FILTER = "tags.`pad.kind` = 'sweep-parent'"  # mlflow_runs.PARENT_KIND (constant: no name is quoted in)


PAGE = 1000  # runs per search request


def read_client(uri: str | None) -> MlflowClient:
    """A client on an existing MLflow store that answers as MLflow; nothing is created."""
    if not uri:
        raise PadError(URI_KEY, None, "no MLflow tracking URI given (MLflow would read, and create, ./mlflow.db "
                       "in the current folder)", "set MLFLOW_TRACKING_URI or pass --mlflow-uri")
    check_store_exists(uri)
    client = MlflowClient(uri)
    try:
        with environ(QUICK):  # a wrong server answers at once, not after minutes of client retries
            client.search_experiments(max_results=1)
    except (MlflowException, OSError) as err:
        raise PadError(URI_KEY, uri, f"it does not answer as an MLflow tracking store ({first_line(err)})",
                       "give the MLflow server's address (not the Ray dashboard's), e.g. http://127.0.0.1:5000, "
                       "or an existing store") from None
    return client


def check_store_exists(uri: str) -> None:
    """A server answers, or a local store is already there (opening a missing one would create it)."""
    scheme = urllib.parse.urlparse(uri).scheme.split("+")[0]
    if scheme in ("http", "https"):
        from pad_core.integrations.mlflow_runs import check_tracking_uri

        check_tracking_uri(uri)
    elif scheme == "sqlite":
        _check_sqlite(uri)
    elif scheme in ("file", "") or len(scheme) == 1:  # a path (a Windows drive letter parses as a scheme)
        path = urllib.parse.urlparse(uri).path if scheme == "file" else uri
        if not os.path.isdir(path) or not any(os.path.isfile(os.path.join(path, d, "meta.yaml"))
                                              for d in os.listdir(path)):
            raise PadError(URI_KEY, uri, f"no MLflow file store at {os.path.abspath(path)}",
                           "give an existing store, or the MLflow server's http:// address")
    elif scheme in SQL_SCHEMES:
        _check_tables(uri)


def _check_sqlite(uri: str) -> None:
    path = urllib.parse.unquote(uri.split("://", 1)[1].split("?", 1)[0])[1:]  # sqlite:///rel, sqlite:////abs
    if not path or not os.path.isfile(path):
        raise PadError(URI_KEY, uri, f"no MLflow database at {os.path.abspath(path) if path else '(memory)'}",
                       "give an existing store (sqlite:////absolute/path/mlflow.db) or the server's http:// address")
    try:
        with sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro", uri=True) as db:
            found = db.execute("select 1 from sqlite_master where type='table' and name='experiments'").fetchone()
    except sqlite3.DatabaseError as err:
        raise PadError(URI_KEY, uri, f"not an SQLite database ({err})", "give an MLflow store") from None
    if not found:
        raise PadError(URI_KEY, uri, "an SQLite database without MLflow's tables", "give an MLflow store")


def _check_tables(uri: str) -> None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(uri)
        has = sqlalchemy.inspect(engine).has_table("experiments")
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - a missing driver, a refused connection: all say "cannot read"
        raise PadError(URI_KEY, uri, f"the database cannot be read ({first_line(err)})",
                       "check the address and credentials") from None
    if not has:
        raise PadError(URI_KEY, uri, "a database without MLflow's tables", "give an MLflow store")


def read_experiment(client: MlflowClient, uri: str, name: str):
    """The active experiment ``name``; a missing or deleted one is an error listing the closest names."""
    found = client.get_experiment_by_name(name)
    if found is not None and found.lifecycle_stage == "active":
        return found
    names = [e.name for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=1000)]
    problem = "the experiment is deleted" if found is not None else "no such experiment"
    raise PadError("--experiment", name, f"{problem} at {uri}; {closest(name, names, 'experiments')}",
                   "give one of those (nothing was created)")


def sweep_parents(client: MlflowClient, experiment_id: str) -> list:
    """Every sweep's parent run in the experiment, deleted ones included (sweep names compared here, in Python:
    a name with a quote in it cannot break a filter string)."""
    return every_run(client, [experiment_id], PARENT_FILTER, run_view_type=ViewType.ALL)


def every_run(client: MlflowClient, experiment_ids: list[str], filter_string: str, **kwargs) -> list:
    """Every run matching the filter, page after page: a listing that stops at a count (MLflow's 1,000 a page, a
    cap of 5,000 or 50,000) silently drops runs of a large sweep (finished cells trained again, a table of half
    its runs)."""
    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string, max_results=PAGE, page_token=token, **kwargs)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def find_sweep(client: MlflowClient, experiment, sweep: str):
    """The parent run of ``sweep``; a missing or deleted one is an error listing the closest sweep names."""
    parents = sweep_parents(client, experiment.experiment_id)
    named = [r for r in parents if r.data.tags.get("pad.sweep") == sweep]
    active = [r for r in named if r.info.lifecycle_stage == "active"]
    if active:
        return active[0]
    if named:
        run_id = named[0].info.run_id
        raise PadError("--sweep", sweep, f"its parent run {run_id} in experiment {experiment.name!r} is deleted",
                       f"restore it first (mlflow runs restore --run-id {run_id})")
    names = sorted({r.data.tags.get("pad.sweep", "") for r in parents if r.info.lifecycle_stage == "active"})
    raise PadError("--sweep", sweep, f"no such sweep in experiment {experiment.name!r}; "
                   f"{closest(sweep, names, 'sweeps')}", "give the sweep name printed by the sweep "
                   "(default <file>-<scale>)")


def closest(name: str, names: list[str], what: str, shown: int = 10) -> str:
    if not names:
        return f"it has no {what}"
    folded = {n.lower(): n for n in names}  # 'Padsweep' is close to 'padsweep'
    near = [folded[n] for n in difflib.get_close_matches(name.lower(), list(folded), n=3, cutoff=0.4)]
    listed = ", ".join(repr(n) for n in sorted(names)[:shown]) + (f" (+{len(names) - shown} more)"
                                                                  if len(names) > shown else "")
    return (f"closest: {', '.join(map(repr, near))}; " if near else "") + f"{what} there: {listed}"


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:300]
