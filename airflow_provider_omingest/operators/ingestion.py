"""Operators for the stages of an ingestion: plan → extract[unit] → update[unit] → delete → summary.

Thin by design: each stores its arguments in ``__init__``, builds hooks inside ``execute``
and calls one function of :mod:`airflow_provider_omingest.engine.stages`. What they return
is small and JSON-ready, so outputs chain with ``.expand()`` and XCom.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.watermark import parse_duration
from airflow_provider_omingest.exceptions import ConfigError, OmingestError
from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook
from airflow_provider_omingest.hooks.source import OmingestSourceHook

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_omingest.engine.stages import RunPlan
    from airflow_provider_omingest.models.units import UnitResult

__all__ = [
    "OmingestDeleteOperator",
    "OmingestExtractOperator",
    "OmingestPlanOperator",
    "OmingestSummaryOperator",
    "OmingestUpdateOperator",
]

log = logging.getLogger(__name__)

MODES = ("auto", "full", "incremental")
UNIT_LABEL_KEY = "omingest_unit"
PLAN_XCOM_KEY = "plan"
#: How long the snapshots of a failed run are kept for retries before a successful run purges them.
SNAPSHOT_RETENTION = timedelta(days=7)
#: Use as ``map_index_template`` so that each mapped task instance shows its schemas in the UI.
UNIT_MAP_INDEX_TEMPLATE = "{{ omingest_unit }}"


def as_bool(value: Any, name: str) -> bool:
    """Parse a boolean argument that may arrive as a rendered template string."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none"):
        return False
    raise ConfigError(name, value, "expected true or false")


def as_mode(value: Any) -> str:
    """Validate the requested mode."""
    mode = str(value).strip().lower()
    if mode not in MODES:
        raise ConfigError("mode", value, f"expected one of {', '.join(MODES)}")
    return mode


def as_settings(settings: IngestionSettings | dict[str, Any]) -> IngestionSettings:
    """Accept settings as a model or a plain dict (validated now, at DAG parse time)."""
    return settings if isinstance(settings, IngestionSettings) else IngestionSettings.model_validate(settings)


def _run_kind(dag_run: Any) -> str:
    """Return how a run was created: scheduled, manual, backfill, ..."""
    run_type = str(getattr(dag_run, "run_type", "") or "").lower().rsplit(".", 1)[-1]
    return run_type if run_type in ("scheduled", "manual", "backfill", "asset_triggered",
                                    "operator_triggered") else "other"


def _range_start(context: Context) -> Any:
    """Return the start of the run's data interval (or its logical date); None for manual runs."""
    return context.get("data_interval_start") or context.get("logical_date")


def _reraise(e: Exception, what: str) -> None:
    """Map our errors to Airflow's: retry only what a retry can fix."""
    if isinstance(e, OmingestError) and not e.retryable:
        raise AirflowFailException(f"{what}: {e}") from e
    raise AirflowException(f"{what}: {e}") from e


