"""What two ingestions extracted, side by side: the same tables, views and columns, or the differences.

A relation is keyed by (database, schema, name) and described by its kind (``table`` or
``view``) and its column names in order. :func:`catalog_relations` reads them from an omingest
SQL catalog; :mod:`benchmarks.datahub` reads them from DataHub's file sink.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Relation", "RelationKey", "catalog_relations", "diff_relations"]

RelationKey = tuple[str, str, str]
#: omingest's table types that DataHub's postgres source calls views.
_VIEW_TYPES = {"View", "SecureView", "MaterializedView"}


class Relation(NamedTuple):
    kind: str
    columns: tuple[str, ...]


def catalog_relations(catalog_url: str, service: str) -> dict[RelationKey, Relation]:
    """The live tables and views an omingest SQL catalog holds for ``service``, read in one query."""
    import sqlalchemy as sa

    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

    with SqlCatalog.open_existing(catalog_url) as catalog:
        e = catalog.tables.entity
        query = sa.select(e.c.database, e.c.schema_name, e.c.name, e.c.body).where(
            e.c.service == service, e.c.kind == "table", ~e.c.deleted)
        with catalog.engine.connect() as conn:
            rows = conn.execute(query).all()
    return {(r.database, r.schema_name, r.name): Relation(
        "view" if r.body.get("table_type") in _VIEW_TYPES else "table",
        tuple(c["name"] for c in r.body.get("columns", []))) for r in rows}


def diff_relations(ours: dict[RelationKey, Relation], theirs: dict[RelationKey, Relation], *,
                   our_name: str = "omingest", their_name: str = "datahub", limit: int = 50) -> list[str]:
    """Return one line per difference (at most ``limit``, then a count of the rest); empty when equal."""
    lines: list[str] = []
    for key in sorted(ours.keys() - theirs.keys()):
        lines.append(f"{'.'.join(key)}: only in {our_name} ({ours[key].kind})")
    for key in sorted(theirs.keys() - ours.keys()):
        lines.append(f"{'.'.join(key)}: only in {their_name} ({theirs[key].kind})")
    for key in sorted(ours.keys() & theirs.keys()):
        a, b = ours[key], theirs[key]
        name = ".".join(key)
        if a.kind != b.kind:
            lines.append(f"{name}: a {a.kind} in {our_name}, a {b.kind} in {their_name}")
        if a.columns != b.columns:
            missing, extra = [c for c in a.columns if c not in b.columns], [c for c in b.columns if c not in a.columns]
            detail = []
            if missing:
                detail.append(f"only in {our_name}: {', '.join(missing)}")
            if extra:
                detail.append(f"only in {their_name}: {', '.join(extra)}")
            if not detail:
                detail.append(f"same columns in another order ({our_name}: {', '.join(a.columns)}; "
                              f"{their_name}: {', '.join(b.columns)})")
            lines.append(f"{name}: columns differ, {'; '.join(detail)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more differences"]
    return lines
