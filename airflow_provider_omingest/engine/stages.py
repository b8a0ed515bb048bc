"""The stages of a run as plain functions: plan, extract, update, delete, summarise.

The Airflow operators and the in-process runner both call these, so the logic is tested
without Airflow and behaves the same under it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field

from airflow_provider_omingest.catalog.base import Catalog, EntityWrite
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.deletion import decide_deletions
from airflow_provider_omingest.engine.planner import plan_units
from airflow_provider_omingest.engine.reconcile import reconcile
from airflow_provider_omingest.models.entities import Database
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn
from airflow_provider_omingest.models.units import Mode, SchemaSnapshot, UnitResult, WorkUnit
from airflow_provider_omingest.sources.base import Source

__all__ = [
    "DeleteResult",
    "RunPlan",
    "RunSummary",
    "delete_stage",
    "extract_unit",
    "plan_run",
    "summarize",
    "update_unit",
]

log = logging.getLogger(__name__)

RequestedMode = Literal["auto", "full", "incremental"]


class RunPlan(BaseModel):
    """Output of the plan stage (small: goes through XCom)."""

    service: str
    mode: Mode
    mode_reason: str
    units: list[WorkUnit]
    databases: list[str]
    vanished: list[str] = Field(default_factory=list, description="FQNs of vanished schemas and their tables.")
    vanished_scope: int = 0
    dry_run: bool = False


class DeleteResult(BaseModel):
    """Output of the delete stage."""

    deleted: dict[str, int] = Field(default_factory=dict, description="Per schema.")
    fqns: list[str] = Field(default_factory=list)
    scope: int = 0
    dry_run: bool = False


class RunSummary(BaseModel):
    """What a run did, per schema, as shown in the summary log and returned as XCom."""

    service: str
    mode: Mode
    mode_reason: str
    status: Literal["success", "failed"]
    dry_run: bool = False
    schemas: dict[str, dict[str, int]] = Field(default_factory=dict)
    totals: dict[str, int] = Field(default_factory=dict)
    failed_units: list[str] = Field(default_factory=list)
    units: int = 0

    def table(self) -> str:
        """Return the per-schema counts as a fixed-width text table."""
        cols = ["created", "updated", "unchanged", "deleted", "failed"]
        width = max([len("schema")] + [len(s) for s in self.schemas]) + 2
        lines = ["schema".ljust(width) + "".join(c.rjust(11) for c in cols)]
        for name in sorted(self.schemas):
            row = self.schemas[name]
            lines.append(name.ljust(width) + "".join(str(row.get(c, 0)).rjust(11) for c in cols))
        lines.append("TOTAL".ljust(width) + "".join(str(self.totals.get(c, 0)).rjust(11) for c in cols))
        return "\n".join(lines)


def plan_run(
    source: Source,
    catalog: Catalog,
    settings: IngestionSettings,
    *,
    requested_mode: RequestedMode = "auto",
    dry_run: bool = False,
    run_id: str = "manual",
) -> RunPlan:
    """List databases and schemas through the filters and cut them into work units.

    Also finds schemas that vanished from the source (live in the catalog, inside the
    filters, absent from a listing that succeeded) and records the databases.
    """
    if requested_mode == "incremental":
        raise ValueError(
            f"mode='incremental' was requested but source {source.kind!r} cannot report changes; "
            "use mode='auto' or mode='full'."
        )
    mode: Mode = "full"
    reason = "full run requested" if requested_mode == "full" else "incremental extraction not available"
    filters = settings.filters
    databases = [d for d in source.list_databases() if filters.keeps("database", d)]
    counts: dict[str, dict[str, int]] = {}
    vanished: list[str] = []
    vanished_scope = 0
    db_writes: list[EntityWrite] = []
    for db in databases:
        schemas = [s for s in source.list_schemas(db) if filters.keeps("schema", s)]
        counts[db] = source.count_tables(db, schemas) if schemas else {}
        for s in schemas:
            counts[db].setdefault(s, 0)
        gone = [s for s in catalog.list_schemas(settings.service, db)
                if s not in counts[db] and filters.keeps("schema", s)]
        if gone and settings.delete_vanished_schemas:
            stored = catalog.read_scope(settings.service, db, gone)
            live = [e for e in stored.values() if not e.deleted]
            vanished.extend(e.fqn for e in live)
            vanished_scope += len(live)
        entity = Database(name=db)
        db_writes.append(EntityWrite(
            fqn=build_fqn(settings.service, db), kind="database", database=db, name=db,
            fingerprint=entity.fingerprint(), body=entity.model_dump(mode="json"), change="created",
        ))
    if not dry_run and db_writes:
        catalog.apply(db_writes, run_id)  # "created" of an existing, equal entity is a no-op
    units = plan_units(
        counts, threads=settings.threads, tables_per_unit=settings.tables_per_unit,
        max_units=settings.max_units, mode=mode,
    )
    log.info("Planned %d units over %d databases (%s: %s)", len(units), len(databases), mode, reason)
    return RunPlan(
        service=settings.service, mode=mode, mode_reason=reason, units=units, databases=databases,
        vanished=sorted(vanished), vanished_scope=vanished_scope, dry_run=dry_run,
    )


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
    stored = catalog.read_scope(settings.service, unit.database, list(unit.schemas))
    plan = reconcile(settings.service, snapshots, stored, settings.filters)
    if plan.writes and not dry_run:
        catalog.apply(plan.writes, run_id)
    return plan.to_result(unit.unit_id, unit.database, unit.schemas, dry_run)


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
    """Delete what vanished, from successful units only, under the fail-safe threshold."""
    decision = decide_deletions(
        results, extra_fqns=plan.vanished, extra_scope=plan.vanished_scope,
        max_fraction=settings.max_delete_fraction, confirmed=confirmed,
    )
    if decision.fqns and not dry_run:
        catalog.delete(decision.fqns, run_id, hard=settings.hard_delete)
    per_schema: Counter[str] = Counter()
    for fqn in decision.fqns:
        parts = split_fqn(fqn)
        if len(parts) == 4:
            per_schema[parts[2]] += 1
    return DeleteResult(deleted=dict(per_schema), fqns=decision.fqns, scope=decision.scope, dry_run=dry_run)


def summarize(
    plan: RunPlan,
    results: list[UnitResult],
    deleted: DeleteResult | None,
    *,
    delete_error: str | None = None,
) -> RunSummary:
    """Return per-schema counts; units without a result count as failed."""
    done = {r.unit_id for r in results}
    failed_units = [u.unit_id for u in plan.units if u.unit_id not in done]
    schemas: dict[str, Counter[str]] = {}
    for unit in plan.units:
        for s in unit.schemas:
            schemas.setdefault(s, Counter())
            if unit.unit_id in failed_units:
                schemas[s]["failed"] += 1
    for r in results:
        for field in ("created", "updated", "unchanged"):
            for s, n in getattr(r, field).items():
                schemas.setdefault(s, Counter())[field] += n
    for s, n in (deleted.deleted if deleted else {}).items():
        schemas.setdefault(s, Counter())["deleted"] += n
    totals: Counter[str] = Counter()
    for c in schemas.values():
        totals.update(c)
    return RunSummary(
        service=plan.service,
        mode=plan.mode,
        mode_reason=plan.mode_reason,
        status="failed" if failed_units or delete_error or deleted is None else "success",
        dry_run=plan.dry_run,
        schemas={s: dict(c) for s, c in schemas.items()},
        totals=dict(totals),
        failed_units=failed_units,
        units=len(plan.units),
    )
