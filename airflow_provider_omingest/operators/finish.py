"""The tasks that run once every unit is done: delete what vanished, then summarise and finish."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_provider_omingest.config import ingestion_settings
from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook
from airflow_provider_omingest.operators.base import OmingestBaseOperator
from airflow_provider_omingest.operators.errors import fail_or_retry
from airflow_provider_omingest.operators.wiring import (
    DELETE_TASK_ID,
    EXTRACT_TASK_ID,
    PLAN_TASK_ID,
    PLAN_XCOM_KEY,
    SUMMARY_XCOM_KEY,
    UNIT_ERROR_XCOM_KEY,
    UNIT_GROUP_ID,
    UPDATE_TASK_ID,
    qualified,
)
from airflow_provider_omingest.parsing import as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_omingest.engine.stages import RunPlan
    from airflow_provider_omingest.models.units import UnitResult

__all__ = ["SNAPSHOT_RETENTION", "OmingestDeleteOperator", "OmingestSummaryOperator"]

log = logging.getLogger(__name__)

#: How long the snapshots of a failed run are kept for retries before a successful run purges them.
SNAPSHOT_RETENTION = timedelta(days=7)

def _pull_results(context: Context, task_id: str, key: str = "return_value") -> list[Any]:
    """Return the outputs of every mapped instance of ``task_id`` that succeeded (or the values under ``key``)."""
    values = context["ti"].xcom_pull(task_ids=task_id, key=key)  # every map index
    if values is None:
        return []
    if isinstance(values, dict):
        values = [values]
    return [v for v in values if v is not None]


class _AfterUnitsOperator(OmingestBaseOperator):
    """Base of the stages that run once every unit is done, whatever its state."""

    def __init__(
        self,
        *,
        catalog_conn_id: str,
        plan_task_id: str = PLAN_TASK_ID,
        update_task_id: str = qualified(UPDATE_TASK_ID, UNIT_GROUP_ID),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.catalog_conn_id = catalog_conn_id
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
            dry_run = plan.dry_run or bool(as_bool(self.dry_run, "dry_run", False))
            confirmed = bool(as_bool(self.confirm_delete, "confirm_delete", False))
            with OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                outcome = delete_stage(catalog, self.settings, plan, results, run_id=context["run_id"],
                                       dry_run=dry_run, confirmed=confirmed)
        except DeletionRefused as e:
            raise AirflowFailException(str(e)) from e
        except Exception as e:
            fail_or_retry(e, "Deleting vanished entities failed")
        log.info("%s %d tables (%d entities; scope %d tables)", "Would delete" if outcome.dry_run else "Deleted",
                 outcome.tables, len(outcome.fqns), outcome.scope)
        return outcome.model_dump(mode="json")


class OmingestSummaryOperator(_AfterUnitsOperator):
    """Log a per-schema table of what the run changed, finish the run, and fail if any stage failed.

    Runs whatever happened upstream (``trigger_rule="all_done"``), so the summary is there
    for failed runs too; it is pushed under the XCom key ``summary`` and returned on success.
    Finishing (:func:`~airflow_provider_omingest.engine.summary.finish_run`) records the run in
    the catalog, advances the ingestion's watermark when the run succeeded and its window
    covered the stored watermark, and removes the run's snapshots after a success.

    :param catalog_conn_id: connection of the catalog. (templated)
    :param settings: the ingestion's settings.
    :param delete_task_id: task id of the delete task.
    :param snapshot_path: base path used by the extract tasks. (templated)
    :param snapshot_conn_id: connection of the snapshot storage used by the extract tasks. (templated)
    :param watermark_key: names the ingestion whose watermark is advanced (default: the DAG id).
    :param emit_asset_event: when the run succeeded and created, updated or deleted a table,
        emit an event on the service's Asset ``omingest://<service>``
        (:func:`~airflow_provider_omingest.assets.service_asset`) with the counts and names in its
        ``extra`` (:func:`~airflow_provider_omingest.assets.asset_event_extra`). The task's outlet
        is the alias ``omingest__<service>``, so a run that changed nothing emits no event.
    """

    template_fields: Sequence[str] = ("catalog_conn_id", "snapshot_path", "snapshot_conn_id")

    def __init__(
        self,
        *,
        delete_task_id: str = DELETE_TASK_ID,
        snapshot_path: str | None = None,
        snapshot_conn_id: str | None = None,
        watermark_key: str | None = None,
        emit_asset_event: bool = True,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_omingest.snapshot_store import check_snapshot_conn_id

        if not isinstance(emit_asset_event, bool):
            raise ConfigError("emit_asset_event", emit_asset_event, "expected True or False")
        service = None
        if emit_asset_event and "settings" in kwargs:
            service = ingestion_settings(kwargs["settings"]).service
        if service is not None:
            from airflow_provider_omingest.assets import service_asset

            # The Asset is also an inlet, so the dag-processor registers it when it parses the DAG:
            # otherwise the first events of two DAGs of one service, at the same moment, both
            # insert it and one task fails on the unique (name, uri) index.
            kwargs["inlets"] = [*(kwargs.get("inlets") or []), service_asset(service)]
        super().__init__(**kwargs)
        if service is not None:
            from airflow_provider_omingest.assets import service_asset_alias

            # The outlet is an alias of this DAG's own (see service_asset_alias), known once the
            # task belongs to its DAG: here, as the factory and `with DAG(...)` create it.
            self.outlets = [*(self.outlets or []), service_asset_alias(service, self.dag_id)]
        self.emit_asset_event = emit_asset_event
        self.delete_task_id = delete_task_id
        self.snapshot_path = snapshot_path
        self.snapshot_conn_id = check_snapshot_conn_id(snapshot_conn_id)
        self.watermark_key = watermark_key

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.engine.stages import DeleteResult, finish_run
        from airflow_provider_omingest.watermark_store import VariableWatermarks

        ti = context["ti"]
        plan, results = self._plan_and_results(context)
        if plan is None:
            raise AirflowFailException("The plan task failed: nothing was extracted, updated or deleted.")
        raw_deleted = ti.xcom_pull(task_ids=self.delete_task_id, key="return_value")
        deleted = DeleteResult.model_validate(raw_deleted) if raw_deleted else None
        dag_id, run_id = context["dag"].dag_id, context["run_id"]
        try:
            with OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                summary = finish_run(
                    catalog, plan, results, deleted, run_id=run_id, started_at=context["dag_run"].start_date,
                    watermarks=VariableWatermarks(self.watermark_key_for(context)),
                    unit_errors=self._unit_errors(context),
                    cleanup=lambda: self._remove_snapshots(dag_id, run_id),
                )
        except Exception as e:
            fail_or_retry(e, "Finishing the run failed")
        log.info("omingest %s\n%s", summary.headline(), summary.table())
        for note in summary.notes:
            log.info("Note: %s", note)
        payload = summary.model_dump(mode="json")
        ti.xcom_push(key=SUMMARY_XCOM_KEY, value=payload)
        if summary.status != "success":
            raise AirflowFailException(f"Ingestion incomplete: {summary.failure}")
        if self.emit_asset_event:
            self._emit_asset_event(context, summary, dag_id, run_id)
        return payload

    def _emit_asset_event(self, context: Context, summary: Any, dag_id: str, run_id: str) -> None:
        """Add the run's event on the service's Asset through the alias, if the catalog changed."""
        from airflow_provider_omingest.assets import asset_event_extra, is_service_asset_alias, service_asset

        asset = service_asset(self.settings.service)
        extra = asset_event_extra(summary, dag_id=dag_id, run_id=run_id)
        if extra is None:
            log.info("No Asset event on %s: the run changed nothing in the catalog", asset.uri)
            return
        alias = next((o for o in self.outlets if is_service_asset_alias(o, self.settings.service)), None)
        if alias is None:  # the outlet was removed after the task was made
            log.warning("No Asset event on %s: the task has no omingest alias among its outlets", asset.uri)
            return
        context["outlet_events"][alias].add(asset, extra=extra)
        log.info("Asset event on %s: %s", asset.uri, extra["counts"])

    def _unit_errors(self, context: Context) -> dict[str, str]:
        """Return unit id -> error, from what failed extracts and updates pushed."""
        update = self.update_task_id
        extract = update.rsplit(".", 1)[0] + f".{EXTRACT_TASK_ID}" if "." in update else EXTRACT_TASK_ID
        errors: dict[str, str] = {}
        for task_id in (extract, update):
            for value in _pull_results(context, task_id, UNIT_ERROR_XCOM_KEY):
                if isinstance(value, dict) and value.get("unit_id"):
                    errors.setdefault(str(value["unit_id"]), str(value.get("error") or ""))
        return errors

    def _remove_snapshots(self, dag_id: str, run_id: str) -> None:
        from airflow_provider_omingest.snapshot_store import (
            check_snapshot_conn_id,
            default_snapshot_base,
            default_snapshot_conn_id,
            delete_run_snapshots,
            purge_stale_snapshots,
        )

        base = self.snapshot_path or default_snapshot_base()
        conn_id = check_snapshot_conn_id(self.snapshot_conn_id) or default_snapshot_conn_id()
        delete_run_snapshots(base, dag_id, run_id, conn_id)
        purge_stale_snapshots(base, dag_id, older_than=SNAPSHOT_RETENTION, conn_id=conn_id)
