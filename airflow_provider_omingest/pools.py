"""Which Airflow pools the omingest tasks of some DAGs use (for ``omingest pools`` and the pool check).

Works on the DAGs a DagBag parses and on the serialized DAGs the scheduler holds: both have
``tasks`` with ``task_type``, ``pool`` and ``max_active_tis_per_dagrun``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["DEFAULT_POOL", "OMINGEST_TASK_TYPES", "is_omingest_dag", "missing_pools", "pools_wanted"]

#: Airflow's built-in pool: it always exists.
DEFAULT_POOL = "default_pool"

OMINGEST_TASK_TYPES = frozenset({
    "OmingestPlanOperator", "OmingestExtractOperator", "OmingestUpdateOperator", "OmingestDeleteOperator",
    "OmingestSummaryOperator",
})


def is_omingest_dag(dag: Any) -> bool:
    """Return whether ``dag`` holds an omingest task."""
    return any(getattr(t, "task_type", None) in OMINGEST_TASK_TYPES for t in getattr(dag, "tasks", ()))


def pools_wanted(dags: Iterable[Any]) -> dict[str, int]:
    """Return pool -> slots for the pools the omingest extract tasks of ``dags`` name (``default_pool`` aside).

    The slots are the largest ``threads`` (``max_active_tis_per_dagrun``) among the DAGs using the pool.
    """
    wanted: dict[str, int] = {}
    for dag in dags:
        for task in dag.tasks:
            if task.task_type == "OmingestExtractOperator" and task.pool != DEFAULT_POOL:
                slots = task.max_active_tis_per_dagrun or 1
                wanted[task.pool] = max(wanted.get(task.pool, 0), slots)
    return wanted


def missing_pools(dag: Any, existing: Iterable[str]) -> dict[str, int]:
    """Return pool -> slots for every pool an omingest DAG's tasks use that is not in ``existing``."""
    if not is_omingest_dag(dag):
        return {}
    have = set(existing)
    missing: dict[str, int] = {}
    for task in dag.tasks:
        pool = getattr(task, "pool", None) or DEFAULT_POOL
        if pool not in have:
            slots = getattr(task, "max_active_tis_per_dagrun", None) or 1
            missing[pool] = max(missing.get(pool, 0), slots)
    return missing
