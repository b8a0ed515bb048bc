"""Find what changed since the watermark: from the source's change log, or by digests.

Either way the result is a :class:`~airflow_provider_omingest.models.changes.ChangeSet`, and
the tables it names (changed or dropped) are fetched by name in the extract stage.
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
        return source.changes_since(since, list(schemas_by_db))
    except IncrementalUnsupported as no_log:
        log.info("No change log: %s; trying in-database digests", no_log.reason)
        try:
            changes = _changes_by_digest(source, catalog, service, schemas_by_db, since)
        except IncrementalUnsupported as no_digest:
            raise IncrementalUnsupported(source.kind, f"{no_log.reason}; {no_digest.reason}") from None
        changes.notes.append(f"compared in-database digests because the change log was not usable: {no_log.reason}")
        return changes


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
