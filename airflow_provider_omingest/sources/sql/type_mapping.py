"""Normalise column types to OpenMetadata's ``dataType`` enum.

Two entry points: :func:`map_sqlalchemy_type` for type objects reflected by a SQLAlchemy
dialect, and :func:`map_duckdb_type` for the type strings DuckDB's catalog functions return.
Both return a :class:`TypeInfo` whose ``data_type`` (and ``array_data_type``) is always one of
OpenMetadata's values; a type that is not known maps to ``UNKNOWN`` with one warning per name.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.types import UserDefinedType

from airflow_provider_omingest.sources.column_types import TypeInfo, split_top_level

__all__ = [
    "DUCKDB_TYPE_NAMES",
    "POSTGRES_EXTRA_TYPE_NAMES",
    "SQLALCHEMY_TYPE_NAMES",
    "SourceType",
    "TypeInfo",
    "extend_postgres_type_names",
    "map_duckdb_type",
    "map_postgres_type",
    "map_sqlalchemy_type",
    "split_duckdb_struct_fields",
    "split_top_level",
]

log = logging.getLogger(__name__)

UNKNOWN = "UNKNOWN"

#: SQLAlchemy type class name -> OpenMetadata dataType. Looked up along the type's MRO, so the
#: most specific class wins (``DOUBLE_PRECISION`` before ``Float``, ``Enum`` before ``String``).
SQLALCHEMY_TYPE_NAMES: dict[str, str] = {
    "NullType": UNKNOWN,
    # integers
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "SmallInteger": "SMALLINT",
    "MEDIUMINT": "INT",
    "INTEGER": "INT",
    "Integer": "INT",
    "BIGINT": "BIGINT",
    "BigInteger": "BIGINT",
    "OID": "INT",
    "YEAR": "YEAR",
    # exact and approximate numerics
    "DECIMAL": "DECIMAL",
    "NUMERIC": "NUMERIC",
    "Numeric": "NUMERIC",
    "MONEY": "MONEY",
    "DOUBLE_PRECISION": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "Double": "DOUBLE",
    "REAL": "FLOAT",
    "FLOAT": "FLOAT",
    "Float": "FLOAT",
    # character
    "CHAR": "CHAR",
    "NCHAR": "CHAR",
    "VARCHAR": "VARCHAR",
    "NVARCHAR": "VARCHAR",
    "TINYTEXT": "TEXT",
    "MEDIUMTEXT": "MEDIUMTEXT",
    "LONGTEXT": "TEXT",
    "NTEXT": "NTEXT",
    "CITEXT": "TEXT",
    "TEXT": "TEXT",
    "UnicodeText": "TEXT",
    "Text": "TEXT",
    "CLOB": "CLOB",
    "String": "VARCHAR",
    "REGCLASS": "STRING",
    "REGCONFIG": "STRING",
    # other scalars
    "Boolean": "BOOLEAN",
    "BIT": "BIT",
    "Date": "DATE",
    "Time": "TIME",
    "Interval": "INTERVAL",
    "INTERVAL": "INTERVAL",
    "Uuid": "UUID",
    "UUID": "UUID",
    # binary
    "BYTEA": "BYTEA",
    "TINYBLOB": "BLOB",
    "MEDIUMBLOB": "MEDIUMBLOB",
    "LONGBLOB": "LONGBLOB",
    "BLOB": "BLOB",
    "BINARY": "BINARY",
    "VARBINARY": "VARBINARY",
    "IMAGE": "IMAGE",
    # semi-structured and special
    "JSONB": "JSON",
    "JSON": "JSON",
    "HSTORE": "MAP",
    "Enum": "ENUM",
    "SET": "SET",
    "INET": "INET",
    "CIDR": "CIDR",
    "MACADDR": "MACADDR",
    "MACADDR8": "MACADDR",
    "TSVECTOR": "TSVECTOR",
    "TSQUERY": "TSQUERY",
    "AbstractRange": "STRING",
    "AbstractMultiRange": "STRING",
}

#: PostgreSQL type names SQLAlchemy does not know, registered with :func:`extend_postgres_type_names`
#: so that they reflect as :class:`SourceType` (keeping their name) instead of ``NullType``.
POSTGRES_EXTRA_TYPE_NAMES: dict[str, str] = {
    "xml": "XML",
    "pg_lsn": "PG_LSN",
    "pg_snapshot": "PG_SNAPSHOT",
    "txid_snapshot": "TXID_SNAPSHOT",
    "point": "POINT",
    "polygon": "POLYGON",
    "line": "GEOMETRY",
    "lseg": "GEOMETRY",
    "box": "GEOMETRY",
    "path": "GEOMETRY",
    "circle": "GEOMETRY",
    "geometry": "GEOMETRY",
    "geography": "GEOGRAPHY",
    "jsonpath": "STRING",
    "name": "VARCHAR",
    "xid": "INT",
    "cid": "INT",
    "tid": "STRING",
    "regproc": "STRING",
    "regtype": "STRING",
}

#: DuckDB base type name (arguments and array suffixes removed) -> OpenMetadata dataType.
DUCKDB_TYPE_NAMES: dict[str, str] = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "HUGEINT": "LARGEINT",
    "UTINYINT": "UINT",
    "USMALLINT": "UINT",
    "UINTEGER": "UINT",
    "UBIGINT": "UINT",
    "UHUGEINT": "UINT",
    "VARINT": "NUMERIC",
    "BIGNUM": "NUMERIC",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "NUMERIC",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DOUBLE": "DOUBLE",
    "VARCHAR": "VARCHAR",
    "CHAR": "CHAR",
    "TEXT": "TEXT",
    "STRING": "STRING",
    "BLOB": "BLOB",
    "BIT": "BIT",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIME WITH TIME ZONE": "TIME",
    "TIME_NS": "TIME",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_NS": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPZ",
    "INTERVAL": "INTERVAL",
    "UUID": "UUID",
    "JSON": "JSON",
    "ENUM": "ENUM",
    "STRUCT": "STRUCT",
    "MAP": "MAP",
    "UNION": "UNION",
    "LIST": "ARRAY",
    "VARIANT": "VARIANT",
    "GEOMETRY": "GEOMETRY",
    "NULL": "NULL",
    '"NULL"': "NULL",
}

#: PostgreSQL type names as ``format_type()`` spells them (arguments removed) -> OpenMetadata
#: dataType; :data:`POSTGRES_EXTRA_TYPE_NAMES` adds the rarer ones.
POSTGRES_TYPE_NAMES: dict[str, str] = {
    "smallint": "SMALLINT",
    "integer": "INT",
    "bigint": "BIGINT",
    "oid": "INT",
    "numeric": "NUMERIC",
    "real": "FLOAT",
    "double precision": "DOUBLE",
    "money": "MONEY",
    "character varying": "VARCHAR",
    "character": "CHAR",
    "bpchar": "CHAR",
    '"char"': "CHAR",
    "text": "TEXT",
    "citext": "TEXT",
    "bytea": "BYTEA",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "time without time zone": "TIME",
    "time with time zone": "TIME",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPZ",
    "interval": "INTERVAL",
    "uuid": "UUID",
    "json": "JSON",
    "jsonb": "JSON",
    "hstore": "MAP",
    "inet": "INET",
    "cidr": "CIDR",
    "macaddr": "MACADDR",
    "macaddr8": "MACADDR",
    "tsvector": "TSVECTOR",
    "tsquery": "TSQUERY",
    "bit": "BIT",
    "bit varying": "BIT",
    "regclass": "STRING",
    "regconfig": "STRING",
    **{f"{r}range": "STRING" for r in ("int4", "int8", "num", "ts", "tstz", "date")},
    **{f"{r}multirange": "STRING" for r in ("int4", "int8", "num", "ts", "tstz", "date")},
    **POSTGRES_EXTRA_TYPE_NAMES,
}

_warned: set[str] = set()


class SourceType(UserDefinedType):
    """A source type SQLAlchemy has no class for; subclasses carry ``source_name``."""

    cache_ok = True
    source_name: str = "unknown"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def get_col_spec(self, **kw: Any) -> str:
        """Return the type as the source spells it."""
        return self.source_name


def extend_postgres_type_names(dialect: Any) -> None:
    """Teach a PostgreSQL dialect instance the type names in :data:`POSTGRES_EXTRA_TYPE_NAMES`.

    Only this dialect instance (so only this engine) is changed.

    :param dialect: a SQLAlchemy PostgreSQL dialect instance.
    """
    names = dict(dialect.ischema_names)
    for name in POSTGRES_EXTRA_TYPE_NAMES:
        names.setdefault(name, type(f"PG_{name}", (SourceType,), {"source_name": name}))
    dialect.ischema_names = names


def _warn_unknown(type_name: str, where: str) -> None:
    if type_name not in _warned:
        _warned.add(type_name)
        log.warning("Unknown %s type %r: mapped to %s.", where, type_name, UNKNOWN)


# --------------------------------------------------------------------------- SQLAlchemy types


def map_sqlalchemy_type(type_: sqltypes.TypeEngine[Any], dialect: Any = None) -> TypeInfo:
    """Normalise a reflected SQLAlchemy type.

    :param type_: the type object from the Inspector.
    :param dialect: the dialect that reflected it (used for the display string and for
        dialect-specific choices such as ``BYTEA`` on PostgreSQL).
    """
    dialect_name = getattr(dialect, "name", "")
    data_type, array_data_type = _sqlalchemy_data_type(type_, dialect_name)
    return TypeInfo(
        data_type=data_type,
        data_type_display=sqlalchemy_type_display(type_, dialect),
        array_data_type=array_data_type,
        data_length=_char_length(type_) if data_type in ("CHAR", "VARCHAR") else None,
        precision=_numeric_attr(type_, "precision"),
        scale=_numeric_attr(type_, "scale"),
    )


def _sqlalchemy_data_type(type_: sqltypes.TypeEngine[Any], dialect_name: str) -> tuple[str, str | None]:
    inner = getattr(type_, "data_type", None)
    if type(type_).__name__ == "DOMAIN" and inner is not None:
        return _sqlalchemy_data_type(inner, dialect_name)
    if isinstance(type_, SourceType):
        return POSTGRES_EXTRA_TYPE_NAMES.get(type_.source_name, UNKNOWN), None
    if isinstance(type_, sqltypes.ARRAY):
        item, _ = _sqlalchemy_data_type(type_.item_type, dialect_name)
        return "ARRAY", item
    if isinstance(type_, sqltypes.DateTime):
        if getattr(type_, "timezone", False):
            return "TIMESTAMPZ", None
        return ("DATETIME" if type(type_).__name__ == "DATETIME" else "TIMESTAMP"), None
    if isinstance(type_, sqltypes.LargeBinary) and _mro_lookup(type_) is None:
        return ("BYTEA" if dialect_name == "postgresql" else "BLOB"), None
    mapped = _mro_lookup(type_)
    if mapped is None:
        _warn_unknown(type(type_).__name__, "SQLAlchemy")
        return UNKNOWN, None
    return mapped, None


def _mro_lookup(type_: sqltypes.TypeEngine[Any]) -> str | None:
    for cls in type(type_).__mro__:
        mapped = SQLALCHEMY_TYPE_NAMES.get(cls.__name__)
        if mapped is not None:
            return mapped
    return None


def sqlalchemy_type_display(type_: sqltypes.TypeEngine[Any], dialect: Any = None) -> str:
    """Return the type as the source spells it, e.g. ``varchar(20)`` or ``numeric(10,2)``.

    Named types (PostgreSQL enums and domains) keep their exact name; other types are
    lower-cased with the space after commas removed.

    :param type_: the reflected type.
    :param dialect: the dialect used to compile the type.
    """
    if isinstance(type_, sqltypes.NullType):
        return "unknown"
    try:
        spelled = type_.compile(dialect=dialect)
    except Exception:  # noqa: BLE001 - a type that cannot compile still gets a name
        spelled = type(type_).__name__
    if getattr(type_, "name", None) and isinstance(type_, sqltypes.SchemaType):
        return spelled
    return spelled.lower().replace(", ", ",")


def _char_length(type_: sqltypes.TypeEngine[Any]) -> int | None:
    inner = getattr(type_, "data_type", None)
    if type(type_).__name__ == "DOMAIN" and inner is not None:
        return _char_length(inner)
    length = getattr(type_, "length", None)
    return length if isinstance(length, int) else None


def _numeric_attr(type_: sqltypes.TypeEngine[Any], attr: str) -> int | None:
    inner = getattr(type_, "data_type", None)
    if type(type_).__name__ == "DOMAIN" and inner is not None:
        return _numeric_attr(inner, attr)
    if not isinstance(type_, sqltypes.Numeric) or isinstance(type_, sqltypes.Float):
        return None
    value = getattr(type_, attr, None)
    return value if isinstance(value, int) else None


# --------------------------------------------------------------------------- PostgreSQL type strings

_PG_TYPMOD = re.compile(r"\((?P<args>[^)]*)\)")
_PG_SHORT_NAMES = (("character varying", "varchar"), ("character", "char"), ("bpchar", "char"))


def map_postgres_type(
    spelled: str, kind: str = "b", element_kind: str | None = None, domain_base: str | None = None
) -> TypeInfo:
    """Normalise a type as PostgreSQL's ``format_type()`` spells it, e.g. ``character varying(20)[]``.

    The display string is the one :func:`map_sqlalchemy_type` gives for the same type
    (``varchar(20)[]``); enums and domains keep their (possibly schema-qualified) name.

    :param spelled: ``format_type(atttypid, atttypmod)``.
    :param kind: ``pg_type.typtype`` of the type (``e`` enum, ``d`` domain, ``r`` range, ...).
    :param element_kind: ``typtype`` of the element type, for arrays.
    :param domain_base: ``format_type(typbasetype, typtypmod)``, for domains.
    """
    if kind == "d" and domain_base is not None:
        return map_postgres_type(domain_base)._replace(data_type_display=spelled)
    if spelled.endswith("[]"):
        item = map_postgres_type(spelled[:-2], element_kind or "b")
        return TypeInfo("ARRAY", item.data_type_display + "[]", array_data_type=item.data_type)
    if kind == "e":
        return TypeInfo("ENUM", spelled)
    base = " ".join(_PG_TYPMOD.sub("", spelled).split())
    args = [a.strip() for a in (m.group("args") for m in _PG_TYPMOD.finditer(spelled)) for a in a.split(",")]
    display = spelled
    for long, short in _PG_SHORT_NAMES:
        if display == long or display.startswith(long + "("):
            display = short + display[len(long):]
            break
    data_type = POSTGRES_TYPE_NAMES.get(base)
    if data_type is None and base.startswith("interval"):
        data_type = "INTERVAL"  # interval day to second, ...
    if data_type is None:
        if kind == "r" or kind == "m":
            return TypeInfo("STRING", display)
        _warn_unknown(base, "PostgreSQL")
        return TypeInfo(UNKNOWN, display)
    numbers = [int(a) for a in args if a.lstrip("-").isdigit()]
    if data_type in ("CHAR", "VARCHAR"):
        return TypeInfo(data_type, display, data_length=numbers[0] if numbers else None)
    if data_type == "NUMERIC" and numbers:
        return TypeInfo(data_type, display, precision=numbers[0], scale=numbers[1] if len(numbers) > 1 else 0)
    return TypeInfo(data_type, display)


# --------------------------------------------------------------------------- DuckDB types

_ARRAY_SUFFIX = re.compile(r"\[\d*\]$")
_ARGS = re.compile(r"^(?P<base>[^(]*?)\s*\((?P<args>.*)\)$", re.DOTALL)


def map_duckdb_type(type_string: str) -> TypeInfo:
    """Normalise a DuckDB type string such as ``DECIMAL(10,2)``, ``INTEGER[]`` or ``STRUCT(...)``.

    :param type_string: the ``data_type`` column of ``duckdb_columns()``.
    """
    spelled = type_string.strip()
    if _ARRAY_SUFFIX.search(spelled):
        item = _ARRAY_SUFFIX.sub("", spelled)
        return TypeInfo("ARRAY", spelled, array_data_type=map_duckdb_type(item).data_type)
    base, args = _split_args(spelled)
    data_type = DUCKDB_TYPE_NAMES.get(base.upper())
    if data_type is None:
        _warn_unknown(base, "DuckDB")
        return TypeInfo(UNKNOWN, spelled)
    if data_type in ("DECIMAL", "NUMERIC") and args:
        precision, _, scale = args.partition(",")
        return TypeInfo(data_type, spelled, precision=int(precision), scale=int(scale or 0))
    if data_type in ("VARCHAR", "CHAR") and args.isdigit():
        return TypeInfo(data_type, spelled, data_length=int(args))
    return TypeInfo(data_type, spelled)


def _split_args(spelled: str) -> tuple[str, str]:
    match = _ARGS.match(spelled)
    if match is None:
        return spelled, ""
    return match.group("base").strip(), match.group("args").strip()


def split_duckdb_struct_fields(type_string: str) -> list[tuple[str, str]]:
    """Return the ``(name, type)`` fields of a DuckDB ``STRUCT(...)`` type string, else ``[]``.

    :param type_string: e.g. ``STRUCT(x INTEGER, "my field" VARCHAR[])``.
    """
    base, args = _split_args(type_string.strip())
    if base.upper() != "STRUCT" or not args:
        return []
    fields: list[tuple[str, str]] = []
    for part in split_top_level(args):
        name, type_part = _split_field(part.strip())
        fields.append((name, type_part))
    return fields


def _split_field(part: str) -> tuple[str, str]:
    if part.startswith('"'):
        end = 1
        while end < len(part):
            if part[end] == '"' and part[end + 1 : end + 2] == '"':
                end += 2
                continue
            if part[end] == '"':
                break
            end += 1
        return part[1:end].replace('""', '"'), part[end + 1 :].strip()
    name, _, type_part = part.partition(" ")
    return name, type_part.strip()
