"""Find what changed since the watermark: from the source's change log, or by digests.

Either way the result is a :class:`~airflow_provider_omingest.models.changes.ChangeSet`, and
the tables it names (changed or dropped) are fetched by name in the extract stage. A changed
table whose source object id the catalog holds under another name was moved (Snowflake's
``ALTER TABLE … RENAME TO`` another schema or database): its old name is added to the dropped
tables, so it is fetched by name and, when gone, deleted under the fail-safe like any dropped
table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from airflow_provider_omingest.catalog.base import Catalog
from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.exceptions import IncrementalUnsupported, SourceError
from airflow_provider_omingest.models.changes import ChangeSet, TableRef
from airflow_provider_omingest.models.fqn import build_fqn, quote_part
from airflow_provider_omingest.sources.base import Source

__all__ = ["find_changes", "tables_to_fetch"]

log = logging.getLogger(__name__)

DIGEST_METHOD = "in-database digest"


def find_changes(
    source: Source,
    catalog: Catalog,
    service: str,
    schemas_by_db: Mapping[str, list[str]],
    since: datetime,
) -> ChangeSet:
    """Ask the source's change log; without one, compare in-database digests with the catalog.

    :raises IncrementalUnsupported: when the source can do neither (the reasons of both).
    """
    try:
        changes = source.changes_since(since, list(schemas_by_db))
    except IncrementalUnsupported as no_log:
        log.info("No change log: %s; trying in-database digests", no_log.reason)
        try:
            changes = _changes_by_digest(source, catalog, service, schemas_by_db, since)
        except IncrementalUnsupported as no_digest:
            raise IncrementalUnsupported(source.kind, f"{no_log.reason}; {no_digest.reason}") from None
        changes.notes.append(f"compared in-database digests because the change log was not usable: {no_log.reason}")
        _add_downstreams(changes, catalog, service)
        return changes
    _add_moves(changes, catalog, service)
    _add_downstreams(changes, catalog, service)
    return changes


def _add_downstreams(changes: ChangeSet, catalog: Catalog, service: str) -> None:
    """Add to ``changes.changed`` the views that read a dropped (or renamed) table, to refresh their lineage.

    One catalog read (:meth:`~airflow_provider_omingest.catalog.base.Catalog.find_downstreams`). The
    view is fetched again: the database tells whether it still exists and what it reads now.
    """
    if not changes.dropped:
        return
    dropped = [build_fqn(service, r.database, r.schema_name, r.table) for r in changes.dropped]
    known = set(changes.changed)
    added: list[str] = []
    for view in catalog.find_downstreams(service, dropped):
        if view.schema_name is None or view.kind != "table":
            continue
        ref = TableRef(database=view.database, schema_name=view.schema_name, table=view.name)
        if ref in known:
            continue
        changes.changed.append(ref)
        known.add(ref)
        added.append(build_fqn(ref.database, ref.schema_name, ref.table))
    if added:
        log.info("Refreshing the lineage of %d view(s) that read dropped or renamed tables: %s", len(added),
                 ", ".join(added))
        changes.notes.append(f"{len(added)} view(s) read a dropped or renamed table and were fetched again: "
                             f"{', '.join(added[:20])}" + (" …" if len(added) > 20 else ""))


def _add_moves(changes: ChangeSet, catalog: Catalog, service: str) -> None:
    """Add to ``changes.dropped`` the old name of each changed table the catalog holds under another name.

    One catalog read (:meth:`~airflow_provider_omingest.catalog.base.Catalog.find_by_object_ids`).
    """
    if not changes.object_ids:
        return
    dropped = set(changes.dropped)
    moves: list[str] = []
    for stored in catalog.find_by_object_ids(service, list(changes.object_ids)):
        new = changes.object_ids.get(stored.object_id or "")
        if new is None or stored.schema_name is None:
            continue
        old = TableRef(database=stored.database, schema_name=stored.schema_name, table=stored.name)
        if old == new or old in dropped:
            continue
        changes.dropped.append(old)
        dropped.add(old)
        moves.append(f"{build_fqn(old.database, old.schema_name, old.table)} -> "
                     f"{build_fqn(new.database, new.schema_name, new.table)}")
    if moves:
        log.info("Moved tables (same source object id under a new name): %s", ", ".join(moves))
        changes.notes.append(f"{len(moves)} table(s) moved (same object id, new name): {', '.join(moves[:20])}"
                             + (" …" if len(moves) > 20 else ""))


def _changes_by_digest(
    source: Source, catalog: Catalog, service: str, schemas_by_db: Mapping[str, list[str]], since: datetime
) -> ChangeSet:
    changes = ChangeSet(method=DIGEST_METHOD, since=since)
    for db, schemas in schemas_by_db.items():
        if not schemas:
            continue
        # The catalog is read while the source computes its digests (a wait on the network).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="omingest-scope") as pool:
            scope = pool.submit(catalog.read_scope, service, db, schemas)
            digests = _digests_or_rescan(source, db, schemas, changes)
            stored = scope.result()
        rescanned = {s for d, s in changes.rescan_schemas if d == db}
        schemas = [s for s in schemas if s not in rescanned]
        # The live tables of each schema, grouped once (not one pass over the scope per schema).
        live_tables: dict[str | None, list[str]] = {}
        for e in stored.values():
            if e.kind == "table" and not e.deleted:
                live_tables.setdefault(e.schema_name, []).append(e.name)
        for schema in schemas:
            listed = digests.get(schema, {})
            # build_fqn(service, db, schema, table) with the constant prefix quoted once.
            prefix = build_fqn(service, db, schema) + "."
            for table, digest in listed.items():
                old = stored.get(prefix + quote_part(table))
                if old is None or old.deleted or old.source_digest != digest:
                    changes.changed.append(TableRef(database=db, schema_name=schema, table=table))
            changes.dropped.extend(
                TableRef(database=db, schema_name=schema, table=name)
                for name in live_tables.get(schema, ())
                if name not in listed
            )
    return changes


def _digests_or_rescan(source: Source, db: str, schemas: list[str], changes: ChangeSet) -> dict[str, dict[str, str]]:
    """Return the digests of ``schemas``; a schema whose digests cannot be read is rescanned whole.

    One query covers many schemas, so one locked table (or a timeout) would fail them all: on
    failure each schema is asked alone, and those that still fail go to ``changes.rescan_schemas``
    (extracted whole by their own unit; if that fails too, only that unit fails).
    """
    try:
        return source.table_digests(db, schemas)
    except SourceError as e:
        if len(schemas) == 1:
            failures = {schemas[0]: e.reason}
            digests: dict[str, dict[str, str]] = {}
        else:
            log.warning("Digests of %d schemas of %s failed (%s); asking schema by schema", len(schemas), db,
                        e.reason)
            digests, failures = {}, {}
            for schema in schemas:
                try:
                    digests.update(source.table_digests(db, [schema]))
                except SourceError as one:
                    failures[schema] = one.reason
    for schema, reason in sorted(failures.items()):
        log.warning("Cannot read the changes of %s.%s (%s): extracting it whole", db, schema, reason)
        changes.rescan_schemas.append((db, schema))
        changes.notes.append(f"changes of {db}.{schema} could not be read ({reason}): extracted whole")
    return digests


def tables_to_fetch(changes: ChangeSet, filters: Filters, listed: Mapping[str, list[str]]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Return database -> schema -> the changed or dropped tables to fetch by name.

    Only schemas in the current listing and tables inside the filters are kept.
    """
    out: dict[str, dict[str, set[str]]] = {}
    for ref in [*changes.changed, *changes.dropped]:
        if ref.schema_name not in listed.get(ref.database, ()) or not filters.keeps("table", ref.table):
            continue
        out.setdefault(ref.database, {}).setdefault(ref.schema_name, set()).add(ref.table)
    return {db: {s: tuple(sorted(t)) for s, t in schemas.items()} for db, schemas in out.items()}
