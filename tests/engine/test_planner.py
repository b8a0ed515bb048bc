from __future__ import annotations

import pytest

from airflow_provider_omingest.engine.planner import plan_units, unit_label
from airflow_provider_omingest.exceptions import ConfigError


def _covered(units):
    return sorted(s for u in units for s in u.schemas if u.table_slice is None)


def test_small_schemas_are_balanced_over_threads():
    counts = {"db": {f"s{i}": 10 for i in range(20)}}
    units = plan_units(counts, threads=4, tables_per_unit=1000, max_units=256)
    assert len(units) == 4
    assert _covered(units) == sorted(counts["db"])
    assert {u.estimated_tables for u in units} == {50}


def test_fewer_schemas_than_threads_gives_one_unit_per_schema():
    units = plan_units({"db": {"a": 5, "b": 7}}, threads=8, tables_per_unit=1000, max_units=256)
    assert sorted(u.schemas for u in units) == [("a",), ("b",)]


def test_huge_schema_is_sliced_so_slots_never_idle():
    units = plan_units({"db": {"big": 5000, "small": 10}}, threads=4, tables_per_unit=1000, max_units=256)
    slices = [u for u in units if u.table_slice]
    assert len(slices) == 5
    assert {u.table_slice.index for u in slices} == set(range(5))
    assert all(u.table_slice.count == 5 for u in slices)
    assert _covered(units) == ["small"]
    assert unit_label(slices[1]) == "db.big [2/5]"


def test_every_table_falls_in_exactly_one_slice():
    units = plan_units({"db": {"big": 3000}}, threads=2, tables_per_unit=1000, max_units=256)
    names = [f"t{i}" for i in range(3000)]
    for n in names:
        assert sum(u.table_slice.contains(n) for u in units) == 1


def test_map_length_stays_under_max_units():
    counts = {"db": {f"s{i}": 1000 for i in range(2000)}}  # 2,000,000 tables
    units = plan_units(counts, threads=8, tables_per_unit=100, max_units=256)
    assert 8 <= len(units) <= 256
    assert _covered(units) == sorted(counts["db"])


def test_many_databases_stay_under_max_units():
    counts = {f"db{d}": {f"s{i}": 3 for i in range(10)} for d in range(200)}
    units = plan_units(counts, threads=8, tables_per_unit=1, max_units=256)
    assert len(units) <= 256
    assert sorted((u.database, s) for u in units for s in u.schemas) == sorted(
        (d, s) for d in counts for s in counts[d])


def test_more_databases_than_max_units_is_a_clear_error():
    counts = {f"db{d}": {"s": 1} for d in range(300)}
    with pytest.raises(ConfigError, match="300 databases"):
        plan_units(counts, threads=4, tables_per_unit=1000, max_units=256)


def test_empty_schemas_still_get_a_unit_and_empty_plan_is_empty():
    units = plan_units({"db": {"empty": 0}}, threads=2, tables_per_unit=10, max_units=10)
    assert [u.schemas for u in units] == [("empty",)]
    assert plan_units({}, threads=2, tables_per_unit=10, max_units=10) == []


def test_incremental_units_carry_only_tables():
    units = plan_units({"db": {"a": 2, "b": 1}}, threads=1, tables_per_unit=1000, max_units=10,
                       mode="incremental", only_tables={"db": {"a": ("t1", "t2"), "b": ("x",)}})
    assert len(units) == 1
    assert units[0].mode == "incremental"
    assert units[0].only_tables == {"a": ("t1", "t2"), "b": ("x",)}


def test_unit_ids_are_deterministic():
    counts = {"db": {f"s{i}": i for i in range(30)}}
    a = plan_units(counts, threads=3, tables_per_unit=50, max_units=100)
    b = plan_units(counts, threads=3, tables_per_unit=50, max_units=100)
    assert a == b
    assert len({u.unit_id for u in a}) == len(a)


def test_small_runs_make_fewer_units_than_threads() -> None:
    counts = {"db": {f"s{i}": 10 for i in range(20)}}  # 200 tables in 20 schemas
    assert len(plan_units(counts, threads=8, tables_per_unit=1000, max_units=256)) == 8
    units = plan_units(counts, threads=8, tables_per_unit=1000, max_units=256, min_tables_per_unit=100)
    assert len(units) == 2 and sorted(s for u in units for s in u.schemas) == sorted(counts["db"])
    assert len(plan_units(counts, threads=8, tables_per_unit=1000, max_units=256, min_tables_per_unit=500)) == 1
