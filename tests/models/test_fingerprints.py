"""Fingerprints are stable and sensitive to every structural field, and only those."""

from __future__ import annotations

import pytest

from airflow_provider_omingest.models.entities import (
    Column,
    ColumnUpstream,
    ConstraintType,
    DatabaseSchema,
    Table,
    TableConstraint,
    TableType,
    TableUpstream,
    fingerprint_of,
)

BASE_COLUMN = Column(
    name="id", data_type="INT", data_type_display="integer", nullable=False, ordinal_position=1,
)


def _table(**overrides) -> Table:
    values = dict(
        name="orders",
        table_type=TableType.REGULAR,
        description="Orders",
        columns=(
            BASE_COLUMN,
            Column(name="amount", data_type="DECIMAL", data_type_display="numeric(10,2)",
                   precision=10, scale=2, ordinal_position=2, description="Total"),
        ),
        constraints=(
            TableConstraint(constraint_type=ConstraintType.PRIMARY_KEY, columns=("id",), name="orders_pkey"),
            TableConstraint(constraint_type=ConstraintType.UNIQUE, columns=("amount",), name="u1"),
        ),
    )
    values.update(overrides)
    return Table(**values)


def test_fingerprint_is_stable_across_instances_and_processes():
    # A literal value pins the canonical form: changing the hashing breaks every catalog.
    assert _table().fingerprint() == _table().fingerprint()
    assert len(_table().fingerprint()) == 32
    assert Table(name="t").fingerprint() == Table(name="t").fingerprint()


def test_constraint_and_tag_order_do_not_matter():
    a = _table(tags=("pii", "gold"))
    b = _table(constraints=tuple(reversed(_table().constraints)), tags=("gold", "pii"))
    assert a.fingerprint() == b.fingerprint()


def test_volatile_fields_do_not_change_fingerprint():
    assert _table(row_count=5, last_altered="2026-01-01T00:00:00Z").fingerprint() == _table().fingerprint()


# One changed value per structural field of each model: a new field without an entry fails
# test_every_field_is_covered below.
TABLE_CHANGES = {
    "name": "orders2",
    "table_type": TableType.VIEW,
    "description": "Changed",
    "columns": (BASE_COLUMN,),
    "constraints": (),
    "view_definition": "select 1",
    "partition_columns": ("id",),
    "cluster_columns": ("id",),
    "tags": ("pii",),
    "properties": {"diststyle": "KEY"},
    "upstreams": (TableUpstream(table="db.sch.customers"),),
    "lineage_unparsed": "Invalid expression / Unexpected token",
}
COLUMN_CHANGES = {
    "name": "id2",
    "data_type": "BIGINT",
    "data_type_display": "bigint",
    "array_data_type": "INT",
    "data_length": 10,
    "precision": 5,
    "scale": 1,
    "nullable": True,
    "default": "0",
    "description": "Identifier",
    "ordinal_position": 2,
    "tags": ("pii",),
    "children": (Column(name="x", data_type="INT", data_type_display="int"),),
}
CONSTRAINT_CHANGES = {
    "constraint_type": ConstraintType.UNIQUE,
    "columns": ("amount",),
    "name": "other",
    "referred_table": "db.sch.customers",
    "referred_columns": ("id",),
}


def test_fields_added_later_leave_existing_fingerprints_alone():
    # A fingerprint stored before views carried lineage stays the same while the view has none.
    table = _table()
    legacy = table.model_dump_json(exclude={"row_count", "last_altered", "source_digest", "object_id",
                                            "upstreams", "lineage_unparsed"})
    assert table.fingerprint() == fingerprint_of(legacy)


def test_upstream_order_does_not_matter():
    a, b = TableUpstream(table="db.s.a"), TableUpstream(table="db.s.b")
    assert _table(upstreams=(a, b)).fingerprint() == _table(upstreams=(b, a)).fingerprint()
    with_columns = TableUpstream(table="db.s.a", columns=(ColumnUpstream(downstream_column="x", upstream_columns=("y",)),))
    assert _table(upstreams=(with_columns,)).fingerprint() != _table(upstreams=(a,)).fingerprint()


def test_every_field_is_covered():
    assert set(TABLE_CHANGES) == set(Table.model_fields) - Table.volatile_fields
    assert set(COLUMN_CHANGES) == set(Column.model_fields)
    assert set(CONSTRAINT_CHANGES) == set(TableConstraint.model_fields)


