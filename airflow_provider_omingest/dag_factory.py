"""Build an ingestion in one call: plan → extract[unit] → update[unit] → delete → summary.

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

DAG authors who build their own DAG add the same tasks, params and labels with
:func:`ingestion_task_group` (e.g. right after a dbt run). Everything is validated here, at
DAG parse time; nothing here opens a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.config import IngestionSettings, ingestion_settings
from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.run import REQUESTED_MODES
from airflow_provider_omingest.operators.wiring import (
    DELETE_TASK_ID,
    EXTRACT_TASK_ID,
    PLAN_TASK_ID,
    SUMMARY_TASK_ID,
    UNIT_GROUP_ID,
    UNIT_MAP_INDEX_TEMPLATE,
    UPDATE_TASK_ID,
    qualified,
)
from airflow_provider_omingest.parsing import DURATION_PATTERN, as_choice

if TYPE_CHECKING:
    from airflow.sdk import DAG, TaskGroup

__all__ = ["DEFAULT_POOL", "build_ingestion_dag", "ingestion_params", "ingestion_task_group"]

#: Airflow's built-in pool, used when the DAG names none: it always exists. Name a pool of your
#: own to cap connections to a warehouse across DAGs, and create it with ``omingest pools`` (or
#: ``airflow pools set``); the provider's plugin fails a run at once, naming the pool, when it
#: does not exist.
DEFAULT_POOL = "default_pool"

#: The arguments of :func:`build_ingestion_dag` that are not settings.
DAG_ARGUMENTS = ("dag_id", "source_conn_id", "catalog_conn_id", "pool", "schedule", "start_date", "default_mode",
                 "snapshot_path", "snapshot_conn_id", "retries", "retry_delay", "tags", "dag_kwargs",
                 "scope_from_asset_events")


def ingestion_params(default_mode: str = "auto") -> dict[str, Any]:
    """Return the DAG params offered by "Trigger DAG w/ config" (validated by Airflow at trigger time).

    Pass them to your own DAG (``DAG(..., params=ingestion_params())``) when it holds an
    :func:`ingestion_task_group`; :func:`build_ingestion_dag` sets them itself.
    """
    from airflow.sdk import Param

    as_choice(default_mode, "default_mode", REQUESTED_MODES)
    return {
        "mode": Param(default_mode, enum=list(REQUESTED_MODES),
                      description="auto: incremental when possible; full: re-sync everything; "
                                  "incremental: fail if impossible."),
        "dry_run": Param(False, type="boolean", description="Compute the changes, write nothing."),
        "confirm_delete": Param(False, type="boolean",
                                description="Allow deletions above the fail-safe threshold for this run."),
        "safety_margin": Param(None, type=["null", "string"], pattern=DURATION_PATTERN,
                               description="Override the safety margin for this run, e.g. '90m', '3h', '1d'."),
    }


def ingestion_task_group(
    group_id: str,
    *,
    source_conn_id: str,
    catalog_conn_id: str = "omingest_catalog",
    pool: str = DEFAULT_POOL,
    snapshot_path: str | None = None,
    snapshot_conn_id: str | None = None,
    retries: int | None = None,
    retry_delay: timedelta | None = None,
    scope_from_asset_events: bool = False,
    **settings: Any,
) -> TaskGroup:
    """Add an ingestion to the DAG being defined, as one task group; return it (for ``>>``).

    Call it inside ``with DAG(...)``. The DAG must offer :func:`ingestion_params` (they are
    added when it has none of them), so that "Trigger DAG w/ config" works as in DAGs from
    :func:`build_ingestion_dag`; the mapped units are labelled with their schemas. The
    ingestion's watermark is kept under ``<dag_id>.<group_id>``, so several groups in one DAG
    keep their own.

    :param group_id: the task group id (task ids become ``<group_id>.plan``, ...).
    :param scope_from_asset_events: restrict Asset-triggered runs to the schemas named by the
        triggering events (see :func:`build_ingestion_dag`).
    :param settings: :class:`~airflow_provider_omingest.config.IngestionSettings` fields
        (``service`` is required; unknown keys are refused by name).
    """
    from airflow.sdk import TaskGroup
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    dag = DagContext.get_current()
    if dag is None:
        raise ConfigError("ingestion_task_group", group_id, "call it inside `with DAG(...):`")
    _ensure_params(dag)
    parsed = _settings(settings, extra_arguments=("group_id", "source_conn_id", "catalog_conn_id", "pool",
                                                  "snapshot_path", "snapshot_conn_id", "retries", "retry_delay",
                                                  "scope_from_asset_events"))
    _check_bool(scope_from_asset_events, "scope_from_asset_events")
    task_args = {k: v for k, v in (("retries", retries), ("retry_delay", retry_delay)) if v is not None}
    with TaskGroup(group_id=group_id) as group:
        _add_tasks(source_conn_id=source_conn_id, catalog_conn_id=catalog_conn_id, settings=parsed, pool=pool,
                   snapshot_path=snapshot_path, snapshot_conn_id=snapshot_conn_id, group_id=group_id,
                   watermark_key=f"{dag.dag_id}.{group_id}", task_args=task_args,
                   scope_from_asset_events=scope_from_asset_events)
    return group


def build_ingestion_dag(
    dag_id: str,
    *,
    source_conn_id: str,
    catalog_conn_id: str = "omingest_catalog",
    pool: str = DEFAULT_POOL,
    schedule: Any = None,
    start_date: datetime | None = None,
    default_mode: str = "auto",
    snapshot_path: str | None = None,
    snapshot_conn_id: str | None = None,
    retries: int = 2,
    retry_delay: timedelta = timedelta(seconds=30),
    tags: Sequence[str] = (),
    dag_kwargs: dict[str, Any] | None = None,
    scope_from_asset_events: bool = False,
    **settings: Any,
) -> DAG:
    """Return a DAG that keeps the catalog in sync with one source.

    :param dag_id: the DAG id.
    :param source_conn_id: Airflow connection of the warehouse.
    :param catalog_conn_id: Airflow connection of the catalog (``sqlite``, ``postgres`` or ``openmetadata``).
    :param pool: Airflow pool capping source connections across DAGs (default: Airflow's
        ``default_pool``). A named pool must exist: create it with ``omingest pools``.
    :param schedule: the DAG schedule (``None``: manual only): a cron expression or preset, a
        timetable, or Assets (``[Asset("dbt://analytics")]``, ``asset_a | asset_b``,
        ``AssetOrTimeSchedule(...)``) to run after an upstream such as a dbt run.
    :param start_date: first logical date (default 2024-01-01 UTC).
    :param default_mode: default of the ``mode`` param.
    :param snapshot_path: base ``ObjectStoragePath`` for snapshots between tasks (default
        ``[omingest] snapshot_path``).
    :param snapshot_conn_id: Airflow connection reaching ``snapshot_path``, e.g. an ``aws``
        connection for ``s3://`` (default ``[omingest] snapshot_conn_id``).
    :param retries: retries per task (a failed unit is retried alone; configuration errors never are).
    :param retry_delay: wait before a retry.
    :param tags: extra DAG tags.
    :param dag_kwargs: any other ``DAG`` argument.
    :param scope_from_asset_events: restrict each Asset-triggered run to the schemas named in the
        ``extra`` of the events that triggered it: ``{"schemas": ["database.schema", "schema"]}``
        or ``{"omingest": {"schemas": [...]}}`` (a bare schema means that schema in every database;
        an event without the key restricts nothing; a bad shape fails the plan task, naming the
        value, without retries). Such a run extracts the named schemas whole (``mode=auto``),
        deletes only inside them, and leaves the watermark where it is, so the next unrestricted
        run still scans the other schemas' changes. Runs not triggered by Assets cover the whole
        scope. Needs an Asset ``schedule``.
    :param settings: the ingestion's settings, any field of
        :class:`~airflow_provider_omingest.config.IngestionSettings` (unknown keys are refused
        by name); ``service`` is required:

    {settings}
    :raises ConfigError: naming the bad setting.
    """
    from airflow.sdk import DAG

    parsed = _settings(settings, extra_arguments=DAG_ARGUMENTS)
    as_choice(default_mode, "default_mode", REQUESTED_MODES)
    _check_bool(scope_from_asset_events, "scope_from_asset_events")
    if scope_from_asset_events and not _schedules_on_assets(schedule):
        raise ConfigError("scope_from_asset_events", scope_from_asset_events,
                          f"only Asset-triggered runs carry schemas, but schedule={schedule!r} names no Asset; "
                          "schedule on Assets, e.g. schedule=[Asset(\"dbt://analytics\")]")
    if not pool:
        raise ConfigError("pool", pool, "name the Airflow pool that caps connections to the warehouse")
    kwargs: dict[str, Any] = {
        "schedule": schedule,
        "start_date": start_date or datetime(2024, 1, 1, tzinfo=timezone.utc),
        "catchup": False,
        "max_active_runs": 1,
        "params": ingestion_params(default_mode),
        "tags": ["omingest", parsed.service, *tags],
        "default_args": {"retries": retries, "retry_delay": retry_delay},
        "doc_md": (
            f"Keeps catalog `{catalog_conn_id}` in sync with `{source_conn_id}` (service `{parsed.service}`). "
            f"Extract tasks use pool `{pool}`, {parsed.threads} at a time per run."
        ),
        **(dag_kwargs or {}),
    }
    with DAG(dag_id, **kwargs) as dag:
        _add_tasks(source_conn_id=source_conn_id, catalog_conn_id=catalog_conn_id, settings=parsed, pool=pool,
                   snapshot_path=snapshot_path, snapshot_conn_id=snapshot_conn_id,
                   scope_from_asset_events=scope_from_asset_events)
    return dag


def _add_tasks(
    *,
    source_conn_id: str,
    catalog_conn_id: str,
    settings: IngestionSettings,
    pool: str,
    snapshot_path: str | None,
    snapshot_conn_id: str | None = None,
    group_id: str | None = None,
    watermark_key: str | None = None,
    task_args: dict[str, Any] | None = None,
    scope_from_asset_events: bool = False,
) -> None:
    """Add plan → unit[extract → update] → delete → summary to the DAG (or task group) being defined."""
    from airflow.sdk import task_group

    from airflow_provider_omingest.operators import (
        OmingestDeleteOperator,
        OmingestExtractOperator,
        OmingestPlanOperator,
        OmingestSummaryOperator,
        OmingestUpdateOperator,
    )

    if not pool:
        raise ConfigError("pool", pool, "name the Airflow pool that caps connections to the warehouse")
    args = task_args or {}
    wired = {"settings": settings, "plan_task_id": qualified(PLAN_TASK_ID, group_id),
             "update_task_id": qualified(UPDATE_TASK_ID, group_id, UNIT_GROUP_ID)}
    plan = OmingestPlanOperator(
        task_id=PLAN_TASK_ID, source_conn_id=source_conn_id, catalog_conn_id=catalog_conn_id,
        settings=settings, mode="{{ params.mode }}", dry_run="{{ params.dry_run }}",
        safety_margin="{{ params.safety_margin }}", watermark_key=watermark_key,
        scope_from_asset_events=scope_from_asset_events, **args,
    )

    # A mapped task group: each unit's update depends only on that unit's extract, so one
    # failed schema blocks (and is retried) alone while the other units go on.
    @task_group(group_id=UNIT_GROUP_ID)
    def unit(work_unit: dict[str, Any]):
        extract = OmingestExtractOperator(
            task_id=EXTRACT_TASK_ID, source_conn_id=source_conn_id, settings=settings, unit=work_unit,
            snapshot_path=snapshot_path, snapshot_conn_id=snapshot_conn_id, pool=pool,
            max_active_tis_per_dagrun=settings.threads,
            map_index_template=UNIT_MAP_INDEX_TEMPLATE, **args,
        )
        return OmingestUpdateOperator(
            task_id=UPDATE_TASK_ID, catalog_conn_id=catalog_conn_id, settings=settings,
            extracted=extract.output, dry_run="{{ params.dry_run }}",
            map_index_template=UNIT_MAP_INDEX_TEMPLATE, **args,
        )

    units = unit.expand(work_unit=plan.output)
    delete = OmingestDeleteOperator(
        task_id=DELETE_TASK_ID, catalog_conn_id=catalog_conn_id, dry_run="{{ params.dry_run }}",
        confirm_delete="{{ params.confirm_delete }}", retries=0, **wired,
    )
    summary = OmingestSummaryOperator(
        task_id=SUMMARY_TASK_ID, catalog_conn_id=catalog_conn_id, snapshot_path=snapshot_path,
        snapshot_conn_id=snapshot_conn_id, delete_task_id=qualified(DELETE_TASK_ID, group_id),
        watermark_key=watermark_key, retries=0, **wired,
    )
    units >> delete >> summary


def _check_bool(value: Any, setting: str) -> None:
    if not isinstance(value, bool):
        raise ConfigError(setting, value, "expected True or False")


def _schedules_on_assets(schedule: Any) -> bool:
    """Return whether ``schedule`` is (or includes) Assets: an Asset, an expression, a list, AssetOrTimeSchedule."""
    from airflow.sdk.definitions.asset import BaseAsset

    if isinstance(schedule, BaseAsset) or getattr(schedule, "asset_condition", None) is not None:
        return True
    if isinstance(schedule, (list, tuple, set, frozenset)):
        return any(isinstance(s, BaseAsset) for s in schedule)
    return False


def _ensure_params(dag: DAG) -> None:
    """Give ``dag`` the ingestion params it lacks (a DAG author's own DAG)."""
    for name, param in ingestion_params().items():
        if name not in dag.params:
            dag.params[name] = param


def _settings(values: dict[str, Any], *, extra_arguments: Sequence[str]) -> IngestionSettings:
    """Validate settings given as keyword arguments; an unknown one is named with every valid argument."""
    known = set(IngestionSettings.model_fields) | set(extra_arguments)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(unknown[0], values[unknown[0]],
                          f"unknown argument; valid arguments are: {', '.join(sorted(known))}")
    if "service" not in values:
        raise ConfigError("service", None, "required: the service name, the first part of every name in the catalog")
    return ingestion_settings(dict(values))


def _settings_doc() -> str:
    """Return the settings fields as reST lines for :func:`build_ingestion_dag`'s docstring."""
    lines = []
    for name, field in IngestionSettings.model_fields.items():
        default = "required" if field.is_required() else f"default ``{field.default!r}``"
        lines.append(f"    - ``{name}`` ({default}): {field.description or ''}")
    return "\n".join(lines)


build_ingestion_dag.__doc__ = (build_ingestion_dag.__doc__ or "").replace("    {settings}", _settings_doc())