class OmingestPlanOperator(BaseOperator):
    """List databases and schemas through the filters and cut them into work units.

    Returns the work units (a list to map over: ``.expand(unit=plan.output)``) and pushes the
    whole plan under the XCom key ``plan`` for the delete and summary tasks.

    :param source_conn_id: connection of the warehouse. (templated)
    :param catalog_conn_id: connection of the catalog. (templated)
    :param settings: the ingestion's settings (service, filters, threads, ...).
    :param mode: ``auto``, ``full`` or ``incremental``. (templated)
    :param dry_run: compute everything, write nothing. (templated)
    :param safety_margin: overrides the settings' margin for this run, e.g. ``"3h"``; empty or
        ``None`` keeps it. (templated)
    :param watermark_key: names the ingestion whose watermark is read (default: the DAG id).
    """

    template_fields: Sequence[str] = ("source_conn_id", "catalog_conn_id", "mode", "dry_run", "safety_margin")

    def __init__(
        self,
        *,
        source_conn_id: str,
        catalog_conn_id: str,
        settings: IngestionSettings | dict[str, Any],
        mode: str = "auto",
        dry_run: bool | str = False,
        safety_margin: str | None = None,
        watermark_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_conn_id = source_conn_id
        self.catalog_conn_id = catalog_conn_id
        self.settings = as_settings(settings)
        self.mode = mode
        self.dry_run = dry_run
        self.safety_margin = safety_margin
        self.watermark_key = watermark_key

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_omingest.engine.stages import plan_run
        from airflow_provider_omingest.watermark_store import read_watermark

        mode, dry_run = as_mode(self.mode), as_bool(self.dry_run, "dry_run")
        settings = self.settings
        if self.safety_margin not in (None, "", "None"):
            settings = settings.model_copy(update={"safety_margin": parse_duration(self.safety_margin, "safety_margin")})
        dag_run = context["dag_run"]
        run_kind = _run_kind(dag_run)
        last_value = read_watermark(self.watermark_key or context["dag"].dag_id)
        try:
            with OmingestSourceHook(self.source_conn_id).get_source() as source, \
                    OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                plan = plan_run(source, catalog, settings, requested_mode=mode,  # type: ignore[arg-type]
                                last_value=last_value, run_kind=run_kind, range_start=_range_start(context),
                                dry_run=dry_run, run_id=context["run_id"])
        except Exception as e:
            _reraise(e, "Planning failed")
        log.info("Mode %s (%s); %d work units; %d vanished entities", plan.mode, plan.mode_reason,
                 len(plan.units), len(plan.vanished))
        if plan.since:
            log.info("Watermark %s, safety margin applied: changes since %s via %s", plan.last_value,
                     plan.since, plan.change_method)
        context["ti"].xcom_push(key=PLAN_XCOM_KEY, value=plan.model_dump(mode="json"))
        return [u.model_dump(mode="json") for u in plan.units]


class OmingestExtractOperator(BaseOperator):
    """Extract one work unit from the source and store its snapshots (mapped over units).

    Opens its own source connection. Returns ``{"unit", "snapshot", "tables"}``: the unit, the
    path of the stored snapshots and the number of tables, for the update task.

    :param source_conn_id: connection of the warehouse. (templated)
    :param settings: the ingestion's settings.
    :param unit: the work unit (one item of the plan task's output). (templated)
    :param snapshot_path: base ``ObjectStoragePath`` for snapshots; default
        ``[omingest] snapshot_path`` or ``$AIRFLOW_HOME/omingest/snapshots``. (templated)
    """

    template_fields: Sequence[str] = ("source_conn_id", "snapshot_path", "unit")

    def __init__(
        self,
        *,
        source_conn_id: str,
        settings: IngestionSettings | dict[str, Any],
        unit: dict[str, Any],
        snapshot_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_conn_id = source_conn_id
        self.settings = as_settings(settings)
        self.unit = unit
        self.snapshot_path = snapshot_path

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.engine.planner import unit_label
        from airflow_provider_omingest.engine.stages import extract_unit
        from airflow_provider_omingest.models.units import WorkUnit
        from airflow_provider_omingest.snapshot_store import default_snapshot_base, write_snapshots

        unit = WorkUnit.model_validate(self.unit)
        context[UNIT_LABEL_KEY] = unit_label(unit)  # type: ignore[literal-required]
        try:
            with OmingestSourceHook(self.source_conn_id).get_source() as source:
                snapshots = extract_unit(source, unit, self.settings)
        except Exception as e:
            _reraise(e, f"Extracting {unit_label(unit)} failed; nothing in it will be deleted")
        path = write_snapshots(self.snapshot_path or default_snapshot_base(), context["dag"].dag_id,
                               context["run_id"], unit.unit_id, snapshots)
        return {"unit": unit.model_dump(mode="json"), "snapshot": path,
                "tables": sum(len(s.tables) for s in snapshots)}


class OmingestUpdateOperator(BaseOperator):
    """Compare one unit's snapshots with the catalog and write what differs (mapped over extracts).

    Reads the catalog once for the unit's scope, writes creates and updates in one
    transaction, and returns the counts and delete candidates.

    :param catalog_conn_id: connection of the catalog. (templated)
    :param settings: the ingestion's settings.
    :param extracted: the output of one extract task instance. (templated)
    :param dry_run: compute, write nothing. (templated)
    """

    template_fields: Sequence[str] = ("catalog_conn_id", "dry_run", "extracted")

    def __init__(
        self,
        *,
        catalog_conn_id: str,
        settings: IngestionSettings | dict[str, Any],
        extracted: dict[str, Any],
        dry_run: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.catalog_conn_id = catalog_conn_id
        self.settings = as_settings(settings)
        self.extracted = extracted
        self.dry_run = dry_run

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.engine.planner import unit_label
        from airflow_provider_omingest.engine.stages import update_unit
        from airflow_provider_omingest.models.units import WorkUnit
        from airflow_provider_omingest.snapshot_store import read_snapshots

        unit = WorkUnit.model_validate(self.extracted["unit"])
        context[UNIT_LABEL_KEY] = unit_label(unit)  # type: ignore[literal-required]
        try:
            snapshots = read_snapshots(self.extracted["snapshot"])
            with OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                result = update_unit(catalog, self.settings, unit, snapshots, run_id=context["run_id"],
                                     dry_run=as_bool(self.dry_run, "dry_run"))
        except Exception as e:
            _reraise(e, f"Updating the catalog for {unit_label(unit)} failed")
        log.info("%s: created %s, updated %s, unchanged %s, delete candidates %d", unit.unit_id,
                 sum(result.created.values()), sum(result.updated.values()),
                 sum(result.unchanged.values()), len(result.delete_candidates))
        return result.model_dump(mode="json")


def _pull_results(context: Context, task_id: str) -> list[Any]:
    """Return the outputs of every mapped instance of ``task_id`` that succeeded."""
    values = context["ti"].xcom_pull(task_ids=task_id, key="return_value")  # every map index
    if values is None:
        return []
    if isinstance(values, dict):
        values = [values]
    return [v for v in values if v is not None]


class _AfterUnitsOperator(BaseOperator):
    """Base of the stages that run once every unit is done, whatever its state."""

    def __init__(
        self,
        *,
        catalog_conn_id: str,
        settings: IngestionSettings | dict[str, Any],
        plan_task_id: str = "plan",
        update_task_id: str = "unit.update",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.catalog_conn_id = catalog_conn_id
        self.settings = as_settings(settings)
        self.plan_task_id = plan_task_id
        self.update_task_id = update_task_id

    def _plan_and_results(self, context: Context) -> tuple[RunPlan | None, list[UnitResult]]:
        """Return the run's plan (None if the plan task failed) and the results of the units that succeeded."""
        from airflow_provider_omingest.engine.stages import RunPlan
        from airflow_provider_omingest.models.units import UnitResult

        raw_plan = context["ti"].xcom_pull(task_ids=self.plan_task_id, key=PLAN_XCOM_KEY)
        if not raw_plan:
            return None, []
        results = [UnitResult.model_validate(r) for r in _pull_results(context, self.update_task_id)]
        return RunPlan.model_validate(raw_plan), results


class OmingestDeleteOperator(_AfterUnitsOperator):
    """Delete what vanished, from units whose extract and update succeeded only.

    Runs when every update is done, whatever their state (``trigger_rule="all_done"``): a
    failed unit sends no candidates, so nothing in its schemas is deleted. Above the
    fail-safe threshold it deletes nothing and fails, naming the numbers.

    :param catalog_conn_id: connection of the catalog. (templated)
    :param settings: the ingestion's settings.
    :param plan_task_id: task id of the plan task.
    :param update_task_id: task id of the (mapped) update task.
    :param dry_run: compute, delete nothing. (templated)
    :param confirm_delete: a person confirmed this run's deletions: skip the threshold. (templated)
    """

    template_fields: Sequence[str] = ("catalog_conn_id", "dry_run", "confirm_delete")

    def __init__(self, *, dry_run: bool | str = False, confirm_delete: bool | str = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dry_run = dry_run
        self.confirm_delete = confirm_delete

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.engine.stages import delete_stage
        from airflow_provider_omingest.exceptions import DeletionRefused

        plan, results = self._plan_and_results(context)
        if plan is None:
            raise AirflowSkipException("The plan task produced no plan: nothing is deleted.")
        failed = len(plan.units) - len(results)
        if failed:
            log.warning("%d of %d units failed: nothing in their schemas is deleted", failed, len(plan.units))
        try:
            with OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                outcome = delete_stage(catalog, self.settings, plan, results, run_id=context["run_id"],
                                       dry_run=plan.dry_run or as_bool(self.dry_run, "dry_run"),
                                       confirmed=as_bool(self.confirm_delete, "confirm_delete"))
        except DeletionRefused as e:
            raise AirflowFailException(str(e)) from e
        except Exception as e:
            _reraise(e, "Deleting vanished entities failed")
        log.info("%s %d entities (scope %d tables)", "Would delete" if outcome.dry_run else "Deleted",
                 len(outcome.fqns), outcome.scope)
        return outcome.model_dump(mode="json")


class OmingestSummaryOperator(_AfterUnitsOperator):
    """Log a per-schema table of what the run changed, record the run, and fail if any stage failed.

    Runs whatever happened upstream (``trigger_rule="all_done"``), so the summary is there
    for failed runs too; it is pushed under the XCom key ``summary`` and returned on success.
    When the run succeeded (and was not a dry run) it advances the ingestion's watermark to the
    source clock read at planning, and removes the run's snapshots.

    :param catalog_conn_id: connection of the catalog. (templated)
    :param settings: the ingestion's settings.
    :param snapshot_path: base path used by the extract tasks. (templated)
    """

    template_fields: Sequence[str] = ("catalog_conn_id", "snapshot_path")

    def __init__(
        self,
        *,
        delete_task_id: str = "delete",
        snapshot_path: str | None = None,
        watermark_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.delete_task_id = delete_task_id
        self.snapshot_path = snapshot_path
        self.watermark_key = watermark_key

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.catalog.base import RunRecord
        from airflow_provider_omingest.engine.stages import DeleteResult, summarize
        from airflow_provider_omingest.snapshot_store import (
            default_snapshot_base,
            delete_run_snapshots,
            purge_stale_snapshots,
        )

        ti = context["ti"]
        plan, results = self._plan_and_results(context)
        if plan is None:
            raise AirflowFailException("The plan task failed: nothing was extracted, updated or deleted.")
        raw_deleted = ti.xcom_pull(task_ids=self.delete_task_id, key="return_value")
        deleted = DeleteResult.model_validate(raw_deleted) if raw_deleted else None
        summary = summarize(plan, results, deleted,
                            delete_error=None if deleted else "the delete stage failed or was skipped")
        log.info("omingest %s\n%s", summary.headline(), summary.table())
        for note in summary.notes:
            log.info("Note: %s", note)
        payload = summary.model_dump(mode="json")
        ti.xcom_push(key="summary", value=payload)
        if not plan.dry_run:
            with OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                dag_run = context["dag_run"]
                catalog.record_run(RunRecord(
                    run_id=context["run_id"], service=plan.service, mode=plan.mode, status=summary.status,
                    started_at=dag_run.start_date, ended_at=_utcnow(), summary=payload,
                ))
        if summary.status != "success":
            reasons = []
            if summary.failed_units:
                reasons.append(f"{len(summary.failed_units)} of {summary.units} units failed "
                               f"({', '.join(summary.failed_units)}); nothing in them was deleted")
            if deleted is None:
                reasons.append("the delete stage failed (see its log)")
            raise AirflowFailException("Ingestion incomplete: " + "; ".join(reasons))
        if not plan.dry_run and plan.source_clock is not None:
            from airflow_provider_omingest.watermark_store import write_watermark

            stored = write_watermark(self.watermark_key or context["dag"].dag_id, plan.source_clock, context["run_id"])
            log.info("Watermark advanced to %s", stored.isoformat())
        base = self.snapshot_path or default_snapshot_base()
        delete_run_snapshots(base, context["dag"].dag_id, context["run_id"])
        purge_stale_snapshots(base, context["dag"].dag_id, older_than=SNAPSHOT_RETENTION)
        return payload


def _utcnow():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
