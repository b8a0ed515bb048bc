"""omingest and a peer (DataHub) side by side, each as a whole process, on the same warehouse.

Per warehouse size and proxy delay, the two commands run back to back, ``repeat`` times, in
alternating order (omingest first in even rounds, the peer first in odd ones), so that neither
always gets the warmer caches or the quieter moment. Every run goes through the same delay proxy;
statements are counted by ``pg_stat_statements`` (top-level) and round trips by the proxy.
omingest runs its CLI (``python -m airflow_provider_omingest.cli run --mode full``) into a fresh
SQLite catalog each time; DataHub runs its pipeline into a fresh file.

After the first round of each size, what the two extracted is compared (tables, views, their
columns in order): a difference fails the comparison, listed in the record and on the console.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import datahub
from benchmarks.compare import catalog_relations, diff_relations
from benchmarks.measure import SourceStatements
from benchmarks.process_tree import measure_process
from benchmarks.proxy import DelayProxy

__all__ = ["METRICS", "OURS", "omingest_command", "run_order", "summarize"]

OURS = "omingest"
SERVICE = "bench"
#: The figures compared, each a key of a sample record.
METRICS = ("wall_s", "cpu_s", "peak_rss_mib", "statements", "round_trips")


def run_order(repeat: int, peer: str) -> list[tuple[int, str]]:
    """(round, tool) in the order they run: omingest first in even rounds, the peer first in odd ones."""
    order: list[tuple[int, str]] = []
    for i in range(repeat):
        pair = (OURS, peer) if i % 2 == 0 else (peer, OURS)
        order.extend((i, tool) for tool in pair)
    return order


def summarize(samples: Sequence[dict[str, Any]], peer: str) -> dict[str, Any]:
    """Medians per tool and the ratios omingest / peer (below 1: omingest needs less) for :data:`METRICS`."""
    out: dict[str, Any] = {"runs": {}, "median": {}, "ratio": {}}
    for tool in (OURS, peer):
        mine = [s for s in samples if s["tool"] == tool]
        out["runs"][tool] = len(mine)
        out["median"][tool] = {m: statistics.median(s[m] for s in mine) if mine else None for m in METRICS}
    for m in METRICS:
        a, b = out["median"][OURS][m], out["median"][peer][m]
        out["ratio"][m] = round(a / b, 4) if a is not None and b else None
    return out


def omingest_command(source_url: str, catalog_url: str, threads: int) -> list[str]:
    """The CLI as a user runs it: one process, a full run into the catalog."""
    return [sys.executable, "-m", "airflow_provider_omingest.cli", "run", "--source", source_url,
            "--catalog", catalog_url, "--service", SERVICE, "--mode", "full", "--threads", str(threads)]


class PeerBench:
    """Runs the side-by-side comparison on the warehouses of a :class:`benchmarks.run.Bench`."""

    def __init__(self, bench: Any, peer: str) -> None:
        if peer != "datahub":
            raise ValueError(f"unknown peer {peer!r}: the only peer is 'datahub'")
        self.bench, self.peer, self.args = bench, peer, bench.args
        self.python, self.build = datahub.ensure_venv(self.args.peer_dir)
        print(f"DataHub {self.build['version']} in {self.python.parent.parent} "
              f"(installed in {self.build['install_seconds']} s)", flush=True)
        self.records: list[dict[str, Any]] = []
        self.failed_comparisons = 0
        self._n = 0

    def _env(self) -> dict[str, str]:
        from benchmarks.run import REPO

        return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    def _run(self, tool: str, database: str, proxy: DelayProxy, statements: SourceStatements) -> dict[str, Any]:
        self._n += 1
        work = self.bench.workdir / f"peer-{self._n}"
        work.mkdir()
        if tool == OURS:
            catalog = f"sqlite:///{work / 'catalog.db'}"
            command = omingest_command(f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}",
                                       catalog, self.args.threads)
            env, output = self._env(), {"catalog_url": catalog}
        else:
            out_file = work / "datahub.json"
            recipe_path = work / "recipe.json"
            recipe_path.write_text(json.dumps(datahub.recipe(host="127.0.0.1", port=proxy.port, database=database,
                                                             username="postgres", out_file=out_file)))
            command, env, output = datahub.pipeline_command(self.python, recipe_path), datahub.datahub_env(), \
                {"out_file": out_file}
        statements.reset()
        proxy.reset_counts()
        measure = measure_process(command, env=env, cwd=work, stdout=work / "output.log")
        stm = statements.read()
        record = {"tool": tool, **measure.as_record(), "statements": stm["statements"],
                  "distinct_statements": stm["distinct"], "round_trips": proxy.requests,
                  "connections": proxy.accepted, "workdir": str(work), **output}
        if measure.returncode != 0:
            tail = (work / "output.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{tool} exited with {measure.returncode}; the end of its output:\n{tail}")
        return record

    def compare(self, ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        a = catalog_relations(ours["catalog_url"], SERVICE)
        b = datahub.parse_file_sink(theirs["out_file"])
        differences = diff_relations(a, b, their_name=self.peer)
        result = {"equal": not differences, "differences": differences,
                  "tables": sum(r.kind == "table" for r in a.values()),
                  "views": sum(r.kind == "view" for r in a.values()),
                  "columns": sum(len(r.columns) for r in a.values()),
                  "peer_tables": sum(r.kind == "table" for r in b.values()),
                  "peer_views": sum(r.kind == "view" for r in b.values()),
                  "peer_columns": sum(len(r.columns) for r in b.values()),
                  "seconds": round(time.perf_counter() - started, 2)}
        if differences:
            self.failed_comparisons += 1
            print(f"  !! COMPARISON FAILED: omingest and {self.peer} extracted different relations "
                  f"({len(differences)} difference lines):", flush=True)
            for line in differences:
                print(f"     {line}", flush=True)
        else:
            print(f"  same relations: {result['tables']} tables, {result['views']} views, "
                  f"{result['columns']} columns", flush=True)
        return result

    def cell(self, shape: Any, database: str, delay_ms: float, common: dict[str, Any]) -> None:
        """Both tools ``repeat`` times on one warehouse at one delay; one record."""
        statements = SourceStatements(self.bench.dsn("postgres"), database)
        samples: list[dict[str, Any]] = []
        comparison = None
        load_before = os.getloadavg()
        with DelayProxy(self.bench.server.port, delay_ms / 1000) as proxy:
            for rnd, tool in run_order(self.args.repeat, self.peer):
                sample = {"round": rnd, **self._run(tool, database, proxy, statements)}
                samples.append(sample)
                print(f"  {tool:<8} {shape.label():<14} d={delay_ms:g}ms round {rnd}: {sample['wall_s']:8.2f}s "
                      f"cpu={sample['cpu_s']:.2f}s rss={sample['peak_rss_mib']:.0f}MiB "
                      f"stmts={sample['statements']} round_trips={sample['round_trips']}", flush=True)
                if comparison is None and {s["tool"] for s in samples if s["round"] == rnd} == {OURS, self.peer}:
                    pair = {s["tool"]: s for s in samples if s["round"] == rnd}
                    comparison = self.compare(pair[OURS], pair[self.peer])
        record = {**common, "layer": f"peer:{self.peer}", "delay_ms": delay_ms, "threads": self.args.threads,
                  "repeat": self.args.repeat, "samples": samples, **summarize(samples, self.peer),
                  "comparison": comparison, "loadavg_before": [round(x, 2) for x in load_before],
                  "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
        r = record["ratio"]
        print(f"  => {shape.label()} d={delay_ms:g}ms medians omingest/{self.peer}: wall {r['wall_s']}, "
              f"cpu {r['cpu_s']}, rss {r['peak_rss_mib']}, statements {r['statements']}", flush=True)
        self.records.append(record)
        for sample in samples:  # DataHub writes ~18 MB per 1,000 tables
            shutil.rmtree(sample["workdir"], ignore_errors=True)

    def size(self, shape: Any) -> None:
        from benchmarks.warehouse import generate

        database = f"wh_{shape.label()}"
        self.bench.server.create_database(database)
        started = time.perf_counter()
        generate(self.bench.dsn(database), shape)
        print(f"== {shape.label()} ({shape.relations} relations): generated in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        common = {"shape": shape.label(), "schemas": shape.schemas, "tables": shape.relations,
                  "columns": shape.columns}
        for delay_ms in self.args.peer_delay_ms:
            self.cell(shape, database, delay_ms, common)
        self.bench._drop(database)


def peer_versions(build: dict[str, Any]) -> dict[str, Any]:
    return {"datahub": build.get("version"), "datahub_requirement": build.get("requirement")}


def write_results(out_dir: Path, meta: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"peer-{stamp}.json"
    path.write_text(json.dumps({"meta": meta, "records": records}, indent=1, default=str))
    return path
