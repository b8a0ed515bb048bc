"""Plan a run: turn per-schema table counts into balanced work units.

A unit is a batch of schemas (or one slice of a very large schema). Units are balanced with
the longest-first greedy rule so that ``threads`` slots are busy together and no slot idles
while one huge schema runs alone; the number of units stays under ``max_units`` so that the
mapped task stays well under Airflow's ``max_map_length``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.units import Mode, TableSlice, WorkUnit

__all__ = ["plan_units", "unit_label"]


def plan_units(
    counts: Mapping[str, Mapping[str, int]],
    *,
    threads: int,
    tables_per_unit: int,
    max_units: int,
    min_tables_per_unit: int = 1,
    mode: Mode = "full",
    only_tables: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
    id_prefix: str = "",
) -> list[WorkUnit]:
    """Return work units covering every schema in ``counts``.

    :param counts: database -> schema -> number of tables (and views) to extract.
    :param threads: slots that run at once; at least this many units are made when there are
        enough schemas.
    :param tables_per_unit: target size of a unit; a schema larger than this is split into
        table slices.
    :param min_tables_per_unit: schemas are spread over the ``threads`` slots only as long as
        each unit gets at least this many tables: a unit has a fixed cost (a connection, a few
        statements, a catalog read and, under Airflow, two task instances), so a small run or a
        small incremental change makes fewer units.
    :param max_units: upper bound on the number of units (the target size grows to fit).
    :param mode: mode recorded on every unit.
    :param only_tables: incremental runs: database -> schema -> the tables to fetch.
    :param id_prefix: prefix of the unit ids (to keep ids unique when plans are combined).
    """
    total = sum(sum(s.values()) for s in counts.values())
    if sum(len(s) for s in counts.values()) == 0:
        return []
    if sum(1 for s in counts.values() if s) > max_units:
        raise ConfigError(
            "max_units", max_units,
            f"{len(counts)} databases need at least one work unit each; narrow the database filter "
            "or raise max_units",
        )
    target = max(tables_per_unit, math.ceil(total / max_units))
    while True:
        units: list[WorkUnit] = []
        for database in sorted(counts):
            only = None if only_tables is None else only_tables.get(database, {})
            share = sum(counts[database].values()) / total if total else 1 / len(counts)
            slots = max(1, round(threads * share))  # this database's fair share of the slots
            units.extend(_plan_database(database, counts[database], target, slots, min_tables_per_unit, mode, only,
                                        id_prefix))
        if len(units) <= max_units:
            return units
        if target > total:
            raise ConfigError("max_units", max_units, f"the plan needs {len(units)} work units; raise max_units")
        target *= 2  # many databases with a few tables each: pack harder


def _plan_database(
    database: str,
    schema_counts: Mapping[str, int],
    target: int,
    threads: int,
    min_tables: int,
    mode: Mode,
    only_tables: Mapping[str, tuple[str, ...]] | None,
    id_prefix: str,
) -> list[WorkUnit]:
    units: list[WorkUnit] = []
    small: dict[str, int] = {}
    for schema, n in sorted(schema_counts.items()):
        if n > target:
            parts = math.ceil(n / target)
            for i in range(parts):
                units.append(
                    WorkUnit(
                        unit_id=f"{database}/{id_prefix}{schema}/{i + 1}of{parts}",
                        database=database,
                        schemas=(schema,),
                        mode=mode,
                        table_slice=TableSlice(index=i, count=parts),
                        only_tables=None if only_tables is None else {schema: tuple(only_tables.get(schema, ()))},
                        estimated_tables=math.ceil(n / parts),
                    )
                )
        else:
            small[schema] = n
    if small:
        total = sum(small.values())
        n_bins = max(min(threads, len(small), max(1, total // max(1, min_tables))), math.ceil(total / target))
        for i, (schemas, size) in enumerate(_balance(small, n_bins)):
            units.append(
                WorkUnit(
                    unit_id=f"{database}/{id_prefix}batch{i + 1}",
                    database=database,
                    schemas=tuple(schemas),
                    mode=mode,
                    only_tables=None if only_tables is None else {s: tuple(only_tables.get(s, ())) for s in schemas},
                    estimated_tables=size,
                )
            )
    return units


def _balance(sizes: Mapping[str, int], n_bins: int) -> list[tuple[list[str], int]]:
    """Greedy longest-first bin balancing; returns non-empty bins with their sizes."""
    heap: list[tuple[int, int, list[str]]] = [(0, i, []) for i in range(n_bins)]
    for name, size in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        load, i, names = heapq.heappop(heap)
        names.append(name)
        # every schema costs at least one unit of work (its queries), even when empty
        heapq.heappush(heap, (load + max(size, 1), i, names))
    bins = sorted((i, sorted(names), load) for load, i, names in heap if names)
    return [(names, load) for _, names, load in bins]


def unit_label(unit: WorkUnit, limit: int = 200) -> str:
    """Return a short human label for a unit, e.g. ``db: sales, finance`` or ``db.big [2/5]``."""
    if unit.table_slice is not None:
        label = f"{unit.database}.{unit.schemas[0]} [{unit.table_slice.index + 1}/{unit.table_slice.count}]"
    else:
        label = f"{unit.database}: {', '.join(unit.schemas)}"
    return label if len(label) <= limit else label[: limit - 1] + "…"
