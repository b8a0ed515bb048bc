"""The plan stage: choose the mode, measure the scope, find what vanished, cut the work into units.

:func:`plan_run` only reads (the source's listing and change log, one catalog inventory);
:func:`register_databases` is its one write, a step of its own that a dry run skips.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from airflow_provider_omingest.catalog.base import Catalog, EntityWrite, Inventory
from airflow_provider_omingest.config import Filters, IngestionSettings
from airflow_provider_omingest.engine.changes import find_changes, tables_to_fetch
from airflow_provider_omingest.engine.cursor import Cursor, Window, choose_window
from airflow_provider_omingest.engine.planner import plan_units
from airflow_provider_omingest.exceptions import IncrementalUnsupported
from airflow_provider_omingest.models.entities import Database
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.models.run import Mode, RunKind, RunRequest
from airflow_provider_omingest.models.scope import SchemaScope
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.base import Source

__all__ = ["RunPlan", "Vanished", "plan_run", "register_databases", "vanished_entities"]

log = logging.getLogger(__name__)


class Vanished(BaseModel):
    """Databases and schemas that the catalog holds, inside the filters, and the source no longer lists."""

    databases: list[str] = Field(default_factory=list)
    schemas: list[tuple[str, str]] = Field(default_factory=list, description="(database, schema) pairs.")
    tables: int = Field(0, description="Live tables inside the filters that go with them.")


class RunPlan(BaseModel):
    """Output of the plan stage (small: goes through XCom)."""

    service: str
    mode: Mode
    mode_reason: str
    run_kind: RunKind = "manual"
    units: list[WorkUnit]
    databases: list[str]
    vanished: Vanished = Field(default_factory=Vanished)
    scope_tables: int = Field(
        0, description="The fail-safe's scope: live catalog tables inside the filters, before the run."
    )
    scope_schemas: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="database -> schema -> live catalog tables inside the filters."
    )
    source_clock: datetime | None = Field(None, description="The source's clock at planning: the next watermark.")
    since: datetime | None = None
    last_value: datetime | None = Field(None, description="The watermark this run started from.")
    advances_watermark: bool = Field(
        True, description="Whether success may advance the watermark (False: a backfill that left a gap)."
    )
    lag: timedelta | None = None
    change_method: str | None = None
    notes: list[str] = Field(default_factory=list)
    dry_run: bool = False
    restricted_to: list[str] | None = Field(
        None, description="The schemas this run was restricted to (None: its whole scope)."
    )


def plan_run(source: Source, catalog: Catalog, settings: IngestionSettings, request: RunRequest) -> RunPlan:
    """Choose the mode, list databases and schemas through the filters, and cut the work into units.

    Incremental runs ask the source for the changes since the watermark minus the safety
    margin (once per run) and make units only of the schemas with changes, fetching only the
    tables named; schemas new to the catalog, and schemas whose changes could not be read,
    are extracted whole. Every run reads the catalog's inventory once: the live tables inside
    the filters are the fail-safe's scope, and databases and schemas the catalog holds that a
    successful listing no longer shows have vanished.

    A run restricted to some schemas (``request.schemas``) treats them as one more filter:
    it lists, extracts, measures the fail-safe's scope and finds what vanished inside them
    only, so it never deletes anything outside them. In ``auto`` mode it extracts them whole
    (an upstream's change is then read whatever the latency of the source's change log), and
    it never advances the watermark: the changes in the other schemas since the watermark were
    not scanned, and the next unrestricted run must still scan them.

    :raises IncrementalUnsupported: ``mode=incremental`` was requested and the source cannot.
    """
    filters, service = settings.filters, settings.service
    clock = source.now()
    lag = next(v for v in (request.safety_margin, settings.safety_margin, source.default_safety_margin)
               if v is not None)
    cursor = Cursor(last_value=request.last_value, lag=lag, lookback=settings.lookback,
                    initial_value=request.initial_value, end_value=request.end_value)
    window = choose_window(cursor, requested_mode=request.requested_mode, run_kind=request.run_kind, now=clock)
    if request.requested_mode == "incremental" and window.mode == "full":
        raise IncrementalUnsupported(source.kind, f"mode=incremental was requested but {window.reason}")

    listed = _list_source(source, filters)  # database -> schema -> tables (for sizing only)
    held = catalog.inventory(service, list(listed))
    restriction = request.schemas
    if restriction is not None and all(restriction.keeps(db, s) for db, per in listed.items() for s in per) \
            and all(restriction.keeps(db, s) for db, per in _in_filters(held, filters).items() for s in per):
        restriction = None  # it names every schema in scope: an ordinary run
    if restriction is not None:
        listed = restriction.restrict(listed)
        window = _restricted_window(window, request, restriction)
    scope = _in_filters(held if restriction is None else restriction.restrict(held), filters)
    vanished = _vanished(scope, held, listed, settings, filters, whole_databases=restriction is None)
    plan = RunPlan(
        service=service, mode=window.mode, mode_reason=window.reason, run_kind=request.run_kind, units=[],
        databases=list(listed), vanished=vanished, dry_run=request.dry_run, source_clock=clock,
        last_value=window.last_value, advances_watermark=window.advances, lag=lag, notes=list(window.notes),
        scope_tables=sum(len(t) for schemas in scope.values() for t in schemas.values()),
        scope_schemas={db: {s: len(t) for s, t in schemas.items()} for db, schemas in scope.items()
                       if schemas or restriction is None},
        restricted_to=None if restriction is None else restriction.names(),
    )
    if restriction is not None:
        missing = _not_found(restriction, listed, scope)
        if missing:
            plan.notes.append(f"not in the source's listing (inside the filters) nor in the catalog, so "
                              f"nothing to do for: {', '.join(missing)}")
    if not catalog.inventory_lists_every_database:
        plan.notes.append(f"the catalog ({type(catalog).__name__}) lists only the databases the source "
                          "listed: a database that vanished from the source is not detected")
    sizing = {"threads": settings.threads, "tables_per_unit": settings.tables_per_unit,
              "max_units": settings.max_units,
              "min_tables_per_unit": min(settings.min_tables_per_unit, settings.tables_per_unit)}
    if window.mode == "incremental":
        schemas = {db: list(s) for db, s in listed.items()}
        try:
            changes = find_changes(source, catalog, service, schemas, window.since)  # type: ignore[arg-type]
        except IncrementalUnsupported as e:
            if request.requested_mode == "incremental":
                raise
            plan.mode, plan.mode_reason = "full", f"{e.reason}: running a full extraction"
            plan.advances_watermark = restriction is None
        else:
            whole = {(db, s) for db, s in changes.created_schemas} | set(changes.rescan_schemas)
            new = {db: {s: n for s, n in counts.items() if s not in held.get(db, {}) or (db, s) in whole}
                   for db, counts in listed.items()}
            fetch = tables_to_fetch(changes, filters, schemas)
            fetch = {db: {s: t for s, t in per.items() if s not in new.get(db, {})} for db, per in fetch.items()}
            plan.units = plan_units(new, mode="full", id_prefix="new-", **sizing) + plan_units(
                {db: {s: len(t) for s, t in per.items()} for db, per in fetch.items()},
                mode="incremental", only_tables=fetch, **sizing)
            plan.since, plan.change_method = window.since, changes.method
            plan.notes.extend(changes.notes)
    if plan.mode == "full":
        plan.units = plan_units(listed, mode="full", **sizing)
    log.info("Planned %d units over %d databases (%s: %s); scope %d tables; vanished: %d databases, "
             "%d schemas", len(plan.units), len(listed), plan.mode, plan.mode_reason, plan.scope_tables,
             len(vanished.databases), len(vanished.schemas))
    return plan


def register_databases(catalog: Catalog, plan: RunPlan, run_id: str) -> None:
    """Write the listed databases to the catalog (an equal, existing entity is left alone)."""
    if plan.dry_run or not plan.databases:
        return
    writes = []
    for db in plan.databases:
        writes.append(EntityWrite.of(Database(name=db), fqn=build_fqn(plan.service, db), kind="database", database=db))
    catalog.apply(writes, run_id)


def vanished_entities(service: str, held: Inventory, vanished: Vanished, filters: Filters) -> tuple[list[str], list[str]]:
    """Return the FQNs to delete for what vanished: (tables, schemas and databases).

    Only what is inside the filters goes; a schema (or database) goes only when nothing live
    outside the filters remains in it, so narrowing a filter never deletes anything.
    """
    tables: list[str] = []
    containers: list[str] = []
    gone_schemas = {(db, s) for db, s in vanished.schemas}
    gone_schemas |= {(db, s) for db in vanished.databases for s in held.get(db, {}) if filters.keeps("schema", s)}
    for db, schema in sorted(gone_schemas):
        names = held.get(db, {}).get(schema)
        if names is None:
            continue
        kept = [t for t in names if filters.keeps("table", t)]
        tables.extend(build_fqn(service, db, schema, t) for t in kept)
        if len(kept) == len(names):
            containers.append(build_fqn(service, db, schema))
    for db in vanished.databases:
        if all((db, s) in gone_schemas and all(filters.keeps("table", t) for t in names)
               for s, names in held.get(db, {}).items()):
            containers.append(build_fqn(service, db))
    return tables, containers


def _list_source(source: Source, filters: Filters) -> dict[str, dict[str, int]]:
    """Return database -> schema -> tables and views, through the filters (a failed listing raises)."""
    listed: dict[str, dict[str, int]] = {}
    for db in source.list_databases():
        if not filters.keeps("database", db):
            continue
        schemas = [s for s in source.list_schemas(db) if filters.keeps("schema", s)]
        counts = {s: 0 for s in schemas}
        counts.update(source.count_tables(db, schemas) if schemas else {})
        listed[db] = counts
    return listed


def _in_filters(held: Inventory, filters: Filters) -> Inventory:
    """Return the part of the catalog's inventory inside the filters."""
    return {
        db: {s: [t for t in names if filters.keeps("table", t)] for s, names in schemas.items()
             if filters.keeps("schema", s)}
        for db, schemas in held.items() if filters.keeps("database", db)
    }


