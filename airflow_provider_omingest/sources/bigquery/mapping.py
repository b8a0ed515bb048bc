"""Turn BigQuery ``INFORMATION_SCHEMA`` rows into entities: pure functions, no client needed.

BigQuery spells column types in GoogleSQL (``INT64``, ``STRING(10)``, ``NUMERIC(10, 2)``,
``ARRAY<STRUCT<a INT64 NOT NULL, b STRING>>``), keeps nested fields inside the type and their
descriptions in ``COLUMN_FIELD_PATHS``, table options as GoogleSQL literals in
``TABLE_OPTIONS`` and partitioning only in the ``ddl`` of ``TABLES``. This module parses each
of them; :mod:`~airflow_provider_omingest.sources.bigquery.source` runs the queries.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_omingest.models.entities import Column, Table, TableType
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.sources.view_lineage import with_parsed_lineage

__all__ = [
    "BqType",
    "ColumnRow",
    "TableRow",
    "build_columns",
    "build_table",
    "digest_of",
    "map_bigquery_type",
    "materialized_view_query",
    "option_literals",
    "parse_partitioning",
    "parse_type",
    "view_lineage",
]

log = logging.getLogger(__name__)

#: GoogleSQL type name (and legacy SQL aliases) -> OpenMetadata dataType.
BIGQUERY_TYPE_NAMES: dict[str, str] = {
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "INT": "BIGINT",
    "SMALLINT": "BIGINT",
    "BIGINT": "BIGINT",
    "TINYINT": "BIGINT",
    "BYTEINT": "BIGINT",
    "FLOAT64": "DOUBLE",
    "FLOAT": "DOUBLE",
    "NUMERIC": "NUMERIC",
    "DECIMAL": "NUMERIC",
    "BIGNUMERIC": "NUMERIC",
    "BIGDECIMAL": "NUMERIC",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "STRING": "STRING",
    "BYTES": "BYTES",
    "DATE": "DATE",
    "DATETIME": "DATETIME",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
    "INTERVAL": "INTERVAL",
    "GEOGRAPHY": "GEOGRAPHY",
    "JSON": "JSON",
    "RANGE": "DATETIMERANGE",
    "STRUCT": "STRUCT",
    "RECORD": "STRUCT",
    "ARRAY": "ARRAY",
}

#: ``INFORMATION_SCHEMA.TABLES.table_type`` -> table type. Snapshots and clones are tables.
TABLE_TYPES: dict[str, TableType] = {
    "BASE TABLE": TableType.REGULAR,
    "CLONE": TableType.REGULAR,
    "SNAPSHOT": TableType.REGULAR,
    "VIEW": TableType.VIEW,
    "MATERIALIZED VIEW": TableType.MATERIALIZED_VIEW,
    "EXTERNAL": TableType.EXTERNAL,
}

#: Table options read from ``TABLE_OPTIONS`` (one column each in the tables query).
TABLE_OPTION_NAMES: tuple[str, ...] = (
    "description",
    "labels",
    "friendly_name",
    "expiration_timestamp",
    "partition_expiration_days",
    "require_partition_filter",
    "format",
    "uris",
    "enable_refresh",
    "refresh_interval_minutes",
)

_MODIFIER = re.compile(r"(?:NOT\s+NULL|OPTIONS|DEFAULT|COLLATE)\b", re.IGNORECASE)


# --------------------------------------------------------------------------- rows


@dataclass
class TableRow:
    """One row of the tables query (``TABLES`` joined with ``VIEWS``, options and ``__TABLES__``)."""

    table_name: str
    table_type: str
    ddl: str | None = None
    view_definition: str | None = None
    base_table_catalog: str | None = None
    base_table_schema: str | None = None
    base_table_name: str | None = None
    snapshot_time: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    creation_time_ms: int | None = None
    last_modified_time_ms: int | None = None
    row_count: int | None = None
    #: ``INFORMATION_SCHEMA.VIEWS.use_standard_sql``: ``NO`` for a legacy SQL view.
    use_standard_sql: str | None = None


@dataclass
class ColumnRow:
    """One row of the columns query (``COLUMNS`` left-joined with ``COLUMN_FIELD_PATHS``)."""

    table_name: str
    column_name: str
    ordinal_position: int | None
    is_nullable: str | None
    data_type: str
    is_hidden: str | None = "NO"
    is_partitioning_column: str | None = "NO"
    clustering_ordinal_position: int | None = None
    column_default: str | None = None
    field_path: str | None = None
    description: str | None = None
    policy_tags: tuple[str, ...] = ()


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class BqField:
    """A field of a ``STRUCT`` type."""

    name: str
    type: BqType
    not_null: bool = False


@dataclass(frozen=True)
class BqType:
    """A parsed GoogleSQL type: base name, parameters, element (ARRAY) or fields (STRUCT)."""

    spelled: str
    base: str
    params: tuple[str, ...] = ()
    element: BqType | None = None
    fields: tuple[BqField, ...] = ()

    @property
    def struct(self) -> BqType | None:
        """Return the struct whose fields are this type's children (itself or its element)."""
        if self.base == "STRUCT":
            return self
        if self.element is not None and self.element.base == "STRUCT":
            return self.element
        return None


