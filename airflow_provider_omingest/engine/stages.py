"""The stages of a run as plain functions: plan, extract, update, delete, summarise.

The Airflow operators and the in-process runner both call these, so the logic is tested
without Airflow and behaves the same under it. The plan lives in :mod:`.plan` and the last
stage in :mod:`.summary`; this module holds the stages in between and names them all.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from airflow_provider_omingest.catalog.base import Catalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.deletion import decide_deletions
from airflow_provider_omingest.engine.plan import RunPlan, plan_run, register_databases, vanished_entities
from airflow_provider_omingest.engine.reconcile import reconcile
from airflow_provider_omingest.engine.summary import DeleteResult, RunSummary, finish_run, summarize
from airflow_provider_omingest.models.fqn import split_fqn
from airflow_provider_omingest.models.units import SchemaSnapshot, UnitResult, WorkUnit
from airflow_provider_omingest.sources.base import Source

__all__ = [
    "DeleteResult",
    "RunPlan",
    "RunSummary",
    "delete_stage",
    "extract_unit",
    "finish_run",
    "plan_run",
    "register_databases",
    "summarize",
    "update_unit",
]

log = logging.getLogger(__name__)


def extract_unit(source: Source, unit: WorkUnit, settings: IngestionSettings) -> list[SchemaSnapshot]:
    """Read one unit's schemas from the source (bulk queries per schema)."""
    started = time.monotonic()
    snapshots = list(source.extract(unit, settings.filters))
    log.info("Extracted %d tables from %s in %.2fs", sum(len(s.tables) for s in snapshots),
             unit.unit_id, time.monotonic() - started)
    return snapshots


def update_unit(
    catalog: Catalog,
    settings: IngestionSettings,
    unit: WorkUnit,
    snapshots: list[SchemaSnapshot],
    *,
    run_id: str,
    dry_run: bool = False,
) -> UnitResult:
    """Compare a unit's snapshots with one catalog read and apply the differences in one batch."""
    # An incremental unit needs only the tables it fetched (its scope is measured by the plan).
    stored = catalog.read_scope(settings.service, unit.database, list(unit.schemas), tables=unit.only_tables)
    plan = reconcile(settings.service, snapshots, stored, settings.filters, requested=unit.only_tables)
    if plan.writes and not dry_run:
        catalog.apply(plan.writes, run_id)
    result = plan.to_result(unit.unit_id, unit.database, unit.schemas, dry_run)
    result.fetched = sum(len(s.tables) for s in snapshots)
    return result


def delete_stage(
    catalog: Catalog,
    settings: IngestionSettings,
    plan: RunPlan,
    results: list[UnitResult],
    *,
    run_id: str,
    dry_run: bool = False,
    confirmed: bool = False,
) -> DeleteResult:
    """Delete what vanished, from successful units only, under the fail-safe threshold.

    The scope is the plan's: the live catalog tables inside the filters before the run.
    """
    vanished: list[str] = []
    if plan.vanished.databases or plan.vanished.schemas:
        held = catalog.inventory(settings.service, sorted({db for db, _ in plan.vanished.schemas}
                                                          | set(plan.vanished.databases)))
        tables, containers = vanished_entities(settings.service, held, plan.vanished, settings.filters)
        vanished = tables + containers
    decision = decide_deletions(results, scope=plan.scope_tables, extra_fqns=vanished,
                                max_fraction=settings.max_delete_fraction, confirmed=confirmed)
    if decision.fqns and not dry_run:
        catalog.delete(decision.fqns, run_id, hard=settings.hard_delete)
    per_schema: dict[str, Counter[str]] = {}
    for fqn in decision.fqns:
        parts = split_fqn(fqn)
        if len(parts) == 4:
            per_schema.setdefault(parts[1], Counter())[parts[2]] += 1
    return DeleteResult(deleted={db: dict(c) for db, c in per_schema.items()}, fqns=decision.fqns,
                        tables=decision.tables, scope=decision.scope, dry_run=dry_run)