def _restricted_window(window: Window, request: RunRequest, restriction: SchemaScope) -> Window:
    """Return the window of a run restricted to some schemas: it never advances the watermark."""
    names = ", ".join(restriction.names())
    if request.requested_mode == "auto":
        window = Window(mode="full", last_value=window.last_value,
                        reason=f"restricted to the schemas named by the triggering Asset events ({names}): "
                               "extracting them whole")
    else:
        window = window.model_copy(update={"reason": f"{window.reason}; restricted to {names}"})
    note = ("a run restricted to some schemas leaves the watermark where it is: the changes in the other "
            "schemas since then were not scanned")
    return window.model_copy(update={"advances": False, "notes": [*window.notes, note]})


def _not_found(restriction: SchemaScope, *where: Mapping[str, Mapping[str, object]]) -> list[str]:
    """Return the restriction's names that match no schema in any of ``where``."""
    found = [(db, s) for per_db in where for db, schemas in per_db.items() for s in schemas]
    return [s if db is None else build_fqn(db, s) for db, s in restriction.schemas
            if not any(fs == s and db in (None, fdb) for fdb, fs in found)]


def _vanished(
    scope: Inventory, held: Inventory, listed: Mapping[str, Mapping[str, int]], settings: IngestionSettings,
    filters: Filters, *, whole_databases: bool = True,
) -> Vanished:
    """Return what the catalog holds inside ``scope`` that the listing no longer shows.

    :param whole_databases: False for a run restricted to some schemas: a vanished database
        then loses only the schemas inside the restriction (``scope``), never the database itself.
    """
    vanished = Vanished()
    for db in sorted(scope):
        if db not in listed:
            if settings.delete_vanished_databases and whole_databases:
                vanished.databases.append(db)
            elif settings.delete_vanished_databases:
                vanished.schemas.extend((db, s) for s in sorted(scope[db]))
        elif settings.delete_vanished_schemas:
            vanished.schemas.extend((db, s) for s in sorted(scope[db]) if s not in listed[db])
    tables, _ = vanished_entities(settings.service, held, vanished, filters)
    vanished.tables = len(tables)
    return vanished
