"""Find a view's upstream tables (and simple column lineage) by parsing its definition with sqlglot.

For sources without an exact dependency catalog (DuckDB, BigQuery, Redshift late-binding views).
sqlglot is imported on first use (about a second): runs without views never pay for it.

Table names are resolved as the database would for an unqualified name: the view's own database
and schema. Names of common table expressions are not tables. Column lineage is given for the
outermost ``SELECT`` only, for output columns whose every input column names its table (or when
the query reads one table): it is what the definition says exactly, not a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from airflow_provider_omingest.models.entities import ColumnUpstream, Table, TableUpstream
from airflow_provider_omingest.models.fqn import build_fqn

__all__ = ["UNPARSED_LIMIT", "parse_upstreams", "with_parsed_lineage"]

log = logging.getLogger(__name__)

#: Longest reason kept in ``Table.lineage_unparsed``.
UNPARSED_LIMIT = 300


def parse_upstreams(
    sql: str, dialect: str, database: str, schema: str, *, self_name: str | None = None
) -> tuple[tuple[TableUpstream, ...], str | None]:
    """Return the tables a view definition reads, and None; or no tables and why it did not parse.

    :param sql: the definition: a ``SELECT`` or a whole ``CREATE VIEW … AS SELECT``.
    :param dialect: sqlglot's dialect name (``duckdb``, ``bigquery``, ``redshift``, ``postgres``).
    :param database: the view's database (project), for unqualified names.
    :param schema: the view's schema (dataset), for unqualified names.
    :param self_name: the view's own name, left out of its upstreams.
    """
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        return (), _reason(f"{first.get('description') or exc}{where}")
    except sqlglot.errors.SqlglotError as exc:
        return (), _reason(str(exc))
    if len(statements) != 1:
        return (), f"expected one statement, found {len(statements)}"
    query = statements[0]
    if isinstance(query, exp.Create):
        query = query.expression
    if not isinstance(query, exp.Query):
        return (), f"not a query: {type(query).__name__}"
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    tables: dict[str, None] = {}
    for table in query.find_all(exp.Table):
        if not table.name or (not table.db and table.name.lower() in ctes):
            continue
        if isinstance(table.this, exp.Func) or table.find_ancestor(exp.Lateral) is not None and not table.db:
            continue
        fqn = build_fqn(table.catalog or database, table.db or schema, table.name)
        if table.name == self_name and (table.db or schema) == schema and (table.catalog or database) == database:
            continue
        tables.setdefault(fqn)
    columns = _column_lineage(query, database, schema, exp) if tables else {}
    return tuple(
        TableUpstream(table=fqn, columns=tuple(columns.get(fqn, ()))) for fqn in tables
    ), None


def with_parsed_lineage(table: Table, dialect: str, database: str, schema: str) -> Table:
    """Return ``table`` with the upstreams parsed from its view definition (unchanged if it has none)."""
    if not table.view_definition:
        return table
    upstreams, error = parse_upstreams(table.view_definition, dialect, database, schema, self_name=table.name)
    if error is not None:
        log.info("The definition of view %s.%s.%s did not parse (%s): no lineage", database, schema, table.name,
                 error)
        return table.model_copy(update={"upstreams": (), "lineage_unparsed": error})
    return table.model_copy(update={"upstreams": upstreams, "lineage_unparsed": None})


def _reason(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= UNPARSED_LIMIT else text[: UNPARSED_LIMIT - 1] + "…"


def _column_lineage(query: Any, database: str, schema: str, exp: Any) -> dict[str, list[ColumnUpstream]]:
    """Return upstream FQN -> column lineage of the outermost ``SELECT`` (plain selects only)."""
    if not isinstance(query, exp.Select) or query.args.get("with"):
        return {}
    from_ = query.args.get("from_") or query.args.get("from")  # renamed in sqlglot 28
    relations = [from_.this] if from_ is not None else []
    relations += [join.this for join in query.args.get("joins") or ()]
    sources: dict[str, str] = {}
    while relations:
        relation = relations.pop()
        while isinstance(relation, (exp.Subquery, exp.Paren)) and not relation.alias \
                and isinstance(relation.this, (exp.Subquery, exp.Paren, exp.Table)):
            relations += [join.this for join in relation.args.get("joins") or ()]
            relation = relation.this  # FROM ((a JOIN b) JOIN c): DuckDB writes joins so
        if not isinstance(relation, exp.Table) or not relation.name or isinstance(relation.this, exp.Func):
            return {}  # a subquery or a table function: leave column lineage out
        relations += [join.this for join in relation.args.get("joins") or ()]
        fqn = build_fqn(relation.catalog or database, relation.db or schema, relation.name)
        sources[(relation.alias_or_name).lower()] = fqn
    only = next(iter(sources.values())) if len(set(sources.values())) == 1 else None
    out: dict[str, dict[str, list[str]]] = {}
    for projection in query.expressions:
        name = projection.alias_or_name
        if not name or isinstance(projection, exp.Star) or projection.find(exp.Star) is not None:
            continue
        inputs = list(_input_columns(projection, exp))
        feeds: dict[str, list[str]] = {}
        for column in inputs:
            qualifier = column.table.lower() if column.table else None
            fqn = sources.get(qualifier) if qualifier else only
            if fqn is None:
                feeds = {}
                break
            if column.name not in feeds.setdefault(fqn, []):
                feeds[fqn].append(column.name)
        for fqn, names in feeds.items():
            out.setdefault(fqn, {})[name] = names
    return {
        fqn: [ColumnUpstream(downstream_column=col, upstream_columns=tuple(names)) for col, names in cols.items()]
        for fqn, cols in out.items()
    }


def _input_columns(projection: Any, exp: Any) -> Iterable[Any]:
    """Yield the columns a projection reads, outside subqueries."""
    for column in projection.find_all(exp.Column):
        if column.find_ancestor(exp.Subquery, exp.Select) is not projection.find_ancestor(exp.Select):
            continue
        yield column
