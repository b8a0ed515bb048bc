"""Run a whole ingestion in one process, with a thread per slot: the engine without Airflow.

Used by the ``omingest`` command line and the benchmarks. Each worker thread opens its own
source connection, as each mapped task instance does under Airflow.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone

from airflow_provider_omingest.catalog.base import Catalog, RunRecord
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.stages import (
    DeleteResult,
    RunSummary,
    delete_stage,
    extract_unit,
    finish_run,
    plan_run,
    register_databases,
    update_unit,
)
from airflow_provider_omingest.engine.summary import CatalogWatermarks, WatermarkStore
from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.models.units import UnitResult, WorkUnit
from airflow_provider_omingest.sources.base import Source

__all__ = ["run_ingestion"]

log = logging.getLogger(__name__)


def run_ingestion(
    open_source: Callable[[], Source],
    catalog: Catalog,
    settings: IngestionSettings,
    request: RunRequest | None = None,
    *,
    watermarks: WatermarkStore | None = None,
) -> RunSummary:
    """Plan, extract and update every unit (``settings.threads`` at once), delete, summarise.

    :param open_source: returns a new, unopened source; called once per worker and for the plan.
    :param catalog: the catalog to sync.
    :param request: the run's request; its ``last_value`` is ignored: the watermark is read from
        ``watermarks``.
    :param watermarks: where the watermark lives (default: the catalog's run records, as
        ``omingest run`` keeps it).
    :raises DeletionRefused: after recording the run, when the fail-safe threshold refused deletions.
    """
    request = request or RunRequest(run_id=f"local__{uuid.uuid4().hex[:12]}")
    watermarks = watermarks or CatalogWatermarks(catalog, settings.service)
    request = request.model_copy(update={"last_value": watermarks.read()})
    run_id, dry_run = request.run_id, request.dry_run
    started = datetime.now(timezone.utc)
    with open_source() as source:
        plan = plan_run(source, catalog, settings, request)
    register_databases(catalog, plan, run_id)
    if not dry_run:
        catalog.record_run(RunRecord(run_id=run_id, service=settings.service, mode=plan.mode, started_at=started))

    def work(unit: WorkUnit) -> UnitResult:
        with open_source() as src:
            snapshots = extract_unit(src, unit, settings)
        return update_unit(catalog, settings, unit, snapshots, run_id=run_id, dry_run=dry_run)

    results: list[UnitResult] = []
    errors: dict[str, str] = {}
    if settings.threads == 1:  # in this thread: simpler tracebacks and profiles
        for unit in plan.units:
            try:
                results.append(work(unit))
            except Exception as e:
                errors[unit.unit_id] = f"{type(e).__name__}: {e}"
                log.exception("Unit %s failed; nothing in it will be deleted", unit.unit_id)
    else:
        with ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="omingest") as pool:
            futures = {pool.submit(work, u): u for u in plan.units}
            for fut in as_completed(futures):
                try:
                    results.append(fut.result())
                except Exception as e:
                    errors[futures[fut].unit_id] = f"{type(e).__name__}: {e}"
                    log.exception("Unit %s failed; nothing in it will be deleted", futures[fut].unit_id)
    deleted: DeleteResult | None = None
    refused: DeletionRefused | None = None
    try:
        deleted = delete_stage(catalog, settings, plan, results, run_id=run_id, dry_run=dry_run,
                               confirmed=request.confirm_delete)
    except DeletionRefused as e:
        refused = e
    summary = finish_run(catalog, plan, results, deleted, run_id=run_id, started_at=started,
                         watermarks=watermarks, delete_error=str(refused) if refused else None,
                         unit_errors=errors)
    if refused:
        raise refused
    return summary
