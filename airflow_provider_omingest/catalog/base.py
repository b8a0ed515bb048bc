"""The catalog contract: where metadata lives (embedded SQL catalog, OpenMetadata, ...)."""

from __future__ import annotations

import abc
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from airflow_provider_omingest.models.lineage import ColumnLineage, LineageEdge, TableLineage

if TYPE_CHECKING:
    from airflow_provider_omingest.models.entities import _Entity

__all__ = [
    "Catalog",
    "ColumnLineage",
    "EntityWrite",
    "HistoryEntry",
    "Inventory",
    "JsonText",
    "LineageEdge",
    "RunRecord",
    "StoredEntity",
    "TableLineage",
]

EntityKind = Literal["database", "schema", "table"]
#: database -> schema -> live table names (empty list: a live schema without tables).
Inventory = dict[str, dict[str, list[str]]]
ChangeType = Literal["created", "updated", "restored", "deleted"]


class StoredEntity(BaseModel):
    """What the compare needs to know of an entity already in the catalog.

    ``schema_name`` is the schema a table belongs to; for a schema entity it is its own name;
    for a database entity it is None.
    """

    fqn: str
    kind: EntityKind
    database: str
    schema_name: str | None = None
    name: str
    fingerprint: str
    deleted: bool = False
    source_digest: str | None = Field(
        None, description="The source's own digest of the structure, for digest-based incremental runs."
    )
    object_id: str | None = Field(
        None, description="The source's identity of the object (Snowflake TABLE_ID, an OID), to see moves."
    )


class JsonText(str):
    """JSON text already serialised: stored as it is, not encoded again."""

    __slots__ = ()


