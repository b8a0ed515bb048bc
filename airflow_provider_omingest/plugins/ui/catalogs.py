"""Which catalog an ingestion DAG writes to, and the catalogs a user may browse (in the api-server).

The catalog connection of a DAG is the ``catalog_conn_id`` of its summary task, read from the
serialized DAG the api-server already serves (Airflow's ``DBDagBag``). A user may browse a
catalog when Airflow lets them read at least one DAG tagged ``omingest`` that writes to it.
Catalogs are opened once per connection and process, and reopened after :data:`CATALOG_TTL`
seconds (so that an edited connection takes effect).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_omingest.catalog.base import Catalog

__all__ = ["CATALOG_TTL", "IngestionTask", "browsable_catalogs", "ingestions_of", "open_catalog"]

#: Seconds a catalog (and a DAG's ingestion tasks) stay cached in one api-server process.
CATALOG_TTL = 300.0
_SUMMARY_TASK_TYPE = "OmingestSummaryOperator"


@dataclass(frozen=True)
class IngestionTask:
    """The summary task of one ingestion inside a DAG, and the catalog connection it writes to."""

    dag_id: str
    task_id: str
    catalog_conn_id: str


_lock = threading.Lock()
_catalogs: dict[str, tuple[float, Catalog]] = {}
_dag_cache: dict[str, tuple[float, list[IngestionTask]]] = {}


def ingestions_of(dag_id: str) -> list[IngestionTask]:
    """Return the ingestions (summary tasks) of ``dag_id``'s latest serialized version; empty if none."""
    now = time.monotonic()
    with _lock:
        cached = _dag_cache.get(dag_id)
        if cached and now - cached[0] < CATALOG_TTL:
            return cached[1]
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
    found = [
        IngestionTask(dag_id, task.task_id, str(task.catalog_conn_id))
        for task in (dag.tasks if dag is not None else ())
        if getattr(task, "task_type", None) == _SUMMARY_TASK_TYPE and getattr(task, "catalog_conn_id", None)
    ]
    with _lock:
        _dag_cache[dag_id] = (now, found)
    return found


def browsable_catalogs(user: Any) -> dict[str, list[str]]:
    """Return catalog connection id -> the omingest DAGs writing to it that ``user`` may read."""
    from sqlalchemy import select

    from airflow.api_fastapi.app import get_auth_manager
    from airflow.models.dag import DagModel, DagTag
    from airflow.utils.session import create_session

    with create_session() as session:
        readable = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
        tagged = session.scalars(
            select(DagTag.dag_id).join(DagModel, DagModel.dag_id == DagTag.dag_id)
            .where(DagTag.name == "omingest", ~DagModel.is_stale)
        ).all()
    catalogs: dict[str, list[str]] = {}
    for dag_id in sorted(set(tagged) & set(readable)):
        for task in ingestions_of(dag_id):
            dags = catalogs.setdefault(task.catalog_conn_id, [])
            if dag_id not in dags:
                dags.append(dag_id)
    return catalogs


def open_catalog(conn_id: str) -> Catalog:
    """Return the catalog of connection ``conn_id``, opened once per :data:`CATALOG_TTL` seconds."""
    now = time.monotonic()
    with _lock:
        cached = _catalogs.get(conn_id)
        if cached and now - cached[0] < CATALOG_TTL:
            return cached[1]
    from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook

    catalog = OmingestCatalogHook(conn_id).get_catalog()
    with _lock:
        old = _catalogs.pop(conn_id, None)
        _catalogs[conn_id] = (now, catalog)
    if old is not None:
        old[1].close()
    return catalog


def clear_caches() -> None:
    """Forget every cached DAG and close every cached catalog (tests; a changed connection)."""
    with _lock:
        catalogs = [c for _, c in _catalogs.values()]
        _catalogs.clear()
        _dag_cache.clear()
    for catalog in catalogs:
        catalog.close()