def parse_type(spelled: str) -> BqType:
    """Parse a GoogleSQL type such as ``ARRAY<STRUCT<a INT64 NOT NULL, b STRING(10)>>``.

    :param spelled: the ``data_type`` of ``INFORMATION_SCHEMA.COLUMNS`` (or a nested part).
    """
    text = spelled.strip()
    upper = text.upper()
    for base in ("ARRAY", "STRUCT", "RECORD", "RANGE"):
        if upper.startswith(base) and text[len(base):].lstrip().startswith("<") and text.endswith(">"):
            inner = text[text.index("<", len(base)) + 1 : -1]
            if base == "ARRAY":
                return BqType(text, "ARRAY", element=parse_type(inner))
            if base == "RANGE":
                return BqType(text, "RANGE", element=parse_type(inner))
            return BqType(text, "STRUCT", fields=tuple(_parse_field(p) for p in _split_top_level(inner)))
    match = re.match(r"^([A-Za-z0-9_]+)\s*(?:\((.*)\))?$", text, re.DOTALL)
    if match is None:
        return BqType(text, upper)
    params = tuple(p.strip() for p in match.group(2).split(",")) if match.group(2) else ()
    return BqType(text, match.group(1).upper(), params=params)


def _parse_field(part: str) -> BqField:
    part = part.strip()
    if part.startswith("`"):
        end = part.index("`", 1)
        name, rest = part[1:end], part[end + 1 :]
    else:
        name, _, rest = part.partition(" ")
    type_text, modifiers = _split_modifiers(rest.strip())
    not_null = bool(re.match(r"NOT\s+NULL\b", modifiers, re.IGNORECASE))
    return BqField(name=name, type=parse_type(type_text), not_null=not_null)


def _split_modifiers(text: str) -> tuple[str, str]:
    """Split ``STRUCT<a INT64 NOT NULL> NOT NULL OPTIONS(...)`` into the type and its top-level modifiers."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "`\"'":
            quote = ch
        elif ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif depth == 0 and ch.isspace() and _MODIFIER.match(text, i + 1):
            return text[:i].strip(), text[i + 1 :].strip()
    return text, ""


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside ``<>``, ``()``, quotes and backticks."""
    parts: list[str] = []
    depth, start, quote = 0, 0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "`\"'":
            quote = ch
        elif ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    tail = text[start:]
    if tail.strip():
        parts.append(tail)
    return parts


def map_bigquery_type(type_: BqType) -> tuple[str, str | None]:
    """Return OpenMetadata's ``(dataType, arrayDataType)`` for a parsed type."""
    if type_.base == "ARRAY":
        assert type_.element is not None
        return "ARRAY", map_bigquery_type(type_.element)[0]
    data_type = BIGQUERY_TYPE_NAMES.get(type_.base)
    if data_type is None:
        log.warning("Unknown BigQuery type %r: mapped to UNKNOWN.", type_.spelled)
        return "UNKNOWN", None
    return data_type, None


def _type_facts(type_: BqType) -> dict[str, Any]:
    data_type, array_data_type = map_bigquery_type(type_)
    facts: dict[str, Any] = {"data_type": data_type, "array_data_type": array_data_type}
    digits = [int(p) for p in type_.params if p.isdigit()]
    if type_.base in ("STRING", "BYTES") and digits:
        facts["data_length"] = digits[0]
    elif type_.base in ("NUMERIC", "DECIMAL", "BIGNUMERIC", "BIGDECIMAL") and digits:
        facts["precision"] = digits[0]
        facts["scale"] = digits[1] if len(digits) > 1 else 0
    return facts


# --------------------------------------------------------------------------- columns


