"""The embedded catalog: entities, their history and runs in SQL tables (SQLAlchemy Core).

A SQLite file by default, PostgreSQL in production. Several Airflow task processes write at
once, so on SQLite every connection runs in WAL mode with a long busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` (a deferred transaction that reads, then writes,
fails at once with "database is locked" when another writer got in between; an immediate one
waits for the lock instead).

Writes are batched: one transaction per call, one ``executemany`` per kind of statement, and
``IN`` lists of at most :data:`IN_CHUNK` names per ``SELECT``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.schema import CreateIndex

from airflow_provider_omingest.catalog.base import (
    Catalog,
    ColumnLineage,
    EntityWrite,
    HistoryEntry,
    Inventory,
    LineageEdge,
    RunRecord,
    StoredEntity,
    TableLineage,
)
from airflow_provider_omingest.catalog.diff import diff_bodies
from airflow_provider_omingest.catalog.sql_engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    WRITE_OPTION,
    as_utc,
    create_store_engine,
    insert_rows,
    upsert,
    utcnow,
)
from airflow_provider_omingest.exceptions import CatalogError, ConfigError
from airflow_provider_omingest.models.fqn import build_fqn, quote_part, split_fqn

__all__ = ["IN_CHUNK", "SQLITE_BUSY_TIMEOUT_MS", "CatalogTables", "SqlCatalog", "build_tables"]

log = logging.getLogger(__name__)

#: Most names bound in one ``IN (...)`` list (well under SQLite's and PostgreSQL's limits).
IN_CHUNK = 5_000
_CREATE_ATTEMPTS = 5
_MAX_ERROR_DETAIL = 500

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


class CatalogTables(NamedTuple):
    """The catalog's tables, bound to one :class:`~sqlalchemy.MetaData`."""

    metadata: sa.MetaData
    entity: sa.Table
    history: sa.Table
    run: sa.Table
    lineage: sa.Table


