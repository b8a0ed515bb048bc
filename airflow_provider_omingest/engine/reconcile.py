"""Reconcile a unit's snapshots with the catalog: what to create, update, keep and delete.

Pure logic: one read of the catalog (``stored``) in, a :class:`UnitPlan` out. Comparing is
comparing fingerprints, so no entity is fetched one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from airflow_provider_omingest.catalog.base import EntityWrite, StoredEntity
from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.models.entities import DatabaseSchema, _Entity
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.models.units import CHANGED_NAMES_LIMIT, SchemaSnapshot, UnitResult

__all__ = ["UnitPlan", "reconcile"]


@dataclass
class UnitPlan:
    """Result of :func:`reconcile` for one work unit."""

    writes: list[EntityWrite] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    unreflectable: Counter[str] = field(default_factory=Counter)
    #: Views whose definition did not parse (no lineage), per schema.
    lineage_unparsed: Counter[str] = field(default_factory=Counter)
    delete_candidates: list[str] = field(default_factory=list)
    changed_tables: dict[str, list[str]] = field(default_factory=dict)
    scope_size: int = 0

    def to_result(self, unit_id: str, database: str, schemas: tuple[str, ...], dry_run: bool) -> UnitResult:
        """Return the small, JSON-ready outcome for XCom."""
        return UnitResult(
            unit_id=unit_id,
            database=database,
            schemas=schemas,
            created=dict(self.created),
            updated=dict(self.updated),
            unchanged=dict(self.unchanged),
            unreflectable=dict(self.unreflectable),
            lineage_unparsed=dict(self.lineage_unparsed),
            delete_candidates=sorted(self.delete_candidates),
            changed_tables={k: sorted(v)[:CHANGED_NAMES_LIMIT] for k, v in self.changed_tables.items()},
            scope_size=self.scope_size,
            dry_run=dry_run,
        )


def reconcile(
    service: str,
    snapshots: list[SchemaSnapshot],
    stored: dict[str, StoredEntity],
    filters: Filters,
    requested: Mapping[str, Sequence[str]] | None = None,
) -> UnitPlan:
    """Compare snapshots with what the catalog holds for the same scope.

    A table in the catalog but not in a ``complete`` snapshot becomes a delete candidate,
    unless it is outside the filters, outside the snapshot's table slice, or listed as
    unreflectable. An incomplete (incremental) snapshot only answers for the tables that were
    asked for by name: one of those that the source did not return was dropped; every other
    table is left alone.

    :param service: service name, the first part of every FQN.
    :param snapshots: the unit's snapshots, one per schema (or slice).
    :param stored: the catalog's entities for the unit's schemas, by FQN (one read).
    :param filters: the ingestion's filters, to keep out-of-filter tables from deletion.
    :param requested: incremental units: schema -> the tables fetched by name.
    """
    plan = UnitPlan()
    stored_tables: dict[tuple[str, str | None], list[StoredEntity]] = {}  # by (database, schema)
    for e in stored.values():
        if e.kind == "table" and not e.deleted:
            stored_tables.setdefault((e.database, e.schema_name), []).append(e)
    for snap in snapshots:
        schema = snap.schema_name
        schema_entity = snap.schema_entity or DatabaseSchema(name=schema)
        if snap.table_slice is None or snap.table_slice.index == 0:
            _compare(plan, service, "schema", snap.database, None, schema_entity,
                     build_fqn(service, snap.database, schema), stored, count=False)
        seen: set[str] = set()
        for table in snap.tables:
            fqn = build_fqn(service, snap.database, schema, table.name)
            seen.add(fqn)
            _compare(plan, service, "table", snap.database, schema, table, fqn, stored, count=True)
            if table.lineage_unparsed:
                plan.lineage_unparsed[schema] += 1
        plan.unreflectable[schema] += len(snap.unreflectable)
        unreflectable = {build_fqn(service, snap.database, schema, t) for t in snap.unreflectable}
        in_scope = [
            e for e in stored_tables.get((snap.database, schema), ())
            if filters.keeps("table", e.name)
            and (snap.table_slice is None or snap.table_slice.contains(e.name))
        ]
        plan.scope_size += len(in_scope)
        if snap.complete:
            gone = [e for e in in_scope if e.fqn not in seen and e.fqn not in unreflectable]
        else:
            asked = set((requested or {}).get(schema, ()))
            gone = [e for e in in_scope if e.name in asked and e.fqn not in seen and e.fqn not in unreflectable]
        plan.delete_candidates.extend(e.fqn for e in gone)
    return plan


def _compare(
    plan: UnitPlan,
    service: str,
    kind: str,
    database: str,
    schema: str | None,
    entity: _Entity,
    fqn: str,
    stored: dict[str, StoredEntity],
    *,
    count: bool,
) -> None:
    fingerprint, body_json = entity.fingerprint_and_json()
    digest = getattr(entity, "source_digest", None)
    object_id = getattr(entity, "object_id", None)
    old = stored.get(fqn)
    key = schema or getattr(entity, "name", "")
    digest_only = False
    if old is None:
        change = "created"
    elif old.deleted:
        change = "restored"
    elif old.fingerprint != fingerprint:
        change = "updated"
    else:
        if count:
            plan.unchanged[key] += 1
        new_digest = digest and digest != old.source_digest
        new_id = object_id and object_id != old.object_id  # e.g. CREATE OR REPLACE: same table, new id
        if not (new_digest or new_id):
            return
        change, digest_only = "updated", True  # record the new digest or id; no new version
    plan.writes.append(
        EntityWrite.of(
            entity,
            fqn=fqn,
            kind=kind,  # type: ignore[arg-type]
            database=database,
            schema_name=schema if kind == "table" else getattr(entity, "name", None),
            change=change,  # type: ignore[arg-type]
            fingerprint=fingerprint,
            body_json=body_json,
        )
    )
    if count and not digest_only:
        kind_of_change = "updated" if change == "updated" else "created"
        getattr(plan, kind_of_change)[key] += 1
        plan.changed_tables.setdefault(kind_of_change, []).append(fqn)
