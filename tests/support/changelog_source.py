"""An in-memory warehouse with a DDL change log whose audit view lags, for engine tests.

The real warehouses' change logs are tested in their own suites against stand-ins; this
source lets the engine's incremental rules (margin, re-created and renamed tables, failed runs)
be tested exactly, with a controllable clock.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airflow_provider_omingest.exceptions import IncrementalUnsupported, SourceError
from airflow_provider_omingest.models.changes import ChangeSet, TableRef
from airflow_provider_omingest.models.entities import Column, DatabaseSchema, Table
from airflow_provider_omingest.models.units import SchemaSnapshot
from airflow_provider_omingest.sources.base import Source


def make_table(name: str, columns: int = 3, comment: str | None = None) -> Table:
    return Table(name=name, description=comment, columns=tuple(
        Column(name=f"c{i}", data_type="INT", data_type_display="integer", ordinal_position=i + 1)
        for i in range(columns)))


@dataclass
class ChangeLogWarehouse:
    """Tables per (database, schema), a DDL log, a clock and an audit-view lag."""

    now: datetime
    audit_lag: timedelta = timedelta(0)
    schemas: dict[tuple[str, str], dict[str, Table]] = field(default_factory=dict)
    log: list[tuple[datetime, str, str, str, bool]] = field(default_factory=list)
    log_readable: bool = True
    #: Without a change log, the engine compares in-database digests (as for PostgreSQL).
    use_digests: bool = False
    failing_schemas: set[str] = field(default_factory=set)
    #: Schemas holding an exclusively locked table: digests and extraction fail there.
    locked_schemas: set[str] = field(default_factory=set)
    fetched: Counter = field(default_factory=Counter)
    digest_calls: list[tuple[str, ...]] = field(default_factory=list)

    def tick(self, delta: timedelta) -> None:
        self.now += delta

    def create_schema(self, db: str, schema: str) -> None:
        self.schemas.setdefault((db, schema), {})

    def drop_database(self, db: str) -> None:
        for d, schema in [k for k in self.schemas if k[0] == db]:
            self.drop_schema(d, schema)

    def drop_schema(self, db: str, schema: str) -> None:
        for name in list(self.schemas.pop((db, schema))):
            self.log.append((self.now, db, schema, name, True))

    def put(self, db: str, schema: str, table: Table) -> None:
        """Create or replace a table (CREATE OR REPLACE / ALTER)."""
        self.schemas.setdefault((db, schema), {})[table.name] = table
        self.log.append((self.now, db, schema, table.name, False))

    def drop(self, db: str, schema: str, name: str) -> None:
        del self.schemas[(db, schema)][name]
        self.log.append((self.now, db, schema, name, True))

    def rename(self, db: str, schema: str, old: str, new: str) -> None:
        # Like ACCOUNT_USAGE, the log shows only the new name; the old one simply vanishes.
        table = self.schemas[(db, schema)].pop(old)
        self.schemas[(db, schema)][new] = table.model_copy(update={"name": new})
        self.log.append((self.now, db, schema, new, False))


class ChangeLogSource(Source):
    kind = "changelog"

    def __init__(self, wh: ChangeLogWarehouse) -> None:
        self.wh = wh

    def now(self) -> datetime:
        return self.wh.now

    def list_databases(self) -> list[str]:
        return sorted({db for db, _ in self.wh.schemas})

    def list_schemas(self, database: str) -> list[str]:
        return sorted(s for db, s in self.wh.schemas if db == database)

    def count_tables(self, database: str, schemas: list[str]) -> dict[str, int]:
        return {s: len(self.wh.schemas[(database, s)]) for s in schemas}

    def extract(self, unit, filters, include_views=True) -> Iterator[SchemaSnapshot]:
        for schema in unit.schemas:
            if schema in self.wh.failing_schemas:
                raise SourceError(unit.database, schema, "injected failure")
            if schema in self.wh.locked_schemas:
                raise SourceError(unit.database, schema, "canceling statement due to lock timeout")
            tables = self.wh.schemas[(unit.database, schema)]
            wanted = None if unit.only_tables is None else set(unit.only_tables.get(schema, ()))
            picked = [t for n, t in sorted(tables.items())
                      if filters.keeps("table", n) and (wanted is None or n in wanted)
                      and (unit.table_slice is None or unit.table_slice.contains(n))]
            self.wh.fetched[schema] += len(picked)
            if self.wh.use_digests:
                picked = [t.model_copy(update={"source_digest": _digest(t)}) for t in picked]
            yield SchemaSnapshot(database=unit.database, schema_name=schema, schema_entity=DatabaseSchema(name=schema),
                                 tables=picked, complete=wanted is None, table_slice=unit.table_slice)

    def table_digests(self, database: str, schemas: list[str]) -> dict[str, dict[str, str]]:
        if not self.wh.use_digests:
            return super().table_digests(database, schemas)
        self.wh.digest_calls.append(tuple(schemas))
        locked = sorted(set(schemas) & self.wh.locked_schemas)
        if locked:  # one statement over several schemas: one locked table fails it all
            raise SourceError(database, locked[0] if len(schemas) == 1 else None,
                              "canceling statement due to lock timeout")
        return {s: {n: _digest(t) for n, t in self.wh.schemas[(database, s)].items()} for s in schemas
                if (database, s) in self.wh.schemas}

    def changes_since(self, since: datetime, databases: list[str]) -> ChangeSet:
        if self.wh.use_digests:
            return super().changes_since(since, databases)
        if not self.wh.log_readable:
            raise IncrementalUnsupported(self.kind, "the change log is not readable (missing grant)")
        visible_until = self.wh.now - self.wh.audit_lag
        changes = ChangeSet(method="test change log", since=since, until=self.wh.now)
        for at, db, schema, name, dropped in self.wh.log:
            if since <= at <= visible_until and db in databases:
                ref = TableRef(database=db, schema_name=schema, table=name)
                (changes.dropped if dropped else changes.changed).append(ref)
        return changes


def _digest(table: Table) -> str:
    return hashlib.sha256(table.model_dump_json(exclude={"source_digest"}).encode()).hexdigest()[:32]