def build_tables(prefix: str = "omingest_") -> CatalogTables:
    """Define the catalog tables with names starting with ``prefix``.

    :param prefix: Prefix of every table, index and constraint name.
    """
    metadata = sa.MetaData()
    entity = sa.Table(
        f"{prefix}entity",
        metadata,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("fqn", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("database", sa.Text, nullable=False),
        sa.Column("schema_name", sa.Text, nullable=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source_digest", sa.String(64), nullable=True),
        sa.Column("object_id", sa.Text, nullable=True),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, default=False),
        sa.Column("created_run", sa.Text, nullable=False),
        sa.Column("updated_run", sa.Text, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.CheckConstraint("kind IN ('database', 'schema', 'table')", name=f"{prefix}entity_kind"),
        sa.Index(f"{prefix}entity_fqn", "fqn", unique=True),
        sa.Index(f"{prefix}entity_scope", "service", "database", "schema_name"),
        sa.Index(f"{prefix}entity_object_id", "service", "object_id"),
    )
    # The catalog browser's name search: a range on the folded name, in name order.
    sa.Index(f"{prefix}entity_name_search", sa.func.lower(entity.c.name), entity.c.fqn)
    history = sa.Table(
        f"{prefix}entity_history",
        metadata,
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("entity_id", _ID, sa.ForeignKey(entity.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("fqn", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("changed_at", _TIMESTAMP, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("changes", _JSON, nullable=False),
        sa.CheckConstraint(
            "change IN ('created', 'updated', 'restored', 'deleted')", name=f"{prefix}history_change"
        ),
        sa.Index(f"{prefix}history_entity", "entity_id"),
        sa.Index(f"{prefix}history_fqn", "fqn"),
        # What one run changed, by kind of change, in the order it happened.
        sa.Index(f"{prefix}history_run", "run_id", "change", "id"),
    )
    run = sa.Table(
        f"{prefix}run",
        metadata,
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("ended_at", _TIMESTAMP, nullable=True),
        sa.Column("summary", _JSON, nullable=False),
    )
    # One row per upstream of a view (its latest version), indexed both ways: a table's
    # downstreams are one index range read however many tables the catalog holds.
    lineage = sa.Table(
        f"{prefix}lineage",
        metadata,
        sa.Column("downstream_id", _ID, sa.ForeignKey(entity.c.id, ondelete="CASCADE"), nullable=False),
        sa.Column("upstream", sa.Text, nullable=False),
        sa.Column("columns", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("downstream_id", "upstream", name=f"{prefix}lineage_pkey"),
        sa.Index(f"{prefix}lineage_upstream", "upstream"),
    )
    return CatalogTables(metadata, entity, history, run, lineage)


class _State(NamedTuple):
    """What ``apply`` and ``delete`` need of a stored entity (no body)."""

    id: int
    fqn: str
    version: int
    fingerprint: str
    deleted: bool
    source_digest: str | None
    object_id: str | None


@dataclass
class _Plan:
    """The writes of one ``apply``, sorted by what they do to the stored state."""

    inserts: list[EntityWrite] = field(default_factory=list)
    changes: list[tuple[EntityWrite, _State, str]] = field(default_factory=list)
    #: Structurally unchanged entities whose source digest or object id changed (no new version).
    digests: list[tuple[EntityWrite, _State]] = field(default_factory=list)
    unchanged: int = 0


class SqlCatalog(Catalog):
    """The embedded catalog on SQLAlchemy Core.

    The engine is created, and the tables are created if missing (or given the columns a newer
    version added), on first use.

    A view's upstreams are part of its body (so of its versions and history) and are kept in an
    edge table too, indexed by upstream, so that :meth:`lineage` and :meth:`find_downstreams`
    are index reads. A catalog created by an older version gets the edge table on first use;
    its views get their edges when next ingested (a full run fills them all).

    Tables keep the source's object id (indexed): a table created under a new name with the id
    of a live table is a move, and the history of both says so (``moved_from`` on the creation,
    ``moved_to`` on the deletion of the old name).

    :param url: SQLAlchemy URL, e.g. ``sqlite:////var/lib/omingest/catalog.db`` or
        ``postgresql+psycopg://user:pass@host/db``.
    :param table_prefix: Prefix of the catalog's table names.
    :param engine_kwargs: Extra keyword arguments for :func:`sqlalchemy.create_engine`.
    """

    holds_object_ids = True
    inventory_lists_every_database = True

    def __init__(
        self,
        url: str | URL,
        *,
        table_prefix: str = "omingest_",
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.url: URL = make_url(url)
        self.table_prefix = table_prefix
        self.tables = build_tables(table_prefix)
        self._engine_kwargs = dict(engine_kwargs or {})
        self._engine: Engine | None = None
        self._engine_pid: int | None = None
        self._tables_ready = False
        self._lock = threading.Lock()

    @classmethod
    def open_existing(cls, url: str | URL, *, table_prefix: str = "omingest_") -> SqlCatalog:
        """Return the catalog at ``url`` only if it exists: never create a file or tables (for reading tools).

        :raises ConfigError: naming the URL when the SQLite file is missing or holds no catalog.
        """
        catalog = cls(url, table_prefix=table_prefix)
        database = catalog.url.database
        if catalog.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:") \
                and not os.path.exists(database):
            raise ConfigError("catalog", catalog.safe_url, f"no such file: {database}")
        try:
            engine = create_store_engine(catalog.url, {})
            try:
                present = sa.inspect(engine).has_table(catalog.tables.entity.name)
            finally:
                engine.dispose()
        except sa_exc.SQLAlchemyError as exc:
            raise catalog._error("open the catalog", exc) from exc
        if not present:
            raise ConfigError("catalog", catalog.safe_url,
                              f"no omingest catalog here (no table {catalog.tables.entity.name})")
        return catalog

    def __repr__(self) -> str:
        return f"SqlCatalog({self.safe_url!r}, table_prefix={self.table_prefix!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_engine=None, _engine_pid=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def safe_url(self) -> str:
        """The catalog URL with the password hidden."""
        return self.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """The engine, created (and the tables created) on first use."""
        with self._lock:
            if self._engine is not None and self._engine_pid != os.getpid():
                # Forked: never share the parent's pooled connections.
                self._engine.dispose(close=False)
                self._engine = None
            if self._engine is None:
                self._engine = create_store_engine(self.url, self._engine_kwargs)
                self._engine_pid = os.getpid()
            if not self._tables_ready:
                self._create_tables(self._engine)
                self._tables_ready = True
            return self._engine

    def close(self) -> None:
        """Dispose of the engine and its connections."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- reads ------------------------------------------------------------------------------

    def read_scope(
        self, service: str, database: str, schemas: list[str], tables: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, StoredEntity]:
        """Return the schema and table entities (deleted ones too) of ``schemas`` in one ``SELECT``.

        A schema entity's ``schema_name`` is its own name, so it is found with its tables.

        :param service: Service name (first FQN part).
        :param database: Database name.
        :param schemas: Schema names.
        :param tables: schema -> table names: read only these tables and the schema entities
            (by FQN, a ``SELECT`` per 5,000 names).
        """
        if not schemas:
            return {}
        e = self.tables.entity
        columns = (e.c.fqn, e.c.kind, e.c.database, e.c.schema_name, e.c.name, e.c.fingerprint, e.c.deleted,
                   e.c.source_digest, e.c.object_id)
        if tables is None:
            queries = [sa.select(*columns).where(
                e.c.service == service,
                e.c.database == database,
                e.c.schema_name.in_(sorted(set(schemas))),
                e.c.kind.in_(("schema", "table")),
            )]
        else:
            wanted = sorted(set(schemas))
            fqns = [build_fqn(service, database, s) for s in wanted]
            fqns += [build_fqn(service, database, s, t) for s in wanted for t in tables.get(s, ())]
            queries = [sa.select(*columns).where(e.c.fqn.in_(chunk)) for chunk in _chunks(fqns)]
        with self._transaction(f"read the scope {service}.{database} {len(schemas)} schema(s)") as conn:
            rows = [row for query in queries for row in conn.execute(query).all()]
        # Plain tuples with keyword arguments: Row._asdict() per row costs more than the
        # validation (and model_construct() is no faster than pydantic-core's validation here).
        return {
            fqn: StoredEntity(
                fqn=fqn, kind=kind, database=db, schema_name=schema, name=name, fingerprint=fingerprint,
                deleted=deleted, source_digest=digest, object_id=object_id,
            )
            for fqn, kind, db, schema, name, fingerprint, deleted, digest, object_id in rows
        }

    def find_by_object_ids(self, service: str, object_ids: Collection[str]) -> list[StoredEntity]:
        """Return the live tables of ``service`` with one of ``object_ids``, in one ``SELECT`` (per 5,000 ids).

        :param service: Service name.
        :param object_ids: The sources' object ids.
        """
        wanted = sorted(set(object_ids))
        if not wanted:
            return []
        e = self.tables.entity
        queries = [
            sa.select(e.c.fqn, e.c.kind, e.c.database, e.c.schema_name, e.c.name, e.c.fingerprint,
                      e.c.source_digest, e.c.object_id)
            .where(e.c.service == service, e.c.kind == "table", ~e.c.deleted, e.c.object_id.in_(chunk))
            for chunk in _chunks(wanted)
        ]
        with self._transaction(f"find {len(wanted)} object id(s) of {service}") as conn:
            rows = [row for query in queries for row in conn.execute(query).all()]
        return [
            StoredEntity(fqn=fqn, kind=kind, database=db, schema_name=schema, name=name, fingerprint=fingerprint,
                         source_digest=digest, object_id=object_id)
            for fqn, kind, db, schema, name, fingerprint, digest, object_id in rows
        ]

    def list_schemas(self, service: str, database: str) -> list[str]:
        """Return the names of the live schemas of ``database``, sorted.

        :param service: Service name.
        :param database: Database name.
        """
        e = self.tables.entity
        query = (
            sa.select(e.c.name)
            .where(e.c.service == service, e.c.database == database, e.c.kind == "schema", ~e.c.deleted)
            .order_by(e.c.name)
        )
        with self._transaction(f"list the schemas of {service}.{database}") as conn:
            return list(conn.execute(query).scalars())

    def inventory(self, service: str, databases: Sequence[str] = ()) -> Inventory:
        """Return every live database, schema and table name of ``service`` in one ``SELECT``.

        :param service: Service name.
        :param databases: Ignored: every database of the service is returned.
        """
        e = self.tables.entity
        query = sa.select(e.c.kind, e.c.database, e.c.schema_name, e.c.name).where(
            e.c.service == service, ~e.c.deleted
        )
        inventory: Inventory = {}
        with self._transaction(f"read the inventory of {service}") as conn:
            rows = conn.execute(query).all()
        for kind, database, schema, name in rows:
            schemas = inventory.setdefault(database, {})
            if kind == "schema":
                schemas.setdefault(name, [])
            elif kind == "table":
                schemas.setdefault(schema, []).append(name)
        for schemas in inventory.values():
            for names in schemas.values():
                names.sort()
        return inventory

    def last_successful_run(self, service: str) -> RunRecord | None:
        """Return the latest successful run of ``service`` by start time, or None.

        :param service: Service name.
        """
        r = self.tables.run
        query = (sa.select(r.c.run_id).where(r.c.service == service, r.c.status == "success")
                 .order_by(r.c.started_at.desc()).limit(1))
        with self._transaction(f"find the last successful run of {service}") as conn:
            run_id = conn.execute(query).scalar()
        return None if run_id is None else self.get_run(run_id)

    def list_services(self) -> list[str]:
        """Return the names of the services the catalog holds, sorted."""
        e = self.tables.entity
        with self._transaction("list the services") as conn:
            return list(conn.execute(sa.select(e.c.service).distinct().order_by(e.c.service)).scalars())

    def list_tables(
        self,
        service: str,
        database: str | None = None,
        schema: str | None = None,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        """Return the tables of a service as dicts of fqn, database, schema, name, deleted, version.

        :param service: Service name.
        :param database: Only tables of this database.
        :param schema: Only tables of this schema.
        :param include_deleted: Include soft-deleted tables.
        """
        e = self.tables.entity
        query = sa.select(e.c.fqn, e.c.database, e.c.schema_name, e.c.name, e.c.deleted, e.c.version).where(
            e.c.service == service, e.c.kind == "table"
        )
        if database is not None:
            query = query.where(e.c.database == database)
        if schema is not None:
            query = query.where(e.c.schema_name == schema)
        if not include_deleted:
            query = query.where(~e.c.deleted)
        query = query.order_by(e.c.database, e.c.schema_name, e.c.name)
        with self._transaction(f"list the tables of {service}") as conn:
            rows = conn.execute(query).all()
        return [
            {
                "fqn": r.fqn,
                "database": r.database,
                "schema": r.schema_name,
                "name": r.name,
                "deleted": r.deleted,
                "version": r.version,
            }
            for r in rows
        ]

    def get(self, fqn: str) -> dict[str, Any] | None:
        """Return an entity's body with ``deleted``, ``version`` and ``fingerprint``, or None.

        :param fqn: Fully qualified name.
        """
        e = self.tables.entity
        query = sa.select(e.c.body, e.c.deleted, e.c.version, e.c.fingerprint).where(e.c.fqn == fqn)
        with self._transaction(f"read {fqn}") as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return {**row.body, "deleted": row.deleted, "version": row.version, "fingerprint": row.fingerprint}

    def history(self, fqn: str) -> list[HistoryEntry]:
        """Return an entity's versions, oldest first.

        :param fqn: Fully qualified name.
        """
        h = self.tables.history
        query = (
            sa.select(
                h.c.fqn, h.c.version, h.c.change, h.c.run_id, h.c.changed_at, h.c.fingerprint, h.c.changes
            )
            .where(h.c.fqn == fqn)
            .order_by(h.c.id)
        )
        with self._transaction(f"read the history of {fqn}") as conn:
            rows = conn.execute(query).all()
        return [HistoryEntry(**{**row._asdict(), "changed_at": as_utc(row.changed_at)}) for row in rows]

    def lineage(self, fqn: str) -> TableLineage:
        """Return the live edges into and out of ``fqn``, in two indexed reads.

        An edge whose other end is deleted, or not in the catalog, is left out.

        :param fqn: Fully qualified name of a table or view.
        """
        e, lin = self.tables.entity, self.tables.lineage
        down, up = e.alias("down"), e.alias("up")
        upstream_q = (
            sa.select(lin.c.upstream, lin.c.columns)
            .join(down, down.c.id == lin.c.downstream_id)
            .join(up, up.c.fqn == lin.c.upstream)
            .where(down.c.fqn == fqn, ~down.c.deleted, ~up.c.deleted)
            .order_by(lin.c.upstream)
        )
        downstream_q = (
            sa.select(down.c.fqn, lin.c.columns)
            .join(down, down.c.id == lin.c.downstream_id)
            .join(up, up.c.fqn == lin.c.upstream)
            .where(lin.c.upstream == fqn, ~down.c.deleted, ~up.c.deleted)
            .order_by(down.c.fqn)
        )
        with self._transaction(f"read the lineage of {fqn}") as conn:
            upstream = conn.execute(upstream_q).all()
            downstream = conn.execute(downstream_q).all()
        return TableLineage(
            fqn=fqn,
            upstream=[LineageEdge(upstream=u, downstream=fqn, columns=_edge_columns(c)) for u, c in upstream],
            downstream=[LineageEdge(upstream=fqn, downstream=d, columns=_edge_columns(c)) for d, c in downstream],
        )

    def find_downstreams(self, service: str, fqns: Collection[str]) -> list[StoredEntity]:
        """Return the live views of ``service`` that read one of ``fqns``, in one indexed read per 5,000 names.

        :param service: Service name.
        :param fqns: Fully qualified names of upstream tables (dropped or renamed ones, typically).
        """
        wanted = sorted(set(fqns))
        if not wanted:
            return []
        e, lin = self.tables.entity, self.tables.lineage
        queries = [
            sa.select(e.c.fqn, e.c.kind, e.c.database, e.c.schema_name, e.c.name, e.c.fingerprint,
                      e.c.source_digest, e.c.object_id)
            .where(e.c.id.in_(sa.select(lin.c.downstream_id).where(lin.c.upstream.in_(chunk))),
                   e.c.service == service, ~e.c.deleted)
            for chunk in _chunks(wanted)
        ]
        with self._transaction(f"find the downstreams of {len(wanted)} table(s) of {service}") as conn:
            rows = {row.fqn: row for query in queries for row in conn.execute(query).all()}
        return [
            StoredEntity(fqn=fqn, kind=kind, database=db, schema_name=schema, name=name, fingerprint=fingerprint,
                         source_digest=digest, object_id=object_id)
            for fqn, kind, db, schema, name, fingerprint, digest, object_id in rows.values()
        ]

    # -- writes -----------------------------------------------------------------------------

    def apply(self, writes: list[EntityWrite], run_id: str) -> None:
        """Apply creates, updates and restores in one transaction, recording history.

        What a write does depends on what is stored, so a retried write is harmless: a new FQN is
        created; a soft-deleted one is restored; a live one with another fingerprint is updated;
        a live one with the same fingerprint is left alone. When one FQN is written twice, the
        last write wins.

        :param writes: The writes.
        :param run_id: The run making them.
        """
        if not writes:
            return
        by_fqn = {w.fqn: w for w in writes}
        now = utcnow()
        started = time.perf_counter()
        with self._transaction(f"apply {len(by_fqn)} write(s) of run {run_id}", write=True) as conn:
            stored = self._select_state(conn, list(by_fqn))
            plan = _plan(by_fqn.values(), stored)
            old_bodies = self._select_bodies(conn, [s.id for _, s, _ in plan.changes])
            arrivals = [*plan.inserts, *(w for w, _, change in plan.changes if change == "restored")]
            moved_from = self._live_holders(conn, [w for w in arrivals if w.kind == "table"], exclude=by_fqn)
            new_ids = self._insert_entities(conn, plan.inserts, run_id, now, moved_from)
            self._change_entities(conn, plan.changes, old_bodies, run_id, now, moved_from)
            self._update_digests(conn, plan.digests)
            self._replace_edges(conn, new_ids, {w.fqn: state.id for w, state, _ in plan.changes}, by_fqn)
        log.info(
            "Applied %d write(s) of run %s in %.2fs: %d created, %d updated or restored, %d unchanged.",
            len(by_fqn),
            run_id,
            time.perf_counter() - started,
            len(plan.inserts),
            len(plan.changes),
            plan.unchanged,
        )

    def delete(self, fqns: list[str], run_id: str, hard: bool = False) -> int:
        """Delete entities by FQN in one transaction; return how many changed.

        A soft delete marks live entities deleted (version + 1, a ``deleted`` history entry);
        entities already deleted or unknown are not counted. A hard delete removes the entities,
        soft-deleted ones too, with their whole history, as OpenMetadata's hard delete does; it
        counts the entities removed. Deleting a schema leaves its tables alone.

        :param fqns: Fully qualified names.
        :param run_id: The run deleting them.
        :param hard: Remove the rows instead of marking them deleted.
        """
        unique = sorted(set(fqns))
        if not unique:
            return 0
        how = "hard-delete" if hard else "delete"
        with self._transaction(f"{how} {len(unique)} entities for run {run_id}", write=True) as conn:
            stored = self._select_state(conn, unique)
            if hard:
                count = self._remove_entities(conn, [s.id for s in stored.values()])
            else:
                live = [s for s in stored.values() if not s.deleted]
                moved_to = self._live_holders(conn, live, exclude=stored)
                count = self._mark_deleted(conn, live, run_id, moved_to)
        log.info("Run %s: %sd %d of %d entities.", run_id, how, count, len(unique))
        return count

    def record_run(self, run: RunRecord) -> None:
        """Insert or update a run record.

        :param run: The run.
        """
        r = self.tables.run
        values = run.model_dump()
        with self._transaction(f"record run {run.run_id}", write=True) as conn:
            upsert(conn, r, values, key="run_id")

    def get_run(self, run_id: str) -> RunRecord | None:
        """Return a run record, or None.

        :param run_id: The run's id.
        """
        r = self.tables.run
        with self._transaction(f"read run {run_id}") as conn:
            row = conn.execute(sa.select(r).where(r.c.run_id == run_id)).first()
        if row is None:
            return None
        data = row._asdict()
        data["started_at"] = as_utc(data["started_at"])
        data["ended_at"] = as_utc(data["ended_at"])
        return RunRecord(**data)

    # -- statements -------------------------------------------------------------------------

    def _select_state(self, conn: Connection, fqns: Sequence[str]) -> dict[str, _State]:
        """Read (and on PostgreSQL lock) the stored state of ``fqns``, without bodies."""
        e = self.tables.entity
        stored: dict[str, _State] = {}
        for chunk in _chunks(sorted(fqns)):
            query = (
                sa.select(e.c.id, e.c.fqn, e.c.version, e.c.fingerprint, e.c.deleted, e.c.source_digest,
                          e.c.object_id)
                .where(e.c.fqn.in_(chunk))
                .order_by(e.c.fqn)
                .with_for_update()
            )
            stored.update((row.fqn, _State(*row)) for row in conn.execute(query))
        return stored

    def _live_holders(
        self, conn: Connection, entities: Sequence[EntityWrite | _State], *, exclude: Collection[str]
    ) -> dict[str, str]:
        """Return FQN -> the FQN of another live table with the same object id (a move's other name).

        :param entities: the entities arriving (created, restored) or leaving (deleted).
        :param exclude: FQNs that are not the other name (written or deleted in the same call).
        """
        by_id: dict[str, list[str]] = {}
        for entity in entities:
            if entity.object_id:
                by_id.setdefault(entity.object_id, []).append(entity.fqn)
        if not by_id:
            return {}
        e = self.tables.entity
        holders: dict[str, str] = {}
        for chunk in _chunks(sorted(by_id)):
            query = sa.select(e.c.object_id, e.c.fqn, e.c.service).where(
                e.c.kind == "table", ~e.c.deleted, e.c.object_id.in_(chunk))
            for object_id, other, service in conn.execute(query):
                if other in exclude:
                    continue
                for fqn in by_id[object_id]:
                    if _service_of(fqn) == service:
                        holders.setdefault(fqn, other)
        return holders

    def _select_bodies(self, conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Read the stored bodies of the entities about to change."""
        e = self.tables.entity
        bodies: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            rows = conn.execute(sa.select(e.c.id, e.c.body).where(e.c.id.in_(chunk)))
            bodies.update((entity_id, body) for entity_id, body in rows)
        return bodies

    def _insert_entities(
        self, conn: Connection, writes: list[EntityWrite], run_id: str, now: datetime,
        moved_from: Mapping[str, str],
    ) -> dict[str, int]:
        """Insert new entities at version 1 with their ``created`` history; return FQN -> new id."""
        if not writes:
            return {}
        e = self.tables.entity
        rows = [_entity_row(w, run_id, now) for w in writes]
        # The driver's executemany, then the new ids by FQN: on SQLite and PostgreSQL both, a third
        # of the time of an INSERT ... RETURNING (SQLAlchemy sends that as multi-row VALUES pages).
        insert_rows(conn, e, rows)
        ids = {fqn: s.id for fqn, s in self._select_state(conn, [w.fqn for w in writes]).items()}
        history = [
            _history_row(ids[w.fqn], w.fqn, 1, "created", run_id, now, w.fingerprint, _moved("from", w.fqn, moved_from))
            for w in writes
        ]
        insert_rows(conn, self.tables.history, history)
        return ids

    def _change_entities(
        self,
        conn: Connection,
        changes: list[tuple[EntityWrite, _State, str]],
        old_bodies: dict[int, dict[str, Any]],
        run_id: str,
        now: datetime,
        moved_from: Mapping[str, str],
    ) -> None:
        if not changes:
            return
        e = self.tables.entity
        stmt = (
            sa.update(e)
            .where(e.c.id == sa.bindparam("b_id"))
            .values(
                kind=sa.bindparam("b_kind"),
                database=sa.bindparam("b_database"),
                schema_name=sa.bindparam("b_schema_name"),
                name=sa.bindparam("b_name"),
                fingerprint=sa.bindparam("b_fingerprint"),
                source_digest=sa.bindparam("b_source_digest"),
                object_id=sa.bindparam("b_object_id"),
                body=sa.bindparam("b_body", type_=_JSON),
                version=sa.bindparam("b_version"),
                deleted=False,
                updated_run=run_id,
                updated_at=now,
            )
        )
        params = []
        history = []
        for write, state, change in changes:
            version = state.version + 1
            params.append(
                {
                    "b_id": state.id,
                    "b_kind": write.kind,
                    "b_database": write.database,
                    "b_schema_name": _schema_name(write),
                    "b_name": write.name,
                    "b_fingerprint": write.fingerprint,
                    "b_source_digest": write.source_digest,
                    "b_object_id": write.object_id or state.object_id,
                    "b_body": write.stored_body(),
                    "b_version": version,
                }
            )
            diff = diff_bodies(old_bodies.get(state.id) or {}, write.body)
            diff.update(_moved("from", write.fqn, moved_from))
            history.append(
                _history_row(state.id, write.fqn, version, change, run_id, now, write.fingerprint, diff)
            )
        conn.execute(stmt, params)
        insert_rows(conn, self.tables.history, history)

    def _update_digests(self, conn: Connection, digests: list[tuple[EntityWrite, _State]]) -> None:
        """Record new source digests and object ids of structurally unchanged entities (no new version)."""
        if not digests:
            return
        e = self.tables.entity
        stmt = sa.update(e).where(e.c.id == sa.bindparam("b_id")).values(
            source_digest=sa.bindparam("b_digest"), object_id=sa.bindparam("b_object_id"))
        conn.execute(stmt, [
            {"b_id": state.id, "b_digest": write.source_digest or state.source_digest,
             "b_object_id": write.object_id or state.object_id}
            for write, state in digests
        ])

    def _replace_edges(
        self, conn: Connection, new_ids: Mapping[str, int], changed_ids: Mapping[str, int],
        writes: Mapping[str, EntityWrite],
    ) -> None:
        """Make the edge table say what the written tables' bodies say (their ``upstreams``).

        :param new_ids: FQN -> id of the entities just created: they have no edges yet (a hard
            delete removes an entity's edges with it, so a reused id starts clean).
        :param changed_ids: FQN -> id of the entities updated or restored: their edges are replaced.
        """
        lin = self.tables.lineage
        changed = sorted(i for fqn, i in changed_ids.items() if writes[fqn].kind == "table")
        for chunk in _chunks(changed):
            conn.execute(sa.delete(lin).where(lin.c.downstream_id.in_(chunk)))
        rows = {
            (entity_id, upstream): columns
            for ids in (new_ids, changed_ids)
            for fqn, entity_id in ids.items() if writes[fqn].kind == "table"
            for upstream, columns in _body_edges(writes[fqn])
        }
        if rows:
            insert_rows(conn, lin, [{"downstream_id": i, "upstream": u, "columns": c} for (i, u), c in rows.items()])

    def _mark_deleted(self, conn: Connection, live: list[_State], run_id: str, moved_to: Mapping[str, str]) -> int:
        if not live:
            return 0
        e = self.tables.entity
        now = utcnow()
        stmt = (
            sa.update(e)
            .where(e.c.id == sa.bindparam("b_id"))
            .values(deleted=True, version=sa.bindparam("b_version"), updated_run=run_id, updated_at=now)
        )
        conn.execute(stmt, [{"b_id": s.id, "b_version": s.version + 1} for s in live])
        history = [
            _history_row(s.id, s.fqn, s.version + 1, "deleted", run_id, now, s.fingerprint,
                         _moved("to", s.fqn, moved_to))
            for s in live
        ]
        insert_rows(conn, self.tables.history, history)
        return len(live)

    def _remove_entities(self, conn: Connection, ids: list[int]) -> int:
        e, h = self.tables.entity, self.tables.history
        lin = self.tables.lineage
        for chunk in _chunks(ids):
            conn.execute(sa.delete(h).where(h.c.entity_id.in_(chunk)))
            conn.execute(sa.delete(lin).where(lin.c.downstream_id.in_(chunk)))
            conn.execute(sa.delete(e).where(e.c.id.in_(chunk)))
        return len(ids)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        """Run one transaction; turn database errors into :class:`CatalogError` naming ``action``."""
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise self._error(action, exc) from exc

    def _create_tables(self, engine: Engine) -> None:
        """Create the tables if missing; tolerate another process creating them at the same time."""
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                with engine.connect() as conn:
                    conn.execution_options(**{WRITE_OPTION: True})
                    with conn.begin():
                        self.tables.metadata.create_all(conn, checkfirst=True)
                        self._add_missing_columns(conn)
                return
            except (sa_exc.OperationalError, sa_exc.ProgrammingError, sa_exc.IntegrityError) as exc:
                if attempt == _CREATE_ATTEMPTS or not _is_already_exists(exc):
                    raise self._error("create the catalog tables", exc) from exc
                log.info("Catalog tables were being created by another process; checking again.")
                time.sleep(0.05 * attempt)
            except sa_exc.SQLAlchemyError as exc:
                raise self._error("create the catalog tables", exc) from exc

    def _add_missing_columns(self, conn: Connection) -> None:
        """Give a catalog created by an older version the columns and indexes added since."""
        e = self.tables.entity
        present = {c["name"] for c in sa.inspect(conn).get_columns(e.name)}
        if "object_id" not in present:
            log.info("Adding the object_id column to %s.", e.name)
            column = e.c.object_id.type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {conn.dialect.identifier_preparer.quote(e.name)} "
                                 f"ADD COLUMN object_id {column}"))
        # Indexes added since (reflection skips expression indexes on SQLite: IF NOT EXISTS decides).
        for table in (e, self.tables.history):
            for index in sorted(table.indexes, key=lambda i: i.name or ""):
                conn.execute(CreateIndex(index, if_not_exists=True))

    def _error(self, action: str, exc: sa_exc.SQLAlchemyError) -> CatalogError:
        cause = getattr(exc, "orig", None) or exc
        detail = " ".join(str(cause).split())[:_MAX_ERROR_DETAIL]
        retryable = isinstance(
            exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
        ) or bool(getattr(exc, "connection_invalidated", False))
        return CatalogError(
            f"Could not {action} in the catalog at {self.safe_url}: {type(cause).__name__}: {detail}",
            retryable=retryable,
        )


# -- helpers ------------------------------------------------------------------------------------


def _is_already_exists(exc: sa_exc.SQLAlchemyError) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "already exists" in text or "duplicate key" in text or "duplicate column" in text


def _plan(writes: Iterable[EntityWrite], stored: dict[str, _State]) -> _Plan:
    """Decide, from the stored state, what each write does."""
    plan = _Plan()
    for write in writes:
        state = stored.get(write.fqn)
        if state is None:
            action = "created"
            plan.inserts.append(write)
        elif state.deleted:
            action = "restored"
            plan.changes.append((write, state, action))
        elif state.fingerprint != write.fingerprint:
            action = "updated"
            plan.changes.append((write, state, action))
        else:
            action = "unchanged"
            plan.unchanged += 1
            new_digest = write.source_digest and write.source_digest != state.source_digest
            new_id = write.object_id and write.object_id != state.object_id
            if new_digest or new_id:
                plan.digests.append((write, state))
        if action != write.change:
            log.debug("Write %s of %s is %s in the catalog.", write.change, write.fqn, action)
    return plan


def _entity_row(write: EntityWrite, run_id: str, now: datetime) -> dict[str, Any]:
    return {
        "fqn": write.fqn,
        "kind": write.kind,
        "service": _service_of(write.fqn),
        "database": write.database,
        "schema_name": _schema_name(write),
        "name": write.name,
        "fingerprint": write.fingerprint,
        "source_digest": write.source_digest,
        "object_id": write.object_id,
        "body": write.stored_body(),
        "version": 1,
        "deleted": False,
        "created_run": run_id,
        "updated_run": run_id,
        "created_at": now,
        "updated_at": now,
    }


def _history_row(
    entity_id: int,
    fqn: str,
    version: int,
    change: str,
    run_id: str,
    now: datetime,
    fingerprint: str | None,
    changes: dict[str, Any],
) -> dict[str, Any]:
    return {
        "entity_id": entity_id,
        "fqn": fqn,
        "version": version,
        "change": change,
        "run_id": run_id,
        "changed_at": now,
        "fingerprint": fingerprint,
        "changes": changes,
    }


def _moved(direction: str, fqn: str, other: Mapping[str, str]) -> dict[str, Any]:
    """Return the history ``changes`` that tie a move's two names (``moved_from`` / ``moved_to``)."""
    return {f"moved_{direction}": other[fqn]} if fqn in other else {}


def _body_edges(write: EntityWrite) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Yield (upstream FQN, column lineage) of a written view; its upstreams are named without the service."""
    edges = write.upstream_edges()
    if not edges:
        return
    service = quote_part(_service_of(write.fqn))
    for table, columns in edges:
        yield f"{service}.{table}", columns


def _edge_columns(columns: Any) -> list[ColumnLineage]:
    return [ColumnLineage(**c) for c in columns or ()]


def _service_of(fqn: str) -> str:
    try:
        return split_fqn(fqn)[0]
    except ValueError as exc:
        raise CatalogError(f"Cannot store {fqn!r}: {exc}") from exc


def _schema_name(write: EntityWrite) -> str | None:
    """Return the schema column of a write: a schema entity is in its own schema."""
    if write.kind == "schema":
        return write.schema_name or write.name
    return write.schema_name


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