@pytest.mark.parametrize("field", sorted(TABLE_CHANGES))
def test_table_fingerprint_sensitive_to(field):
    assert _table(**{field: TABLE_CHANGES[field]}).fingerprint() != _table().fingerprint()


@pytest.mark.parametrize("field", sorted(COLUMN_CHANGES))
def test_column_change_changes_table_fingerprint(field):
    changed = BASE_COLUMN.model_copy(update={field: COLUMN_CHANGES[field]})
    assert changed.fingerprint() != BASE_COLUMN.fingerprint()
    base = _table()
    other = _table(columns=(changed, *base.columns[1:]))
    assert other.fingerprint() != base.fingerprint()


def test_nested_child_change_changes_fingerprint():
    child = Column(name="street", data_type="VARCHAR", data_type_display="string")
    parent = Column(name="address", data_type="STRUCT", data_type_display="struct", children=(child,))
    changed = parent.model_copy(update={"children": (child.model_copy(update={"data_type": "INT"}),)})
    assert parent.fingerprint() != changed.fingerprint()


@pytest.mark.parametrize("field", sorted(CONSTRAINT_CHANGES))
def test_constraint_change_changes_table_fingerprint(field):
    base = _table()
    changed = base.constraints[0].model_copy(update={field: CONSTRAINT_CHANGES[field]})
    assert _table(constraints=(changed, base.constraints[1])).fingerprint() != base.fingerprint()


def test_schema_fingerprint_sensitive_to_description():
    assert DatabaseSchema(name="s").fingerprint() != DatabaseSchema(name="s", description="x").fingerprint()


def test_entities_are_frozen_and_strict():
    with pytest.raises(Exception):
        Table(name="t", unknown_field=1)
    t = Table(name="t")
    with pytest.raises(Exception):
        t.name = "x"  # type: ignore[misc]


_TRICKY_TEXT = 'a,"row_count":1,"upstreams":[],"object_id":"x"}'  # key-like text inside strings


@pytest.mark.parametrize("overrides", [
    {},
    {"row_count": 5, "last_altered": "2026-12-03T00:00:00Z", "source_digest": "d", "object_id": "db/1"},
    {"upstreams": (TableUpstream(table="db.sch.customers"),)},
    {"upstreams": (TableUpstream(table="db.b"), TableUpstream(table="db.a"))},  # not in canonical order
    {"lineage_unparsed": "did not parse"},  # a late field set while the one before it is empty
    {"upstreams": (TableUpstream(table="db.a"),), "lineage_unparsed": "partly"},
    {"properties": {"row_count": "1", "upstreams": "[]", "object_id": "y"}},  # the keys nested earlier
    {"description": _TRICKY_TEXT, "view_definition": _TRICKY_TEXT, "last_altered": _TRICKY_TEXT},
    {"tags": ("z", "a")},
    {"constraints": (TableConstraint(constraint_type=ConstraintType.UNIQUE, columns=("b",)),
                     TableConstraint(constraint_type=ConstraintType.PRIMARY_KEY, columns=("id",)))},
])
def test_fingerprint_and_json_equal_fingerprint_and_model_dump_json(overrides):
    table = _table(**overrides)
    assert table.fingerprint_and_json() == (table.fingerprint(), table.model_dump_json())


def test_fingerprint_and_json_for_every_kind_of_entity():
    for entity in (BASE_COLUMN, DatabaseSchema(name="sch", description="d"),
                   TableUpstream(table="db.a", columns=(ColumnUpstream(downstream_column="x",
                                                                       upstream_columns=("y",)),))):
        assert entity.fingerprint_and_json() == (entity.fingerprint(), entity.model_dump_json())


def test_a_canonical_table_is_serialised_once():
    table = _table(row_count=3, upstreams=(TableUpstream(table="db.a"),))
    body = table.model_dump_json()
    assert table._fingerprint_prefix(body) == table.model_dump_json(exclude=table._volatile_exclude())
    # Out of canonical order, or a late field set after an empty one: not a prefix, both serialised.
    assert _table(tags=("z", "a"))._fingerprint_prefix(_table(tags=("z", "a")).model_dump_json()) is None
    late = _table(lineage_unparsed="x")
    assert late._fingerprint_prefix(late.model_dump_json()) is None