def build_columns(rows: Iterable[ColumnRow], policy_tag_prefix: str = "") -> tuple[tuple[Column, ...], dict[str, Any]]:
    """Build a table's columns from its rows of the columns query.

    Nested fields come from the parsed type (which keeps their order and ``NOT NULL``);
    descriptions and policy tags of every level from ``COLUMN_FIELD_PATHS``. Hidden pseudo
    columns (``_PARTITIONTIME``) are left out of the columns but reported in the facts.

    :param rows: the table's rows, any order.
    :param policy_tag_prefix: prefix of the tag names given to policy tags.
    :return: the columns in ordinal order, and facts: ``partition_columns``,
        ``cluster_columns`` (in clustering order) and ``hidden`` (pseudo column names).
    """
    top: dict[str, ColumnRow] = {}
    paths: dict[str, ColumnRow] = {}
    for row in rows:
        top.setdefault(row.column_name, row)
        if row.field_path:
            paths[row.field_path] = row
    visible = [r for r in top.values() if (r.is_hidden or "NO").upper() != "YES"]
    visible.sort(key=lambda r: (r.ordinal_position is None, r.ordinal_position or 0, r.column_name))
    columns = tuple(_column(r, paths, policy_tag_prefix) for r in visible)
    clustered = sorted(
        (r for r in top.values() if r.clustering_ordinal_position is not None),
        key=lambda r: r.clustering_ordinal_position or 0,
    )
    facts = {
        "partition_columns": tuple(
            r.column_name for r in top.values() if (r.is_partitioning_column or "NO").upper() == "YES"
        ),
        "cluster_columns": tuple(r.column_name for r in clustered),
        "hidden": tuple(r.column_name for r in top.values() if (r.is_hidden or "NO").upper() == "YES"),
    }
    return columns, facts


def _column(row: ColumnRow, paths: Mapping[str, ColumnRow], tag_prefix: str) -> Column:
    type_ = parse_type(row.data_type)
    path_row = paths.get(row.column_name)
    default = row.column_default
    return Column(
        name=row.column_name,
        data_type_display=row.data_type,
        nullable=(row.is_nullable or "YES").upper() != "NO",
        default=None if default is None or default.upper() == "NULL" else default,
        description=(path_row.description if path_row else None) or None,
        ordinal_position=row.ordinal_position,
        tags=_policy_tags(path_row, tag_prefix),
        children=_children(type_, row.column_name, paths, tag_prefix),
        **_type_facts(type_),
    )


def _children(type_: BqType, prefix: str, paths: Mapping[str, ColumnRow], tag_prefix: str) -> tuple[Column, ...]:
    struct = type_.struct
    if struct is None:
        return ()
    children = []
    for position, fld in enumerate(struct.fields, start=1):
        path = f"{prefix}.{fld.name}"
        path_row = paths.get(path)
        children.append(
            Column(
                name=fld.name,
                data_type_display=fld.type.spelled,
                nullable=not fld.not_null,
                description=(path_row.description if path_row else None) or None,
                ordinal_position=position,
                tags=_policy_tags(path_row, tag_prefix),
                children=_children(fld.type, path, paths, tag_prefix),
                **_type_facts(fld.type),
            )
        )
    return tuple(children)


def _policy_tags(row: ColumnRow | None, prefix: str) -> tuple[str, ...]:
    if row is None:
        return ()
    return tuple(sorted(f"{prefix}{tag}" for tag in row.policy_tags if tag))


# --------------------------------------------------------------------------- options and DDL


def option_literals(value: str | None) -> list[str]:
    """Return the string literals of a GoogleSQL option value, in order, unescaped.

    ``"text"`` gives ``["text"]``; ``[STRUCT("env", "prod")]`` gives ``["env", "prod"]``;
    a bare literal such as ``7.0`` or ``true`` gives ``["7.0"]``.

    :param value: ``TABLE_OPTIONS.option_value``.
    """
    if value is None:
        return []
    found = [_unescape(m.group(2)) for m in _STRING_LITERAL.finditer(value)]
    if found or value.strip().startswith(("[", "STRUCT")):
        return found
    return [value.strip()]


_STRING_LITERAL = re.compile(r"""(?:[rR]?)(["'])((?:\\.|(?!\1).)*)\1""", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "`": "`", "0": "\0"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text, flags=re.DOTALL)


