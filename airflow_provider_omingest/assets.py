"""The Airflow Asset of each service, and the event a run that changed the catalog emits on it.

Every ingestion of service ``warehouse`` emits, from its ``summary`` task, an Asset event on
``Asset("omingest://warehouse")`` (:func:`service_asset`) when it created, updated or
deleted at least one table, so that DAGs scheduled on that Asset run after the catalog changed.
The service is percent-encoded into the URI's authority (``"sales eu"`` ->
``omingest://sales%20eu``); Airflow's URI sanitiser keeps the name as given and stores the URI
with a ``/`` path (``omingest://warehouse/``). Schedule on :func:`service_asset` rather than
spelling the URI: an ``Asset`` is identified by its name *and* URI together.

Why through an :class:`~airflow.sdk.AssetAlias` (``omingest__<service>__<dag_id>``) and not the Asset
itself as the task's outlet: Airflow 3.3 records an event for every declared Asset outlet of
a task that succeeds, whether the task added one or not (``register_asset_changes_in_db`` in
``airflow/models/taskinstance.py``), so a run that changed nothing would wake the downstream
DAGs. Through an alias only the events the task adds are recorded: a run with no change adds
none, and no extra task (skipped to stay silent) is needed. A failed run emits nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow.sdk import Asset, AssetAlias

    from airflow_provider_omingest.engine.summary import RunSummary

__all__ = [
    "ASSET_SCHEME", "asset_event_extra", "is_service_asset_alias", "service_asset", "service_asset_alias",
    "service_asset_uri",
]

#: The URI scheme of omingest's Assets (``airflow`` is reserved; no provider defines ``omingest``).
ASSET_SCHEME = "omingest"


def service_asset_uri(service: str) -> str:
    """Return ``omingest://<service, percent-encoded>``, the URI the Asset of ``service`` is declared with."""
    return f"{ASSET_SCHEME}://{quote(service, safe='')}"


def service_asset(service: str) -> Asset:
    """Return the Asset that ingestions of ``service`` emit events on: schedule DAGs on it.

    >>> from airflow.sdk import DAG
    >>> DAG("after_catalog_sync", schedule=[service_asset("warehouse")])  # doctest: +SKIP
    """
    from airflow.sdk import Asset

    return Asset(service_asset_uri(service))


def service_asset_alias(service: str, dag_id: str) -> AssetAlias:
    """Return the alias through which DAG ``dag_id``'s summary task emits its event on ``service``'s Asset.

    One alias per DAG, not per service: Airflow ties an alias to its Asset on the alias's first
    event (``AssetManager._add_asset_alias_association`` adds a row to ``asset_alias_asset``
    when the pair is not there yet), so the first events of two DAGs of one service through one
    alias, a moment apart, both add the row and one task fails on its primary key. A DAG of
    the factory has one active run at a time, so its alias's first event has no rival.
    """
    from airflow.sdk import AssetAlias

    return AssetAlias(f"{ASSET_SCHEME}__{service}__{dag_id}")


def is_service_asset_alias(outlet: Any, service: str) -> bool:
    """Whether ``outlet`` is an alias made by :func:`service_asset_alias` for ``service``."""
    from airflow.sdk import AssetAlias

    return isinstance(outlet, AssetAlias) and outlet.name.startswith(f"{ASSET_SCHEME}__{service}__")


def asset_event_extra(summary: RunSummary, *, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """Return the ``extra`` of the Asset event for a run, or None when the catalog did not change.

    The shape::

        {"service": "warehouse", "dag_id": "...", "run_id": "...", "mode": "incremental",
         "counts": {"created": 1, "updated": 2, "deleted": 1},
         "tables": {"created": ["warehouse.db.sales.orders"], "updated": [...], "deleted": [...]},
         "truncated": false, "limit": 100, "restricted_to": null}

    ``tables`` holds at most ``limit`` fully qualified names per kind (sorted); ``truncated``
    says whether any kind has more than that (the counts are always complete).
    """
    from airflow_provider_omingest.engine.summary import CHANGE_KINDS
    from airflow_provider_omingest.models.units import CHANGED_NAMES_LIMIT

    if not summary.changed():
        return None
    counts = {k: int(summary.totals.get(k, 0)) for k in CHANGE_KINDS}
    tables = {k: list(summary.changed_tables.get(k, []))[:CHANGED_NAMES_LIMIT] for k in CHANGE_KINDS}
    return {
        "service": summary.service,
        "dag_id": dag_id,
        "run_id": run_id,
        "mode": summary.mode,
        "counts": counts,
        "tables": tables,
        "truncated": any(counts[k] > len(tables[k]) for k in CHANGE_KINDS),
        "limit": CHANGED_NAMES_LIMIT,
        "restricted_to": summary.restricted_to,
    }
