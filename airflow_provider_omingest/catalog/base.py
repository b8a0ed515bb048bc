"""The catalog contract: where metadata lives (embedded SQL catalog, OpenMetadata, ...)."""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

__all__ = ["Catalog", "EntityWrite", "HistoryEntry", "RunRecord", "StoredEntity"]

EntityKind = Literal["database", "schema", "table"]
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


class EntityWrite(BaseModel):
    """One create, update or restore to apply."""

    fqn: str
    kind: EntityKind
    database: str
    schema_name: str | None = None
    name: str
    fingerprint: str
    body: dict[str, Any] = Field(description="The entity as JSON (model_dump(mode='json')).")
    change: Literal["created", "updated", "restored"]
    source_digest: str | None = Field(
        None, description="Stored even when the fingerprint is unchanged (no new version then)."
    )
    object_id: str | None = Field(
        None, description="The source's identity of the object; stored like source_digest (no new version)."
    )


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

    @abc.abstractmethod
    def list_schemas(self, service: str, database: str) -> list[str]:
        """Return the names of the live (not deleted) schemas of ``database``."""

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
