"""Keep extracted snapshots between the extract and update tasks.

A snapshot of a large schema is too big for XCom (which travels through the api-server into
Airflow's database), so the extract task writes it as gzipped JSON under an
``ObjectStoragePath`` and passes only the path. The default base is a local folder, fine when
all workers share a machine; set ``[omingest] snapshot_path`` (or the operator argument) to an
``s3://``/``gs://`` location when workers are on several machines, and ``[omingest]
snapshot_conn_id`` to the Airflow connection that reaches it (e.g. an ``aws`` connection, read
by the Amazon provider's ``s3`` filesystem; none: the filesystem's default credentials).
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
import re
from datetime import datetime, timedelta, timezone

from pydantic import TypeAdapter

from airflow_provider_omingest.models.units import SchemaSnapshot

__all__ = [
    "check_snapshot_conn_id",
    "default_snapshot_base",
    "default_snapshot_conn_id",
    "delete_run_snapshots",
    "purge_stale_snapshots",
    "read_snapshots",
    "run_folder",
    "write_snapshots",
]

log = logging.getLogger(__name__)

#: Written in each run folder: when it was created (snapshots of failed runs are kept for
#: retries, then purged by a later successful run once older than the retention).
CREATED_MARKER = "_created"

_SNAPSHOTS = TypeAdapter(list[SchemaSnapshot])
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")
#: What Airflow accepts as a connection id (``airflow.models.connection.RE_SANITIZE_CONN_ID``).
_CONN_ID = re.compile(r"^[\w.-]{1,250}$")
#: The package that registers each remote scheme with ``ObjectStoragePath``.
_FILESYSTEM_PACKAGES = {
    "s3": "apache-airflow-providers-amazon[s3fs]",
    "gs": "apache-airflow-providers-google",
    "gcs": "apache-airflow-providers-google",
    "abfs": "apache-airflow-providers-microsoft-azure",
}


def default_snapshot_base() -> str:
    """Return ``[omingest] snapshot_path``, or ``$AIRFLOW_HOME/omingest/snapshots``."""
    from airflow.configuration import conf

    configured = conf.get("omingest", "snapshot_path", fallback=None)
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return "file://" + os.path.join(os.path.abspath(home), "omingest", "snapshots")


def default_snapshot_conn_id() -> str | None:
    """Return ``[omingest] snapshot_conn_id`` (None when unset)."""
    from airflow.configuration import conf

    return check_snapshot_conn_id(conf.get("omingest", "snapshot_conn_id", fallback=None) or None,
                                  "[omingest] snapshot_conn_id")


def check_snapshot_conn_id(conn_id: str | None, setting: str = "snapshot_conn_id") -> str | None:
    """Return ``conn_id`` if it can name an Airflow connection (None passes), or raise naming it.

    :raises ConfigError: for an empty or malformed id, naming the setting and the fix.
    """
    from airflow_provider_omingest.exceptions import ConfigError

    if conn_id is None or (isinstance(conn_id, str) and "{{" in conn_id):  # templated: checked when rendered
        return conn_id
    if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
        raise ConfigError(setting, conn_id, "must be an Airflow connection id (letters, digits, '_', '.', '-'), "
                                            "e.g. an `aws` connection for s3:// snapshot paths")
    return conn_id


def _path(url: str, conn_id: str | None):
    """Return ``ObjectStoragePath(url, conn_id=conn_id)``, or fail naming the package a scheme needs."""
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io.fs import has_fs

    from airflow_provider_omingest.exceptions import ConfigError

    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if not has_fs(scheme):
        package = _FILESYSTEM_PACKAGES.get(scheme, "the Airflow provider that registers it")
        raise ConfigError("snapshot_path", url, f"no Airflow filesystem is registered for {scheme}://; "
                                                f"install {package}")
    if conn_id is not None and scheme not in ("file", "local"):
        _check_connection_exists(conn_id)
    return ObjectStoragePath(url, conn_id=conn_id)


@functools.cache
def _check_connection_exists(conn_id: str) -> None:
    """Raise when connection ``conn_id`` does not exist.

    The Amazon provider's S3 filesystem falls back to boto3's default credentials and AWS's own
    endpoint when its connection is missing (``S3Hook`` logs a warning and goes on): snapshots
    would go to the wrong place, or the task would retry against AWS for minutes.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    from airflow_provider_omingest.exceptions import ConfigError

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConfigError("snapshot_conn_id", conn_id, "no such Airflow connection; create it (e.g. an `aws` "
                                                       "connection for s3://) or unset it") from None


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("_") or "_"


def run_folder(base: str, dag_id: str, run_id: str, conn_id: str | None = None):
    """Return the folder holding one run's snapshots (reached through connection ``conn_id``)."""
    return _path(base, conn_id) / _safe(dag_id) / _safe(run_id)


def write_snapshots(base: str, dag_id: str, run_id: str, unit_id: str, snapshots: list[SchemaSnapshot],
                    conn_id: str | None = None) -> str:
    """Write a unit's snapshots; return the path to pass through XCom (read it with the same ``conn_id``)."""
    folder = run_folder(base, dag_id, run_id, conn_id)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / CREATED_MARKER
    if not marker.exists():
        marker.write_text(datetime.now(timezone.utc).isoformat())
    path = folder / f"{_safe(unit_id)}.json.gz"
    data = gzip.compress(_SNAPSHOTS.dump_json(snapshots), compresslevel=3)
    tmp = folder / f".{_safe(unit_id)}.tmp"
    with tmp.open("wb") as f:
        f.write(data)
    tmp.rename(path)  # a killed task never leaves a half-written snapshot under the final name
    return str(path)


def read_snapshots(path: str, conn_id: str | None = None) -> list[SchemaSnapshot]:
    """Read a unit's snapshots written by :func:`write_snapshots`."""
    with _path(path, conn_id).open("rb") as f:
        return _SNAPSHOTS.validate_json(gzip.decompress(f.read()))


def delete_run_snapshots(base: str, dag_id: str, run_id: str, conn_id: str | None = None) -> None:
    """Remove one run's snapshot folder (missing is fine)."""
    folder = run_folder(base, dag_id, run_id, conn_id)
    if folder.exists():
        folder.rmdir(recursive=True)


def purge_stale_snapshots(base: str, dag_id: str, *, older_than: timedelta, keep_run_id: str | None = None,
                          conn_id: str | None = None) -> int:
    """Remove the snapshot folders of this DAG's runs created more than ``older_than`` ago.

    Failed runs keep their snapshots so that a cleared update task can run again; this bounds
    how long. Folders without a readable creation marker are left alone. Returns how many went.
    """
    dag_folder = run_folder(base, dag_id, "_", conn_id).parent
    if not dag_folder.exists():
        return 0
    cutoff = datetime.now(timezone.utc) - older_than
    removed = 0
    for folder in dag_folder.iterdir():
        if keep_run_id is not None and folder.name == _safe(keep_run_id):
            continue
        try:
            created = datetime.fromisoformat((folder / CREATED_MARKER).read_text().strip())
        except (OSError, ValueError):
            continue
        if created < cutoff:
            folder.rmdir(recursive=True)
            removed += 1
    if removed:
        log.info("Removed the snapshots of %d run(s) older than %s", removed, older_than)
    return removed