_PARTITION_BY = re.compile(
    r"\bPARTITION\s+BY\s+(.*?)(?:\s+CLUSTER\s+BY\b|\s+OPTIONS\s*\(|\s+AS\s|;|\s*$)", re.IGNORECASE | re.DOTALL
)
_TRUNC = re.compile(
    r"^(?:TIMESTAMP|DATETIME|DATE)_TRUNC\s*\(\s*`?(\w+)`?\s*,\s*(\w+)\s*\)$", re.IGNORECASE
)
_DATE_OF = re.compile(r"^DATE\s*\(\s*`?(\w+)`?\s*\)$", re.IGNORECASE)
_RANGE_BUCKET = re.compile(
    r"^RANGE_BUCKET\s*\(\s*`?(\w+)`?\s*,\s*GENERATE_ARRAY\s*\(([^)]*)\)\s*\)$", re.IGNORECASE
)


def parse_partitioning(ddl: str | None) -> dict[str, str]:
    """Return the partitioning in a table's DDL as properties (empty when not partitioned).

    Keys: ``partition_interval_type`` (OpenMetadata's ``TIME-UNIT``, ``INGESTION-TIME``,
    ``INTEGER-RANGE``), ``partition_interval`` (``HOUR``/``DAY``/``MONTH``/``YEAR``),
    ``partition_field`` and ``partition_range`` (``start,end,interval``).

    :param ddl: ``INFORMATION_SCHEMA.TABLES.ddl``.
    """
    if not ddl:
        return {}
    match = _PARTITION_BY.search(_strip_strings(ddl))
    if match is None:
        return {}
    expr = match.group(1).strip()
    if expr.upper().startswith("_PARTITIONDATE"):
        return {"partition_interval_type": "INGESTION-TIME", "partition_interval": "DAY",
                "partition_field": "_PARTITIONTIME"}
    if (m := _RANGE_BUCKET.match(expr)) is not None:
        bounds = ",".join(p.strip() for p in m.group(2).split(","))
        return {"partition_interval_type": "INTEGER-RANGE", "partition_field": m.group(1), "partition_range": bounds}
    if (m := _TRUNC.match(expr)) is not None:
        column, unit = m.group(1), m.group(2).upper()
        kind = "INGESTION-TIME" if column.upper() == "_PARTITIONTIME" else "TIME-UNIT"
        return {"partition_interval_type": kind, "partition_interval": unit, "partition_field": column}
    if (m := _DATE_OF.match(expr)) is not None:
        kind = "INGESTION-TIME" if m.group(1).upper() == "_PARTITIONTIME" else "TIME-UNIT"
        return {"partition_interval_type": kind, "partition_interval": "DAY", "partition_field": m.group(1)}
    if re.fullmatch(r"`?\w+`?", expr):
        name = expr.strip("`")
        kind = "INGESTION-TIME" if name.upper() == "_PARTITIONTIME" else "TIME-UNIT"
        return {"partition_interval_type": kind, "partition_interval": "DAY", "partition_field": name}
    log.debug("Unrecognised PARTITION BY expression %r.", expr)
    return {"partition_interval_type": "UNKNOWN", "partition_expression": expr}


def _strip_strings(ddl: str) -> str:
    """Blank out string literals so that keywords inside descriptions are not matched."""
    return _STRING_LITERAL.sub(lambda m: '""', ddl)


