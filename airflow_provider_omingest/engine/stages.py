"""The stages of a run as plain functions: plan, extract, update, delete, summarise.

The Airflow operators and the in-process runner both call these, so the logic is tested
without Airflow and behaves the same under it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from airflow_provider_omingest.catalog.base import Catalog, EntityWrite
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.changes import find_changes, tables_to_fetch
from airflow_provider_omingest.engine.deletion import decide_deletions
from airflow_provider_omingest.engine.planner import plan_units
from airflow_provider_omingest.engine.reconcile import reconcile
from airflow_provider_omingest.engine.watermark import RunKind, choose_window
from airflow_provider_omingest.exceptions import IncrementalUnsupported
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
    scope_tables: int = Field(0, description="Tables and views in the schemas in scope, from the source's listing.")
    schema_tables: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="database -> schema -> tables and views listed by the source."
    )
    source_clock: datetime | None = Field(None, description="The source's clock at planning: the next watermark.")
    since: datetime | None = None
    last_value: datetime | None = Field(None, description="The watermark this run started from.")
    change_method: str | None = None
    notes: list[str] = Field(default_factory=list)
    dry_run: bool = False


class DeleteResult(BaseModel):
    """Output of the delete stage."""

    deleted: dict[str, dict[str, int]] = Field(default_factory=dict, description="database -> schema -> count.")
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
    since: datetime | None = None
    last_value: datetime | None = None
    source_clock: datetime | None = None
    change_method: str | None = None
    notes: list[str] = Field(default_factory=list)
    schemas: dict[str, dict[str, int]] = Field(default_factory=dict)
    totals: dict[str, int] = Field(default_factory=dict)
    tables_fetched: int = 0
    failed_units: list[str] = Field(default_factory=list)
    units: int = 0

    def headline(self) -> str:
        """Return one line: mode, why, and the window scanned."""
        line = f"{self.mode} run of service {self.service} ({self.mode_reason})"
        if self.since:
            line += f"; changes since {self.since.isoformat()} via {self.change_method}"
        return line + (" [dry run]" if self.dry_run else "")

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
    last_value: datetime | None = None,
    run_kind: RunKind = "manual",
    range_start: datetime | None = None,
    dry_run: bool = False,
    run_id: str = "manual",
) -> RunPlan:
    """Choose the mode, list databases and schemas through the filters, and cut the work into units.

    Incremental runs ask the source for the changes since ``last_value`` minus the safety
    margin (once per run) and make units only of the schemas with changes, fetching only the
    tables named; schemas new to the catalog are extracted whole. Both modes find schemas that
    vanished from the source (live in the catalog, inside the filters, absent from a listing
    that succeeded) and record the databases.

    :param last_value: the watermark: source clock at the start of the last successful run.
    :param run_kind: how the run was created (a backfill re-scans from ``range_start``).
    :raises IncrementalUnsupported: ``requested_mode="incremental"`` and the source cannot.
    """
    filters = settings.filters
    clock = source.now()
    lag = settings.safety_margin if settings.safety_margin is not None else source.default_safety_margin
    window = choose_window(requested_mode=requested_mode, run_kind=run_kind, last_value=last_value, now=clock,
                           lag=lag, lookback=settings.lookback, range_start=range_start)
    if requested_mode == "incremental" and window.mode == "full":
        raise IncrementalUnsupported(source.kind, f"mode=incremental was requested but {window.reason}")

    databases = [d for d in source.list_databases() if filters.keeps("database", d)]
    listed: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    catalogued: dict[str, set[str]] = {}
    vanished: list[str] = []
    vanished_scope = 0
    for db in databases:
        listed[db] = [s for s in source.list_schemas(db) if filters.keeps("schema", s)]
        counts[db] = {s: 0 for s in listed[db]}
        counts[db].update(source.count_tables(db, listed[db]) if listed[db] else {})
        catalogued[db] = set(catalog.list_schemas(settings.service, db))
        gone = sorted(s for s in catalogued[db] - set(listed[db]) if filters.keeps("schema", s))
        if gone and settings.delete_vanished_schemas:
            live = [e for e in catalog.read_scope(settings.service, db, gone).values() if not e.deleted]
            vanished.extend(e.fqn for e in live)
            vanished_scope += len(live)
    if not dry_run and databases:
        catalog.apply([_database_write(settings.service, db) for db in databases], run_id)

    plan = RunPlan(
        service=settings.service, mode=window.mode, mode_reason=window.reason, units=[], databases=databases,
        vanished=sorted(vanished), vanished_scope=vanished_scope, dry_run=dry_run, source_clock=clock,
        last_value=window.last_value, scope_tables=sum(sum(c.values()) for c in counts.values()) + vanished_scope,
        schema_tables=counts,
    )
    sizing = {"threads": settings.threads, "tables_per_unit": settings.tables_per_unit,
              "max_units": settings.max_units,
              "min_tables_per_unit": min(settings.min_tables_per_unit, settings.tables_per_unit)}
    if window.mode == "incremental":
        try:
            changes = find_changes(source, catalog, settings.service, listed, window.since)  # type: ignore[arg-type]
        except IncrementalUnsupported as e:
            if requested_mode == "incremental":
                raise
            plan.mode, plan.mode_reason = "full", f"{e.reason}: running a full extraction"
        else:
            new = {db: {s: counts[db][s] for s in listed[db]
                        if s not in catalogued[db] or (db, s) in changes.created_schemas} for db in databases}
            fetch = tables_to_fetch(changes, filters, listed)
            fetch = {db: {s: t for s, t in schemas.items() if s not in new.get(db, {})} for db, schemas in fetch.items()}
            plan.units = plan_units(new, mode="full", id_prefix="new-", **sizing) + plan_units(
                {db: {s: len(t) for s, t in schemas.items()} for db, schemas in fetch.items()},
                mode="incremental", only_tables=fetch, **sizing)
            plan.since, plan.change_method, plan.notes = window.since, changes.method, changes.notes
    if plan.mode == "full":
        plan.units = plan_units(counts, mode="full", **sizing)
    log.info("Planned %d units over %d databases (%s: %s)", len(plan.units), len(databases), plan.mode,
             plan.mode_reason)
    return plan


def _database_write(service: str, db: str) -> EntityWrite:
    entity = Database(name=db)
    # "created" of an existing, equal entity is a no-op in the catalog
    return EntityWrite(fqn=build_fqn(service, db), kind="database", database=db, name=db,
                       fingerprint=entity.fingerprint(), body=entity.model_dump(mode="json"), change="created")


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
    """Delete what vanished, from successful units only, under the fail-safe threshold."""
    decision = decide_deletions(
        results, extra_fqns=plan.vanished, extra_scope=plan.vanished_scope, min_scope=plan.scope_tables,
        max_fraction=settings.max_delete_fraction, confirmed=confirmed,
    )
    if decision.fqns and not dry_run:
        catalog.delete(decision.fqns, run_id, hard=settings.hard_delete)
    per_schema: dict[str, Counter[str]] = {}
    for fqn in decision.fqns:
        parts = split_fqn(fqn)
        if len(parts) == 4:
            per_schema.setdefault(parts[1], Counter())[parts[2]] += 1
    return DeleteResult(deleted={db: dict(c) for db, c in per_schema.items()}, fqns=decision.fqns,
                        scope=decision.scope, dry_run=dry_run)


def summarize(
    plan: RunPlan,
    results: list[UnitResult],
    deleted: DeleteResult | None,
    *,
    delete_error: str | None = None,
) -> RunSummary:
    """Return per-schema counts; units without a result count as failed.

    Schemas are keyed by name, or ``database.schema`` when the run spans several databases.
    In incremental runs, tables not fetched because nothing changed count as unchanged.
    """
    done = {r.unit_id for r in results}
    failed_units = [u.unit_id for u in plan.units if u.unit_id not in done]
    multi = len(plan.databases) > 1

    def key(db: str, schema: str) -> str:
        return build_fqn(db, schema) if multi else schema

    schemas: dict[str, Counter[str]] = {}
    for unit in plan.units:
        for s in unit.schemas:
            schemas.setdefault(key(unit.database, s), Counter())
            if unit.unit_id in failed_units:
                schemas[key(unit.database, s)]["failed"] += 1
    for r in results:
        for field in ("created", "updated", "unchanged"):
            for s, n in getattr(r, field).items():
                schemas.setdefault(key(r.database, s), Counter())[field] += n
    for db, per_schema in (deleted.deleted if deleted else {}).items():
        for s, n in per_schema.items():
            schemas.setdefault(key(db, s), Counter())["deleted"] += n
    if plan.mode == "incremental":
        for db, per_schema in plan.schema_tables.items():
            for s, n in per_schema.items():
                c = schemas.setdefault(key(db, s), Counter())
                if not c["failed"]:
                    c["unchanged"] = max(c["unchanged"], n - c["created"] - c["updated"])
    totals: Counter[str] = Counter()
    for c in schemas.values():
        totals.update(c)
    return RunSummary(
        service=plan.service,
        mode=plan.mode,
        mode_reason=plan.mode_reason,
        status="failed" if failed_units or delete_error or deleted is None else "success",
        dry_run=plan.dry_run,
        since=plan.since,
        last_value=plan.last_value,
        source_clock=plan.source_clock,
        change_method=plan.change_method,
        notes=plan.notes,
        tables_fetched=sum(r.fetched for r in results),
        schemas={s: {k: v for k, v in c.items() if v} for s, c in schemas.items()},
        totals=dict(totals),
        failed_units=failed_units,
        units=len(plan.units),
    )
