"""Metadata entities: Service → Database → Schema → Table → Column.

Shaped after OpenMetadata's create requests so that mapping to OpenMetadata is direct.
Every entity is a frozen pydantic model; its :meth:`fingerprint` hashes the canonical
structural content (fields marked volatile are left out).
"""

from __future__ import annotations

import enum
import functools
import hashlib
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_omingest.models.fqn import build_fqn

__all__ = [
    "Column",
    "ColumnUpstream",
    "ConstraintType",
    "Database",
    "DatabaseSchema",
    "Table",
    "TableConstraint",
    "TableType",
    "TableUpstream",
    "fingerprint_of",
]

FINGERPRINT_LENGTH = 32


class TableType(str, enum.Enum):
    """Kind of table; values are OpenMetadata's ``tableType`` enum."""

    REGULAR = "Regular"
    EXTERNAL = "External"
    DYNAMIC = "Dynamic"
    VIEW = "View"
    SECURE_VIEW = "SecureView"
    MATERIALIZED_VIEW = "MaterializedView"
    ICEBERG = "Iceberg"
    LOCAL = "Local"
    PARTITIONED = "Partitioned"
    FOREIGN = "Foreign"
    TRANSIENT = "Transient"
    STREAM = "Stream"


class ConstraintType(str, enum.Enum):
    """Kind of table constraint; values are OpenMetadata's ``constraintType`` enum."""

    PRIMARY_KEY = "PRIMARY_KEY"
    UNIQUE = "UNIQUE"
    FOREIGN_KEY = "FOREIGN_KEY"
    SORT_KEY = "SORT_KEY"
    DIST_KEY = "DIST_KEY"
    CLUSTER_KEY = "CLUSTER_KEY"


class _Entity(BaseModel):
    """Base of every entity: frozen, strict about unknown fields, fingerprintable."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    #: Field names left out of the fingerprint (figures that change without a structural change).
    volatile_fields: ClassVar[frozenset[str]] = frozenset()

    def structure(self) -> dict[str, Any]:
        """Return the structural content (JSON-ready, volatile fields removed).

        Every field, in JSON form (enums as their values, tuples as lists), by pydantic's
        serializer. Volatile fields are left out at this level only: nested entities (columns,
        constraints) have none.
        """
        return self.model_dump(mode="json", exclude=self._volatile_exclude())

    def _volatile_exclude(self) -> set[str] | None:
        """Return the fields left out of the fingerprint: the volatile ones, plus unset late additions."""
        return set(self.volatile_fields) or None

    def canonical(self) -> _Entity:
        """Return the entity with its order-insensitive parts in a fixed order (itself by default)."""
        return self

    def fingerprint(self) -> str:
        """Return a stable hash of the structural content.

        The hash of pydantic's JSON of :meth:`canonical` (fields in declaration order, volatile
        fields left out): serialised in Rust, about four times faster than hashing :meth:`structure`.
        """
        return fingerprint_of(self.canonical().model_dump_json(exclude=self._volatile_exclude()))

    def fingerprint_and_json(self) -> tuple[str, str]:
        """Return (:meth:`fingerprint`, ``model_dump_json()``), serialising once where possible.

        Fields serialise in declaration order and the fields left out of the fingerprint are
        declared last, so for an entity already in canonical order the fingerprint's JSON is the
        body's JSON cut before the first left-out field. Otherwise both are serialised.
        """
        body = self.model_dump_json()
        payload = self._fingerprint_prefix(body)
        return (self.fingerprint() if payload is None else fingerprint_of(payload)), body

    def _fingerprint_prefix(self, body: str) -> str | None:
        """The fingerprint's JSON cut from ``body``, or None where it is not a prefix of it."""
        exclude = self._volatile_exclude()
        if not exclude:
            return body if self.canonical() is self else None
        names = _field_names(type(self))
        tail = names[len(names) - len(exclude):]
        if set(tail) != exclude or len(tail) == len(names) or self.canonical() is not self:
            return None
        # The last `,"<first left-out field>":` is that field's key: keys nested in earlier fields
        # (e.g. in properties) come before it, and no string value holds an unescaped quote.
        cut = body.rfind(f',"{tail[0]}":')
        return body[:cut] + "}" if cut > 0 else None


@functools.cache
def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """A model's field names in declaration order (the order its JSON has them)."""
    return tuple(model.model_fields)


def fingerprint_of(payload: str) -> str:
    """Hash a canonical JSON payload."""
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