def materialized_view_query(ddl: str | None) -> str | None:
    """Return the query of a ``CREATE MATERIALIZED VIEW ... AS <query>`` statement.

    :param ddl: ``INFORMATION_SCHEMA.TABLES.ddl`` of a materialized view.
    """
    if not ddl:
        return None
    depth, quote, i = 0, "", 0
    while i < len(ddl):
        ch = ddl[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "`\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ddl[i : i + 2].upper() == "AS" and _word_boundary(ddl, i, 2):
            return ddl[i + 2 :].strip().rstrip(";").strip() or None
        i += 1
    return None


def _word_boundary(text: str, start: int, length: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[start + length] if start + length < len(text) else " "
    return before.isspace() and after.isspace()


# --------------------------------------------------------------------------- tables


def digest_of(creation_time_ms: int | None, last_modified_time_ms: int | None) -> str | None:
    """Return the listing digest of a table: its creation and last modification times.

    A re-created table has a new creation time; any change of structure (or data) moves the
    last modification time.

    :return: ``None`` when the times are unknown (the table is then always fetched).
    """
    if creation_time_ms is None and last_modified_time_ms is None:
        return None
    payload = f"{creation_time_ms}|{last_modified_time_ms}"
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def build_table(row: TableRow, column_rows: Iterable[ColumnRow], *, label_prefix: str = "",
                policy_tag_prefix: str = "") -> Table:
    """Build a table from its row of the tables query and its rows of the columns query.

    :param row: the table's row.
    :param column_rows: the table's column rows.
    :param label_prefix: prefix of the tag names given to labels (``label:`` gives ``label:env=prod``).
    :param policy_tag_prefix: prefix of the tag names given to column policy tags.
    """
    columns, facts = build_columns(column_rows, policy_tag_prefix)
    options = row.options
    properties = _table_properties(row, options)
    partition_columns = facts["partition_columns"]
    if not partition_columns and properties.get("partition_field"):
        partition_columns = (properties["partition_field"],)
    table_type = TABLE_TYPES.get((row.table_type or "").upper())
    if table_type is None:
        log.warning("Unknown BigQuery table type %r of %s: read as a table.", row.table_type, row.table_name)
        table_type = TableType.REGULAR
    view_definition = row.view_definition
    if table_type is TableType.MATERIALIZED_VIEW and not view_definition:
        view_definition = materialized_view_query(row.ddl)
    labels = _labels(options.get("labels"))
    return Table(
        name=row.table_name,
        table_type=table_type,
        description=_first_literal(options.get("description")),
        columns=columns,
        view_definition=view_definition.strip() if view_definition else None,
        partition_columns=tuple(partition_columns),
        cluster_columns=facts["cluster_columns"],
        tags=tuple(sorted(f"{label_prefix}{k}={v}" for k, v in labels)),
        properties=properties,
        row_count=row.row_count if table_type not in (TableType.VIEW, TableType.MATERIALIZED_VIEW) else None,
        last_altered=_iso_from_ms(row.last_modified_time_ms),
        source_digest=digest_of(row.creation_time_ms, row.last_modified_time_ms),
    )


def view_lineage(table: Table, row: TableRow, project: str, dataset: str) -> Table:
    """Return the view (or materialized view) ``table`` with the upstreams its query names.

    BigQuery keeps no dependency catalog: the query (``INFORMATION_SCHEMA.VIEWS.view_definition``,
    or for a materialized view the ``AS`` query of ``INFORMATION_SCHEMA.TABLES.ddl``) is parsed
    with sqlglot, dialect ``bigquery``; a name without project is in the view's project. Names are
    kept as written: dataset and table names are case-sensitive. A legacy SQL view
    (``use_standard_sql = 'NO'``, https://cloud.google.com/bigquery/docs/information-schema-views)
    is not GoogleSQL: it is not parsed, and says so.

    :param table: the view as :func:`build_table` made it.
    :param row: its tables-query row.
    :param project: the view's project.
    :param dataset: the view's dataset.
    """
    if table.table_type not in (TableType.VIEW, TableType.MATERIALIZED_VIEW):
        return table
    if (row.use_standard_sql or "").upper() == "NO":
        return table.model_copy(update={"upstreams": (), "lineage_unparsed": "a legacy SQL view: not parsed"})
    return with_parsed_lineage(table, "bigquery", project, dataset)


def _table_properties(row: TableRow, options: Mapping[str, str]) -> dict[str, str]:
    props = {"bigquery_table_type": row.table_type}
    props.update(parse_partitioning(row.ddl))
    if (days := _first_literal(options.get("partition_expiration_days"))) is not None:
        props["partition_expiration_days"] = days
    if (flag := _first_literal(options.get("require_partition_filter"))) is not None:
        props["require_partition_filter"] = flag.lower()
    if (fmt := _first_literal(options.get("format"))) is not None:
        props["external_format"] = fmt
    if options.get("uris"):
        props["external_uris"] = ",".join(option_literals(options["uris"]))
    for name in ("enable_refresh", "refresh_interval_minutes", "friendly_name", "expiration_timestamp"):
        if (value := _first_literal(options.get(name))) is not None:
            props[name] = value
    if row.base_table_catalog and row.base_table_schema and row.base_table_name:
        props["base_table"] = build_fqn(row.base_table_catalog, row.base_table_schema, row.base_table_name)
    if row.snapshot_time:
        props["snapshot_time"] = row.snapshot_time
    return props


def _first_literal(value: str | None) -> str | None:
    literals = option_literals(value)
    return literals[0] if literals else None


def _labels(value: str | None) -> list[tuple[str, str]]:
    literals = option_literals(value)
    return list(zip(literals[0::2], literals[1::2]))


def _iso_from_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()
