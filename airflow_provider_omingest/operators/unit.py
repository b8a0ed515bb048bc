"""The mapped tasks of one work unit: extract it from the source, then update the catalog with it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook
from airflow_provider_omingest.hooks.source import OmingestSourceHook
from airflow_provider_omingest.operators.base import OmingestBaseOperator
from airflow_provider_omingest.operators.errors import fail_or_retry
from airflow_provider_omingest.operators.wiring import UNIT_ERROR_XCOM_KEY, UNIT_LABEL_KEY
from airflow_provider_omingest.parsing import as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_omingest.models.units import WorkUnit

__all__ = ["OmingestExtractOperator", "OmingestUpdateOperator"]

log = logging.getLogger(__name__)


def _unit(context: Context, raw: dict[str, Any]) -> WorkUnit:
    """Validate a unit from XCom and label the task instance with its schemas (``map_index_template``)."""
    from airflow_provider_omingest.engine.planner import unit_label
    from airflow_provider_omingest.models.units import WorkUnit

    unit = WorkUnit.model_validate(raw)
    context[UNIT_LABEL_KEY] = unit_label(unit)  # type: ignore[literal-required]
    return unit


def _push_error(context: Context, unit: WorkUnit, error: Exception) -> None:
    """Push the unit's error (no credentials: the message only) for the run summary and its UI page."""
    try:
        context["ti"].xcom_push(key=UNIT_ERROR_XCOM_KEY,
                                value={"unit_id": unit.unit_id, "error": f"{type(error).__name__}: {error}"[:2_000]})
    except Exception:  # the error itself matters more than its record
        log.warning("Could not record the error of unit %s", unit.unit_id, exc_info=True)


class OmingestExtractOperator(OmingestBaseOperator):
    """Extract one work unit from the source and store its snapshots (mapped over units).

    Opens its own source connection. Returns ``{"unit", "snapshot", "snapshot_conn_id", "tables"}``:
    the unit, the path of the stored snapshots, the connection that reaches it and the number of
    tables, for the update task (which may run on another machine).

    :param source_conn_id: connection of the warehouse. (templated)
    :param settings: the ingestion's settings.
    :param unit: the work unit (one item of the plan task's output). (templated)
    :param snapshot_path: base ``ObjectStoragePath`` for snapshots; default
        ``[omingest] snapshot_path`` or ``$AIRFLOW_HOME/omingest/snapshots``. (templated)
    :param snapshot_conn_id: Airflow connection of the snapshot storage (e.g. an ``aws``
        connection for ``s3://``); default ``[omingest] snapshot_conn_id``, else the
        filesystem's default credentials. (templated)
    """

    template_fields: Sequence[str] = ("source_conn_id", "snapshot_path", "snapshot_conn_id", "unit")

    def __init__(
        self,
        *,
        source_conn_id: str,
        unit: dict[str, Any],
        snapshot_path: str | None = None,
        snapshot_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_omingest.snapshot_store import check_snapshot_conn_id

        super().__init__(**kwargs)
        self.source_conn_id = source_conn_id
        self.unit = unit
        self.snapshot_path = snapshot_path
        self.snapshot_conn_id = check_snapshot_conn_id(snapshot_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.engine.planner import unit_label
        from airflow_provider_omingest.engine.stages import extract_unit
        from airflow_provider_omingest.snapshot_store import (
            check_snapshot_conn_id,
            default_snapshot_base,
            default_snapshot_conn_id,
            write_snapshots,
        )

        unit = _unit(context, self.unit)
        try:
            conn_id = check_snapshot_conn_id(self.snapshot_conn_id) or default_snapshot_conn_id()
            with OmingestSourceHook(self.source_conn_id).get_source() as source:
                snapshots = extract_unit(source, unit, self.settings)
            path = write_snapshots(self.snapshot_path or default_snapshot_base(), context["dag"].dag_id,
                                   context["run_id"], unit.unit_id, snapshots, conn_id=conn_id)
        except Exception as e:
            _push_error(context, unit, e)
            fail_or_retry(e, f"Extracting {unit_label(unit)} failed; nothing in it will be deleted")
        return {"unit": unit.model_dump(mode="json"), "snapshot": path, "snapshot_conn_id": conn_id,
                "tables": sum(len(s.tables) for s in snapshots)}


class OmingestUpdateOperator(OmingestBaseOperator):
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
        extracted: dict[str, Any],
        dry_run: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.catalog_conn_id = catalog_conn_id
        self.extracted = extracted
        self.dry_run = dry_run

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_omingest.engine.planner import unit_label
        from airflow_provider_omingest.engine.stages import update_unit
        from airflow_provider_omingest.snapshot_store import read_snapshots

        unit = _unit(context, self.extracted["unit"])
        try:
            dry_run = bool(as_bool(self.dry_run, "dry_run", False))
            snapshots = read_snapshots(self.extracted["snapshot"], self.extracted.get("snapshot_conn_id"))
            with OmingestCatalogHook(self.catalog_conn_id).get_catalog() as catalog:
                result = update_unit(catalog, self.settings, unit, snapshots, run_id=context["run_id"],
                                     dry_run=dry_run)
        except Exception as e:
            _push_error(context, unit, e)
            fail_or_retry(e, f"Updating the catalog for {unit_label(unit)} failed")
        log.info("%s: created %s, updated %s, unchanged %s, delete candidates %d", unit.unit_id,
                 sum(result.created.values()), sum(result.updated.values()),
                 sum(result.unchanged.values()), len(result.delete_candidates))
        return result.model_dump(mode="json")
