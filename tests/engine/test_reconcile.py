from __future__ import annotations

from airflow_provider_omingest.catalog.base import StoredEntity
from airflow_provider_omingest.config import Filters
from airflow_provider_omingest.engine.reconcile import reconcile
from airflow_provider_omingest.models.entities import Column, DatabaseSchema, Table
from airflow_provider_omingest.models.fqn import build_fqn
from airflow_provider_omingest.models.units import SchemaSnapshot, TableSlice


def _t(name: str, desc: str | None = None) -> Table:
    return Table(name=name, description=desc,
                 columns=(Column(name="id", data_type="INT", data_type_display="int", ordinal_position=1),))


def _stored(tables: list[Table], schema="s", deleted=(), db="db") -> dict[str, StoredEntity]:
    out = {}
    for t in tables:
        fqn = build_fqn("svc", db, schema, t.name)
        out[fqn] = StoredEntity(fqn=fqn, kind="table", database=db, schema_name=schema, name=t.name,
                                fingerprint=t.fingerprint(), deleted=t.name in deleted)
    sfqn = build_fqn("svc", db, schema)
    out[sfqn] = StoredEntity(fqn=sfqn, kind="schema", database=db, schema_name=schema, name=schema,
                             fingerprint=DatabaseSchema(name=schema).fingerprint())
    return out


def test_first_run_creates_everything():
    snap = SchemaSnapshot(database="db", schema_name="s", tables=[_t("a"), _t("b")])
    plan = reconcile("svc", [snap], {}, Filters())
    assert plan.created["s"] == 2 and not plan.updated and not plan.delete_candidates
    assert {w.kind for w in plan.writes} == {"schema", "table"}
    assert len(plan.writes) == 3


def test_changes_are_classified():
    old = [_t("same"), _t("changed"), _t("gone"), _t("back")]
    stored = _stored(old, deleted=("back",))
    snap = SchemaSnapshot(database="db", schema_name="s",
                          tables=[_t("same"), _t("changed", "new desc"), _t("new"), _t("back")])
    plan = reconcile("svc", [snap], stored, Filters())
    assert plan.unchanged["s"] == 1
    assert plan.updated["s"] == 1
    assert plan.created["s"] == 2  # new + restored
    assert {w.change for w in plan.writes} == {"updated", "created", "restored"}
    assert plan.delete_candidates == ["svc.db.s.gone"]
    assert plan.scope_size == 3  # live tables in scope before the run


def test_no_change_means_no_writes():
    tables = [_t("a"), _t("b")]
    plan = reconcile("svc", [SchemaSnapshot(database="db", schema_name="s", tables=tables)],
                     _stored(tables), Filters())
    assert plan.writes == [] and plan.unchanged["s"] == 2


def test_filtered_out_tables_are_never_deletion_candidates():
    stored = _stored([_t("keep"), _t("tmp_x")])
    filters = Filters(table={"exclude": ["^tmp_"]})
    snap = SchemaSnapshot(database="db", schema_name="s", tables=[_t("keep")])
    assert reconcile("svc", [snap], stored, filters).delete_candidates == []


def test_unreflectable_tables_are_kept():
    stored = _stored([_t("a"), _t("broken")])
    snap = SchemaSnapshot(database="db", schema_name="s", tables=[_t("a")], unreflectable={"broken": "boom"})
    plan = reconcile("svc", [snap], stored, Filters())
    assert plan.delete_candidates == [] and plan.unreflectable["s"] == 1


def test_incomplete_snapshot_never_deletes():
    stored = _stored([_t("a"), _t("b")])
    snap = SchemaSnapshot(database="db", schema_name="s", tables=[_t("a", "x")], complete=False)
    plan = reconcile("svc", [snap], stored, Filters())
    assert plan.delete_candidates == [] and plan.updated["s"] == 1


def test_slice_only_deletes_inside_its_slice():
    names = [f"t{i}" for i in range(40)]
    stored = _stored([_t(n) for n in names])
    sl = TableSlice(index=0, count=2)
    present = [n for n in names if sl.contains(n)][1:]  # one table of the slice vanished
    snap = SchemaSnapshot(database="db", schema_name="s", tables=[_t(n) for n in present], table_slice=sl)
    plan = reconcile("svc", [snap], stored, Filters())
    vanished = [n for n in names if sl.contains(n)][0]
    assert plan.delete_candidates == [build_fqn("svc", "db", "s", vanished)]
    assert plan.scope_size == sum(sl.contains(n) for n in names)


def test_other_schemas_untouched():
    stored = {**_stored([_t("a")], schema="s"), **_stored([_t("x")], schema="other")}
    snap = SchemaSnapshot(database="db", schema_name="s", tables=[])
    plan = reconcile("svc", [snap], stored, Filters())
    assert plan.delete_candidates == ["svc.db.s.a"]
