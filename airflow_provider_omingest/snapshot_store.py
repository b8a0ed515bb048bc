"""Keep extracted snapshots between the extract and update tasks.

A snapshot of a large schema is too big for XCom (which travels through the api-server into
Airflow's database), so the extract task writes it as gzipped JSON under an
``ObjectStoragePath`` and passes only the path. The default base is a local folder, fine when
all workers share a machine; set ``[omingest] snapshot_path`` (or the operator argument) to an
``s3://``/``gs://`` location when workers are on several machines.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from datetime import datetime, timedelta, timezone

from pydantic import TypeAdapter

from airflow_provider_omingest.models.units import SchemaSnapshot

__all__ = [
    "default_snapshot_base",
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


def default_snapshot_base() -> str:
    """Return ``[omingest] snapshot_path``, or ``$AIRFLOW_HOME/omingest/snapshots``."""
    from airflow.configuration import conf

    configured = conf.get("omingest", "snapshot_path", fallback=None)
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return "file://" + os.path.join(os.path.abspath(home), "omingest", "snapshots")


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("_") or "_"


def run_folder(base: str, dag_id: str, run_id: str):
    """Return the folder holding one run's snapshots."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(base) / _safe(dag_id) / _safe(run_id)


def write_snapshots(base: str, dag_id: str, run_id: str, unit_id: str, snapshots: list[SchemaSnapshot]) -> str:
    """Write a unit's snapshots; return the path to pass through XCom."""
    folder = run_folder(base, dag_id, run_id)
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


def read_snapshots(path: str) -> list[SchemaSnapshot]:
    """Read a unit's snapshots written by :func:`write_snapshots`."""
    from airflow.sdk import ObjectStoragePath

    with ObjectStoragePath(path).open("rb") as f:
        return _SNAPSHOTS.validate_json(gzip.decompress(f.read()))


def delete_run_snapshots(base: str, dag_id: str, run_id: str) -> None:
    """Remove one run's snapshot folder (missing is fine)."""
    folder = run_folder(base, dag_id, run_id)
    if folder.exists():
        folder.rmdir(recursive=True)


def purge_stale_snapshots(base: str, dag_id: str, *, older_than: timedelta, keep_run_id: str | None = None) -> int:
    """Remove the snapshot folders of this DAG's runs created more than ``older_than`` ago.

    Failed runs keep their snapshots so that a cleared update task can run again; this bounds
    how long. Folders without a readable creation marker are left alone. Returns how many went.
    """
    dag_folder = run_folder(base, dag_id, "_").parent
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
