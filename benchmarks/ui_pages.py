"""Time the catalog reads behind the UI pages on a generated embedded catalog (100,000 tables by default).

Builds an SQLite catalog in a temporary folder (or ``--catalog PATH``, kept and reused): T tables
of 20 columns in schemas of 1,000, created by one run, then ``--updates`` of them updated by a
second run and a few deleted. Then times, each the median of ``--repeat`` calls:

- a name search's first page, a prefix matching one table, and a page deep in the name order;
- the second run's updated and created pages ("What changed");
- an entity page's reads: body, lineage, versions.

    .venv/bin/python -m benchmarks.ui_pages                    # 100,000 tables (~2 min to build)
    .venv/bin/python -m benchmarks.ui_pages --tables 10000 --repeat 50
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from airflow_provider_omingest.catalog.base import EntityWrite
from airflow_provider_omingest.catalog.browse import CatalogBrowser
from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

SERVICE = "bench"
PER_SCHEMA = 1_000
BATCH = 5_000


def _write(schema: str, name: str, version: int) -> EntityWrite:
    columns = [{"name": f"c{i}", "data_type": "INT" if i % 2 else "VARCHAR",
                "data_type_display": "integer" if i % 2 else "varchar(40)", "nullable": i != 0,
                "ordinal_position": i + 1} for i in range(20)]
    if version > 1:
        columns[3]["data_type_display"] = "bigint"
    return EntityWrite(fqn=f"{SERVICE}.db.{schema}.{name}", kind="table", database="db", schema_name=schema,
                       name=name, fingerprint=f"{name}-{version}", change="created",
                       body={"name": name, "table_type": "Regular", "columns": columns})


def build(catalog: SqlCatalog, tables: int, updates: int) -> None:
    """Fill ``catalog``: ``tables`` tables (run ``full``), then ``updates`` updated and 10 deleted (run ``incr``)."""
    names = [(f"s{i // PER_SCHEMA:03d}", f"table_{i:06d}") for i in range(tables)]
    for start in range(0, tables, BATCH):
        catalog.apply([_write(s, n, 1) for s, n in names[start:start + BATCH]], "full")
    step = max(1, tables // updates)
    catalog.apply([_write(s, n, 2) for s, n in names[::step][:updates]], "incr")
    catalog.delete([f"{SERVICE}.db.{s}.{n}" for s, n in names[1::step][:10]], "incr")


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--catalog", type=Path, help="SQLite file to build (or reuse, if it exists)")
    args = parser.parse_args(argv)
    folder = None if args.catalog else tempfile.TemporaryDirectory(prefix="omingest-ui-bench-")
    path = args.catalog or Path(folder.name) / "catalog.db"  # type: ignore[union-attr]
    reuse = path.exists()
    catalog = SqlCatalog(f"sqlite:///{path}")
    try:
        t0 = time.perf_counter()
        if not reuse:
            build(catalog, args.tables, args.updates)
        built = time.perf_counter() - t0
        browser = CatalogBrowser(catalog)
        middle = f"{SERVICE}.db.s{(args.tables // 2) // PER_SCHEMA:03d}.table_{args.tables // 2:06d}"
        fqn = f"{SERVICE}.db.s000.table_000000"
        checks = {
            "search: first page (no text)": lambda: browser.search(""),
            "search: prefix 'table_0999' (first page)": lambda: browser.search("table_0999"),
            "search: one exact name": lambda: browser.search(f"table_{args.tables - 1:06d}"),
            "search: a page in the middle (keyset)": lambda: browser.search("", after=middle),
            "what changed: updated, first page": lambda: browser.run_changes("incr", "updated", service=SERVICE),
            "what changed: created, first page of a full run":
                lambda: browser.run_changes("full", "created", service=SERVICE),
            "entity: body + lineage + versions":
                lambda: (catalog.get(fqn), catalog.lineage(fqn), browser.versions(fqn)),
        }
        print(f"catalog: {path} ({'reused' if reuse else f'built in {built:.1f} s'}), {args.tables:,} tables, "
              f"median of {args.repeat} calls")
        for label, call in checks.items():
            call()  # warm the page cache once
            print(f"  {label:<50} {_median_ms(call, args.repeat):8.2f} ms")
    finally:
        catalog.close()
        if folder is not None:
            folder.cleanup()


if __name__ == "__main__":
    main()
