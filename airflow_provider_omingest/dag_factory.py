"""Build an ingestion DAG in one call: plan → extract[unit] → update[unit] → delete → summary.

A user's DAG file is a few lines::

    from airflow_provider_omingest import build_ingestion_dag

    dag = build_ingestion_dag(
        "ingest_warehouse",
        source_conn_id="warehouse",
        catalog_conn_id="omingest_catalog",
        service="warehouse",
        filters={"schema": {"exclude": ["^tmp_"]}},
        threads=4,
        schedule="@daily",
    )

Everything is validated here, at DAG parse time; nothing here opens a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError

from airflow_provider_omingest.config import Filters, IngestionSettings
from airflow_provider_omingest.exceptions import ConfigError

__all__ = ["DEFAULT_POOL", "UNIT_GROUP_ID", "build_ingestion_dag", "ingestion_params"]

#: Task group holding each unit's extract and update (task ids ``unit.extract``, ``unit.update``).
UNIT_GROUP_ID = "unit"

#: Airflow's built-in pool, used when the DAG names none. It always exists: a pool that does
#: not exist blocks mapped tasks forever under the scheduler, silently, and Airflow 3's Task
#: SDK gives tasks no way to check for one. Name a pool of your own to cap connections to a
#: warehouse across DAGs, and create it with ``omingest pools`` (or ``airflow pools set``).
DEFAULT_POOL = "default_pool"


def ingestion_params(default_mode: str = "auto") -> dict[str, Any]:
    """Return the DAG params offered by "Trigger DAG w/ config"."""
    from airflow.sdk import Param

    return {
        "mode": Param(default_mode, enum=["auto", "full", "incremental"],
                      description="auto: incremental when possible; full: re-sync everything."),
        "dry_run": Param(False, type="boolean", description="Compute the changes, write nothing."),
        "confirm_delete": Param(False, type="boolean",
                                description="Allow deletions above the fail-safe threshold for this run."),
        "safety_margin": Param(None, type=["null", "string"],
                               description="Override the safety margin for this run, e.g. '3h', '1d'."),
    }


def build_ingestion_dag(
    dag_id: str,
    *,
    source_conn_id: str,
    service: str,
    catalog_conn_id: str = "omingest_catalog",
    filters: Filters | dict[str, Any] | None = None,
    threads: int = 4,
    pool: str = DEFAULT_POOL,
    tables_per_unit: int = 1000,
    min_tables_per_unit: int = 100,
    max_delete_fraction: float | None = None,
    hard_delete: bool = False,
    safety_margin: str | timedelta | None = None,
    lookback: str | timedelta = timedelta(days=7),
    schedule: Any = None,
    start_date: datetime | None = None,
    default_mode: str = "auto",
    snapshot_path: str | None = None,
    retries: int = 2,
    retry_delay: timedelta = timedelta(seconds=30),
    tags: Sequence[str] = (),
    dag_kwargs: dict[str, Any] | None = None,
):
    """Return a DAG that keeps the catalog in sync with one source.

    :param dag_id: the DAG id.
    :param source_conn_id: Airflow connection of the warehouse.
    :param service: service name, the first part of every fully qualified name.
    :param catalog_conn_id: Airflow connection of the catalog (``sqlite`` or ``postgres``).
    :param filters: include/exclude regex lists per level, e.g.
        ``{"schema": {"include": ["^sales"]}, "table": {"exclude": ["_tmp$"]}}``.
    :param threads: extract tasks running at once in one run (``max_active_tis_per_dagrun``).
    :param pool: Airflow pool capping source connections across DAGs (default: Airflow's
        ``default_pool``). A named pool must exist: create it with ``omingest pools``.
    :param tables_per_unit: target tables per work unit (larger schemas are split).
    :param min_tables_per_unit: spread schemas over the ``threads`` only while each unit gets this
        many tables (fewer, larger units for small runs: each unit costs two task instances).
    :param max_delete_fraction: fail-safe threshold (default 0.2).
    :param hard_delete: remove rows instead of soft-deleting.
    :param safety_margin: subtracted from the watermark (``"3h"``, seconds or a timedelta);
        default: the source's (1 h; Snowflake 4 h).
    :param lookback: a watermark older than this means a full run (default 7 days).
    :param schedule: the DAG schedule (``None``: manual only).
    :param start_date: first logical date (default 2024-01-01 UTC).
    :param default_mode: default of the ``mode`` param.
    :param snapshot_path: base ``ObjectStoragePath`` for snapshots between tasks.
    :param retries: retries per task (a failed unit is retried alone).
    :param retry_delay: wait before a retry.
    :param tags: extra DAG tags.
    :param dag_kwargs: any other ``DAG`` argument.
    :raises ConfigError: naming the bad setting.
    """
    from airflow.sdk import DAG, task_group

    from airflow_provider_omingest.operators.ingestion import (
        UNIT_MAP_INDEX_TEMPLATE,
        OmingestDeleteOperator,
        OmingestExtractOperator,
        OmingestPlanOperator,
        OmingestSummaryOperator,
        OmingestUpdateOperator,
        as_mode,
    )

    as_mode(default_mode)
    settings = _settings(
        service=service, filters=filters or {}, threads=threads, tables_per_unit=tables_per_unit,
        min_tables_per_unit=min_tables_per_unit, hard_delete=hard_delete, safety_margin=safety_margin,
        lookback=lookback,
        **({"max_delete_fraction": max_delete_fraction} if max_delete_fraction is not None else {}),
    )
    if not pool:
        raise ConfigError("pool", pool, "name the Airflow pool that caps connections to the warehouse")
    kwargs: dict[str, Any] = {
        "schedule": schedule,
        "start_date": start_date or datetime(2024, 1, 1, tzinfo=timezone.utc),
        "catchup": False,
        "max_active_runs": 1,
        "params": ingestion_params(default_mode),
        "tags": ["omingest", service, *tags],
        "default_args": {"retries": retries, "retry_delay": retry_delay},
        "doc_md": (
            f"Keeps catalog `{catalog_conn_id}` in sync with `{source_conn_id}` (service `{service}`). "
            f"Extract tasks use pool `{pool}`, {threads} at a time per run."
        ),
        **(dag_kwargs or {}),
    }
    with DAG(dag_id, **kwargs) as dag:
        plan = OmingestPlanOperator(
            task_id="plan", source_conn_id=source_conn_id, catalog_conn_id=catalog_conn_id,
            settings=settings, mode="{{ params.mode }}", dry_run="{{ params.dry_run }}",
            safety_margin="{{ params.safety_margin }}",
        )
        # A mapped task group: each unit's update depends only on that unit's extract, so one
        # failed schema blocks (and is retried) alone while the other units go on.
        @task_group(group_id=UNIT_GROUP_ID)
        def unit(work_unit: dict[str, Any]):
            extract = OmingestExtractOperator(
                task_id="extract", source_conn_id=source_conn_id, settings=settings, unit=work_unit,
                snapshot_path=snapshot_path, pool=pool, max_active_tis_per_dagrun=threads,
                map_index_template=UNIT_MAP_INDEX_TEMPLATE,
            )
            return OmingestUpdateOperator(
                task_id="update", catalog_conn_id=catalog_conn_id, settings=settings,
                extracted=extract.output, dry_run="{{ params.dry_run }}",
                map_index_template=UNIT_MAP_INDEX_TEMPLATE,
            )

        units = unit.expand(work_unit=plan.output)
        delete = OmingestDeleteOperator(
            task_id="delete", catalog_conn_id=catalog_conn_id, settings=settings,
            update_task_id=f"{UNIT_GROUP_ID}.update",
            dry_run="{{ params.dry_run }}", confirm_delete="{{ params.confirm_delete }}", retries=0,
        )
        summary = OmingestSummaryOperator(
            task_id="summary", catalog_conn_id=catalog_conn_id, settings=settings,
            update_task_id=f"{UNIT_GROUP_ID}.update",
            snapshot_path=snapshot_path, retries=0,
        )
        units >> delete >> summary
    return dag


def _settings(**values: Any) -> IngestionSettings:
    try:
        return IngestionSettings.model_validate(values)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError("settings", {k: v for k, v in values.items() if k != "filters"} | {
            "filters": values.get("filters")}, problems) from None
