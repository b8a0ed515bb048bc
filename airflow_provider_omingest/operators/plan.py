"""The plan task: list through the filters, read the changes once, cut the work into units."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook
from airflow_provider_omingest.hooks.source import OmingestSourceHook
from airflow_provider_omingest.operators.base import OmingestBaseOperator
from airflow_provider_omingest.operators.errors import fail_or_retry
from airflow_provider_omingest.operators.wiring import PLAN_XCOM_KEY

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["OmingestPlanOperator"]

log = logging.getLogger(__name__)


class OmingestPlanOperator(OmingestBaseOperator):
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
    :param scope_from_asset_events: restrict the run to the schemas named in the ``extra`` of
        the Asset events that triggered it (see :mod:`airflow_provider_omingest.models.scope`);
        runs not triggered by Asset events cover the whole scope.
    """

    template_fields: Sequence[str] = ("source_conn_id", "catalog_conn_id", "mode", "dry_run", "safety_margin")

    def __init__(
        self,
        *,
        source_conn_id: str,
        catalog_conn_id: str,
        mode: str = "auto",
        dry_run: bool | str = False,
        safety_margin: str | None = None,
        watermark_key: str | None = None,
        scope_from_asset_events: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(scope_from_asset_events, bool):
            raise ConfigError("scope_from_asset_events", scope_from_asset_events, "expected True or False")
        self.scope_from_asset_events = scope_from_asset_events
        self.source_conn_id = source_conn_id
        self.catalog_conn_id = catalog_conn_id
        self.mode = mode
        self.dry_run = dry_run
        self.safety_margin = safety_margin
        self.watermark_key = watermark_key

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_omingest.engine.stages import plan_run, register_databases
        from airflow_provider_omingest.operators.request import run_request
        from airflow_provider_omingest.watermark_store import VariableWatermarks

        try:
            request = run_request(context, mode=self.mode, dry_run=self.dry_run, safety_margin=self.safety_margin,
                                  last_value=VariableWatermarks(self.watermark_key_for(context)).read(),
                                  scope_from_asset_events=self.scope_from_asset_events)
            with OmingestSourceHook(self.source_conn_id).get_source() as source, \
                    OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                plan = plan_run(source, catalog, self.settings, request)
                register_databases(catalog, plan, request.run_id)
        except Exception as e:
            fail_or_retry(e, "Planning failed")
        log.info("Mode %s (%s); %d work units; scope %d tables; vanished %d databases, %d schemas",
                 plan.mode, plan.mode_reason, len(plan.units), plan.scope_tables, len(plan.vanished.databases),
                 len(plan.vanished.schemas))
        if plan.since:
            log.info("Watermark %s, safety margin %s applied: changes since %s via %s", plan.last_value, plan.lag,
                     plan.since, plan.change_method)
        for note in plan.notes:
            log.info("Note: %s", note)
        context["ti"].xcom_push(key=PLAN_XCOM_KEY, value=plan.model_dump(mode="json"))
        return [u.model_dump(mode="json") for u in plan.units]