class EntityWrite(BaseModel):
    """One create, update or restore to apply.

    The entity travels as its JSON text (``body_json``), serialised once by pydantic's Rust
    serializer; ``body`` parses it on demand (only updates need it, for the field-level diff).
    Passing ``body=`` (a dict) instead is accepted and serialised.
    """

    fqn: str
    kind: EntityKind
    database: str
    schema_name: str | None = None
    name: str
    fingerprint: str
    body_json: str = Field(description="The entity as JSON text (model_dump_json()).")
    change: Literal["created", "updated", "restored"]
    source_digest: str | None = Field(
        None, description="Stored even when the fingerprint is unchanged (no new version then)."
    )
    object_id: str | None = Field(
        None, description="The source's identity of the object; stored like source_digest (no new version)."
    )

    #: The entity's upstreams (models), kept when the write is made from the entity, so that the
    #: catalog's edge table need not parse the body back; None when only the JSON is known.
    _upstreams: tuple[Any, ...] | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _serialise_body(cls, data: Any) -> Any:
        if isinstance(data, dict) and "body" in data:
            data = dict(data)
            data["body_json"] = json.dumps(data.pop("body"), separators=(",", ":"))
        return data

    @classmethod
    def of(
        cls,
        entity: _Entity,
        *,
        fqn: str,
        kind: EntityKind,
        database: str,
        schema_name: str | None = None,
        change: Literal["created", "updated", "restored"] = "created",
        fingerprint: str | None = None,
        body_json: str | None = None,
    ) -> EntityWrite:
        """Return the write of ``entity``, serialised once with its fingerprint.

        :param fingerprint: The fingerprint and ``body_json`` the JSON, both as
            :meth:`~airflow_provider_omingest.models.entities._Entity.fingerprint_and_json` returned
            them for ``entity``; computed here unless both are given.
        """
        if fingerprint is None or body_json is None:
            fingerprint, body_json = entity.fingerprint_and_json()
        write = cls.model_construct(
            fqn=fqn,
            kind=kind,
            database=database,
            schema_name=schema_name,
            name=entity.name,  # type: ignore[attr-defined]
            fingerprint=fingerprint,
            body_json=body_json,
            change=change,
            source_digest=getattr(entity, "source_digest", None),
            object_id=getattr(entity, "object_id", None),
        )
        write._upstreams = getattr(entity, "upstreams", None)
        return write

    def upstream_edges(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Return (upstream table without the service, column lineage) per upstream, as the body says."""
        if self._upstreams is not None:
            upstreams = [(u.table, [(c.upstream_columns, c.downstream_column) for c in u.columns])
                         for u in self._upstreams]
        elif '"upstreams":' not in self.body_json or '"upstreams":[]' in self.body_json:
            return []  # no upstreams: skip parsing the body (most writes are tables)
        else:
            upstreams = [(u["table"], [(c["upstream_columns"], c["downstream_column"])
                                       for c in u.get("columns") or ()])
                         for u in self.body.get("upstreams") or ()]
        return [(table, [{"upstream_columns": list(up), "downstream_column": down} for up, down in columns])
                for table, columns in upstreams]

    @cached_property
    def body(self) -> dict[str, Any]:
        """The entity as a JSON-ready dict (parsed from ``body_json``)."""
        return json.loads(self.body_json)

    def stored_body(self) -> JsonText:
        """The body for a JSON column, as text that is stored without encoding it again."""
        return JsonText(self.body_json)


class HistoryEntry(BaseModel):
    """One version of an entity: what changed, when, and by which run."""

    fqn: str
    version: int
    change: ChangeType
    run_id: str
    changed_at: datetime
    fingerprint: str | None
    changes: dict[str, Any] = Field(default_factory=dict)


class RunRecord(BaseModel):
    """An ingestion run as the catalog records it."""

    run_id: str
    service: str
    mode: str
    status: Literal["running", "success", "failed", "partial"] = "running"
    started_at: datetime
    ended_at: datetime | None = None
    summary: dict[str, Any] = Field(default_factory=dict)


class Catalog(abc.ABC):
    """Read and write metadata entities. Reads are one query per scope; writes are batched."""

    #: Whether the catalog keeps the sources' object ids, so that :meth:`find_by_object_ids` answers.
    #: Override in catalogs that store them.
    holds_object_ids: ClassVar[bool] = False

    #: Whether :meth:`inventory` returns every database of a service, so that a database that
    #: vanished from the source can be seen (and deleted) by the plan.
    inventory_lists_every_database: ClassVar[bool] = False

    @abc.abstractmethod
    def read_scope(
        self, service: str, database: str, schemas: list[str], tables: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, StoredEntity]:
        """Return every entity (schemas and tables, deleted ones too) in ``schemas``, by FQN, in one read.

        :param tables: schema -> table names: only these tables (and the schema entities) are
            needed, e.g. by an incremental unit; a catalog may return more.
        """

    def find_by_object_ids(self, service: str, object_ids: Collection[str]) -> list[StoredEntity]:
        """Return the live tables of ``service`` whose ``object_id`` is one of ``object_ids``, in one read.

        The engine uses it to see that a changed table was moved (its id is already catalogued
        under another name). A catalog that cannot hold object ids returns nothing: moves are
        then found by full runs, as a deletion under the old name and a creation under the new one.

        :param service: the service.
        :param object_ids: the source's object ids.
        """
        return []

    def find_downstreams(self, service: str, fqns: Collection[str]) -> list[StoredEntity]:
        """Return the live views of ``service`` that read one of the tables ``fqns``, in one read.

        The engine uses it to refresh the views of a dropped or renamed table in incremental
        runs. A catalog that keeps no lineage index returns nothing: those views are then
        refreshed by full runs.

        :param service: the service.
        :param fqns: fully qualified names of upstream tables.
        """
        return []

    @abc.abstractmethod
    def list_schemas(self, service: str, database: str) -> list[str]:
        """Return the names of the live (not deleted) schemas of ``database``."""

    def inventory(self, service: str, databases: Sequence[str]) -> Inventory:
        """Return the live databases, schemas and table names of ``service``, in as few reads as possible.

        The plan reads it once per run: it is the fail-safe's scope (the live tables inside the
        filters before the run) and tells which schemas and databases vanished from the source.
        A catalog should return every database of the service it holds; this default, built
        on :meth:`list_schemas` and :meth:`read_scope`, knows only ``databases`` (so it cannot
        see a database that vanished from the source).

        :param databases: the databases the source listed (a hint; more may be returned).
        """
        inventory: Inventory = {}
        for database in databases:
            schemas = self.list_schemas(service, database)
            tables: dict[str, list[str]] = {s: [] for s in schemas}
            for entity in self.read_scope(service, database, schemas).values():
                if entity.kind == "table" and not entity.deleted and entity.schema_name in tables:
                    tables[entity.schema_name].append(entity.name)
            if tables:
                inventory[database] = {s: sorted(names) for s, names in tables.items()}
        return inventory

    def last_successful_run(self, service: str) -> RunRecord | None:
        """Return the latest successful run of ``service`` (its summary holds the watermark), or None.

        :raises NotImplementedError: when the catalog keeps no run records it can search.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot look up runs by service")

    @abc.abstractmethod
    def apply(self, writes: list[EntityWrite], run_id: str) -> None:
        """Apply creates, updates and restores in one transaction, recording history.

        What happens depends on what is stored, not on ``write.change``, so that a retried
        task converges: a new FQN is created; a soft-deleted one is restored; a live one with a
        different fingerprint is updated (version + 1, history with the diff); a live one with
        the same fingerprint is left alone (only a changed ``source_digest`` or ``object_id`` is
        recorded).
        """

    @abc.abstractmethod
    def delete(self, fqns: list[str], run_id: str, hard: bool = False) -> int:
        """Soft-delete (or hard-delete) entities by FQN in one transaction; return how many changed.

        Soft: ``deleted`` is set, version + 1, a 'deleted' history entry; already-deleted
        entities are not counted. Hard: the entities and their history are removed (already
        soft-deleted ones count, since purging them is a change). Deleting a schema entity
        does not delete its tables: the engine lists them in the same call. A catalog may refuse
        (with a non-retryable :class:`~airflow_provider_omingest.exceptions.CatalogError`, changing
        nothing) to delete a schema whose live tables are not in the call, as OpenMetadata does.
        """

    @abc.abstractmethod
    def get(self, fqn: str) -> dict[str, Any] | None:
        """Return an entity's body plus ``deleted``, ``version`` and ``fingerprint``, or None."""

    @abc.abstractmethod
    def history(self, fqn: str) -> list[HistoryEntry]:
        """Return an entity's versions, oldest first."""

    def lineage(self, fqn: str) -> TableLineage:
        """Return the live lineage edges into (``upstream``) and out of (``downstream``) a table.

        Edges come from the views' upstreams as last ingested; an edge whose other end is
        deleted is left out. An unknown ``fqn`` gives empty lists.

        :raises NotImplementedError: when the catalog cannot answer lineage.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot answer lineage")

    @abc.abstractmethod
    def record_run(self, run: RunRecord) -> None:
        """Insert or update a run record."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord | None:
        """Return a run record."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