class Column(_Entity):
    """A column; ``children`` holds nested fields (STRUCT/RECORD/OBJECT)."""

    name: str
    data_type: str = Field(description="Normalised type, one of OpenMetadata's dataType values.")
    data_type_display: str = Field(description="The type as the source spells it, e.g. 'varchar(20)'.")
    array_data_type: str | None = None
    data_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    default: str | None = None
    description: str | None = None
    ordinal_position: int | None = None
    tags: tuple[str, ...] = ()
    children: tuple[Column, ...] = ()


class TableConstraint(_Entity):
    """A primary key, unique, foreign key (or sort/dist/cluster key) over columns."""

    constraint_type: ConstraintType
    columns: tuple[str, ...]
    name: str | None = None
    referred_table: str | None = Field(
        default=None, description="Fully qualified name of the referred table (foreign keys)."
    )
    referred_columns: tuple[str, ...] = ()


class ColumnUpstream(_Entity):
    """The columns of an upstream table that feed one column of a view (names)."""

    downstream_column: str
    upstream_columns: tuple[str, ...]


class TableUpstream(_Entity):
    """A table (or view) that a view reads, and its column-level lineage where the source gives it."""

    table: str = Field(description="Fully qualified name of the upstream table without the service: database.schema.table.")
    columns: tuple[ColumnUpstream, ...] = ()


class Table(_Entity):
    """A table, view or other relation, with its columns and constraints."""

    volatile_fields: ClassVar[frozenset[str]] = frozenset(
        {"row_count", "last_altered", "source_digest", "object_id"}
    )

    name: str
    table_type: TableType = TableType.REGULAR
    description: str | None = None
    columns: tuple[Column, ...] = ()
    constraints: tuple[TableConstraint, ...] = ()
    view_definition: str | None = None
    partition_columns: tuple[str, ...] = ()
    cluster_columns: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    properties: dict[str, str] = Field(
        default_factory=dict, description="Source-specific structural settings (e.g. dist style)."
    )
    upstreams: tuple[TableUpstream, ...] = Field(
        default=(), description="Views: the tables the view reads (lineage), versioned with the view."
    )
    lineage_unparsed: str | None = Field(
        default=None, description="Views: why the upstreams could not be found (the definition did not parse)."
    )
    row_count: int | None = Field(default=None, description="Volatile: not part of the fingerprint.")
    last_altered: str | None = Field(default=None, description="Volatile: ISO time of the last change.")
    source_digest: str | None = Field(
        default=None, description="Digest of the structure computed by the source (incremental compare)."
    )
    object_id: str | None = Field(
        default=None,
        description=(
            "The source's identity of the object (Snowflake TABLE_ID, PostgreSQL/Redshift OID), kept across "
            "renames and moves; a re-created table gets a new one. Volatile: the same structure under a new id "
            "is the same table to the catalog."
        ),
    )

    #: Fields added after catalogs were filled: left out of the fingerprint while empty, so that
    #: tables without them keep the fingerprint (and version) they had.
    late_fields: ClassVar[tuple[tuple[str, object], ...]] = (("upstreams", ()), ("lineage_unparsed", None))

    def _volatile_exclude(self) -> set[str] | None:
        exclude = set(self.volatile_fields)
        exclude.update(name for name, empty in self.late_fields if getattr(self, name) == empty)
        return exclude

    def canonical(self) -> Table:
        """Return the table with its constraints, tags and upstreams sorted: their order is not structure."""
        constraints = tuple(sorted(self.constraints, key=_constraint_key))
        tags = tuple(sorted(self.tags))
        upstreams = tuple(sorted(self.upstreams, key=lambda u: u.table))
        if constraints == self.constraints and tags == self.tags and upstreams == self.upstreams:
            return self
        return self.model_copy(update={"constraints": constraints, "tags": tags, "upstreams": upstreams})


def _constraint_key(c: TableConstraint) -> tuple[str, str, tuple[str, ...], str, tuple[str, ...]]:
    return c.constraint_type.value, c.name or "", c.columns, c.referred_table or "", c.referred_columns


class DatabaseSchema(_Entity):
    """A schema (BigQuery dataset) inside a database."""

    name: str
    description: str | None = None
    tags: tuple[str, ...] = ()


class Database(_Entity):
    """A database (BigQuery project, Snowflake database)."""

    name: str
    description: str | None = None


def table_fqn(service: str, database: str, schema: str, table: str) -> str:
    """Return the fully qualified name of a table."""
    return build_fqn(service, database, schema, table)
