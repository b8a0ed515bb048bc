"""Turn results files into ``benchmarks/RESULTS.md`` and a PNG plot of time vs number of tables.

``python -m benchmarks.report [RESULTS_DIR]`` regenerates both from every
``results-*.json`` in the folder (the newest record wins for the same measurement), so that a
long run made by hand (100,000 tables) and the regular matrix end up in one report; the
``peer-*.json`` files of ``--peer`` runs make its "DataHub side by side" section
(:mod:`benchmarks.peer_report`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["load_records", "targets", "write_report"]

INCREMENTAL = "incremental after"


def load_records(results_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (metas, records), the newest record kept for each measurement."""
    metas, latest = [], {}
    for path in sorted(results_dir.glob("results-*.json")):
        data = json.loads(path.read_text())
        meta = {**data["meta"], "file": path.name}
        metas.append(meta)
        for r in data["records"]:
            key = (r["layer"], r["scenario"], r["shape"], r["threads"], r["delay_ms"], r.get("catalog"),
                   r.get("matrix"))
            latest[key] = {**r, "file": path.name, "date": meta["machine"]["date"]}
    records = sorted(latest.values(), key=lambda r: (r["layer"], r["tables"], r.get("matrix") or "",
                                                     r["threads"], _order(r["scenario"])))
    return metas, records


def _order(scenario: str) -> int:
    for i, prefix in enumerate(["full", "no-change (full)", "no-change (incremental)", INCREMENTAL]):
        if scenario.startswith(prefix):
            return i
    return 9


def _fmt_int(v: Any) -> str:
    return "—" if v is None or v == "" else f"{v:,}"


def _size_table(records: list[dict[str, Any]], layer: str) -> list[str]:
    rows = [r for r in records if r["layer"] == layer and not r.get("matrix")]
    if not rows:
        return []
    out = ["| shape (S×T×C) | tables | scenario | wall s | source stmts | stmts / schema | tables fetched | "
           "catalog stmts | peak RSS MiB | XCom bytes | units |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['shape']} | {r['tables']:,} | {r['scenario']} | {r['wall_s']:.2f} | {_fmt_int(r['source_statements'])} "
            f"| {r['source_statements'] / (r['schemas'] + 1):.1f} | {_fmt_int(r['tables_fetched'])} "
            f"| {_fmt_int(r.get('catalog_statements'))} | {r['peak_rss_mib']:.0f} | {_fmt_int(r.get('xcom_bytes'))} "
            f"| {_fmt_int(r.get('units'))} |")
    return out


def _find(records, layer, tables, scenario_prefix, matrix=None, threads=None):
    for r in records:
        if (r["layer"] == layer and r["tables"] == tables and r["scenario"].startswith(scenario_prefix)
                and r.get("matrix") == matrix and (threads is None or r["threads"] == threads)):
            return r
    return None


def statements_follow_units(per_unit: list[float], per_table: list[float]) -> bool:
    """Whether statements grow with units (schemas), not tables: per table they fall as the warehouse
    grows, and per unit no larger warehouse needs more than 1.5 times what the smallest needs."""
    return (all(x > y for x, y in zip(per_table, per_table[1:]))
            and all(later <= 1.5 * per_unit[0] for later in per_unit[1:]))


def targets(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Return (target, figure, verdict) rows."""
    out: list[tuple[str, str, str]] = []
    engine_full = [r for r in records if r["layer"] == "engine" and not r.get("matrix") and r["scenario"] == "full"]
    if len(engine_full) >= 2:
        engine_full.sort(key=lambda r: r["tables"])
        # The plan sends a fixed number of statements and each unit (a batch of schemas, about
        # max(threads, tables / tables_per_unit)) reads all its schemas in a fixed number of
        # statements; connection setup is once per process: statements ~ a + b * units, never
        # per table. Per unit the count may fall with size (the setup is shared), never grow.
        per_unit = [r["source_statements"] / (r["units"] + 1) for r in engine_full]
        per_table = [r["source_statements"] / r["tables"] for r in engine_full]
        ok = statements_follow_units(per_unit, per_table)
        out.append(("Source statements grow with schemas, not tables",
                    "statements / (units + 1 for the plan): "
                    + ", ".join(f"{r['shape']} ({r['schemas'] + 1} schemas): {r['source_statements']:,} / "
                                f"({r['units']} + 1) = {v:.1f}" for r, v in zip(engine_full, per_unit))
                    + "; per table " + " → ".join(f"{v:.3f}" for v in per_table),
                    "met" if ok else "NOT met"))
    full10 = _find(records, "engine", 10000, "full")
    if full10:
        out.append(("10,000 × 20 full, engine alone, no delay < 30 s", f"{full10['wall_s']:.1f} s",
                    "met" if full10["wall_s"] < 30 else "NOT met"))
        for name in ("no-change (full)", "no-change (incremental)"):
            r = _find(records, "engine", 10000, name)
            if r:
                out.append((f"10,000 tables {name} < 10 s", f"{r['wall_s']:.1f} s",
                            "met" if r["wall_s"] < 10 else "NOT met"))
        inc = _find(records, "engine", 10000, INCREMENTAL)
        if inc:
            share = inc["wall_s"] / full10["wall_s"]
            out.append(("Incremental after 1 % change < 10 % of full (10,000 tables, engine)",
                        f"{inc['wall_s']:.2f} s = {share:.1%} of {full10['wall_s']:.1f} s "
                        f"({inc['tables_fetched']} tables fetched)", "met" if share < 0.10 else "NOT met"))
    for delay in sorted({r["delay_ms"] for r in records if r.get("matrix") == "threads"}):
        t1 = next((r for r in records if r.get("matrix") == "threads" and r["threads"] == 1
                   and r["delay_ms"] == delay), None)
        t8 = next((r for r in records if r.get("matrix") == "threads" and r["threads"] == 8
                   and r["delay_ms"] == delay), None)
        if t1 and t8:
            speedup = t1["wall_s"] / t8["wall_s"]
            verdict = ("met" if speedup >= 4 else "NOT met") if delay == 5 else "reported"
            out.append((f"threads=8 ≥ 4× faster than threads=1 ({delay:g} ms delay, {t1['tables']:,} tables, "
                        f"{t1['units']} units)", f"{t1['wall_s']:.2f} s → {t8['wall_s']:.2f} s = {speedup:.2f}×",
                        verdict))
    big = [r for r in records if r["tables"] >= 100000]
    if big:
        tasks = [r for r in big if "per task" in r["layer"]]
        worst_task = max((r.get("unit_task_max_rss_mib", 0) for r in tasks), default=None)
        plan = max((r.get("plan_task_max_rss_mib", 0) for r in tasks), default=None)
        ok = all(r["status"] == "success" for r in big)
        figure = ", ".join(f"{r['layer']} {r['scenario']}: {r['wall_s']:.0f} s, peak {r['peak_rss_mib']:.0f} MiB"
                           for r in big if r["scenario"] in ("full", "full (process per task)"))
        if worst_task is not None:
            figure += f"; largest unit task {worst_task:.0f} MiB, plan task {plan:.0f} MiB"
        peak = max(worst_task or 0, plan or 0)
        out.append(("100,000 tables completes, peak RSS < 1 GiB in any single task", figure,
                    "met" if ok and tasks and peak < 1024 else ("completes; per-task RSS not measured" if ok else "NOT met")))
    for n in sorted({r["tables"] for r in records if r["layer"] == "dag"}):
        e, d = _find(records, "engine", n, "full"), _find(records, "dag", n, "full")
        if e and d:
            detail = ""
            if "task_seconds" in d:
                detail = (f"; {d.get('task_instances')} task instances ran {sum(d['task_seconds'].values()):.1f} s "
                          f"one after another, dag.test() slept {d.get('dag_test_sleep_s', 0):.0f} s waiting for "
                          "mapped tasks")
            out.append((f"Airflow overhead, {n:,} tables full (dag.test vs engine)",
                        f"{d['wall_s']:.1f} s vs {e['wall_s']:.1f} s (+{d['wall_s'] - e['wall_s']:.1f} s{detail}; "
                        f"XCom {d.get('xcom_bytes', 0):,} B)", "reported"))
        ei, di = _find(records, "engine", n, INCREMENTAL), _find(records, "dag", n, INCREMENTAL)
        if ei and di:
            out.append((f"Airflow overhead, {n:,} tables, incremental after 1 % change",
                        f"{di['wall_s']:.2f} s vs {ei['wall_s']:.2f} s ({di.get('units')} unit(s), "
                        f"{di.get('task_instances', '?')} task instances)", "reported"))
    return out


def performance_targets(records: list[dict[str, Any]], metas: list[dict[str, Any]],
                        scheduler: list[dict[str, Any]] | None = None) -> list[tuple[str, str, str]]:
    """Return (target, today's figure, verdict) rows of the performance targets (2-core machine)."""
    out: list[tuple[str, str, str]] = []

    def row(target: str, figure: str | None, ok: bool | None) -> None:
        out.append((target, figure or "not measured", "not measured" if ok is None else ("met" if ok else "NOT met")))

    full10 = _find(records, "engine", 10000, "full")
    row("10,000 tables full, engine alone ≤ 3 s", full10 and f"{full10['wall_s']:.2f} s ({full10['date'][:10]})",
        full10 and full10["wall_s"] <= 3)
    cli1 = _find(records, "cli", 1000, "full")
    row("1,000 tables full, CLI as a whole process ≤ 1 s",
        cli1 and f"{cli1['wall_s']:.2f} s wall, {cli1['cpu_s']:.2f} s CPU ({cli1['date'][:10]})",
        cli1 and cli1["wall_s"] <= 1)
    imports = next((m["imports"] for m in reversed(metas) if m.get("imports")), None)
    row("import of what a task needs ≤ 0.4 s CPU",
        imports and (f"{imports['task_import_cpu_after_sdk_s']:.2f} s CPU on top of `airflow.sdk` "
                     f"({imports['airflow_sdk_import_cpu_s']:.2f} s, Airflow's own); the CLI's imports "
                     f"{imports['cli_import_cpu_s']:.2f} s"),
        imports and imports["task_import_cpu_after_sdk_s"] <= 0.4)
    cli_full, cli_inc = _find(records, "cli", 10000, "full"), _find(records, "cli", 10000, INCREMENTAL)
    cli_again = _find(records, "cli", 10000, "no-change (full)")
    if cli_full and cli_inc:
        base = cli_again or cli_full
        share = cli_inc["wall_s"] / base["wall_s"]
        row("10,000 tables, incremental after 1 % vs full, both whole processes ≤ 15 %",
            f"{cli_inc['wall_s']:.2f} s vs {base['wall_s']:.2f} s ({base['scenario']} into the same catalog) = "
            f"{share:.0%}", share <= 0.15)
    else:
        row("10,000 tables, incremental after 1 % vs full, both whole processes ≤ 15 %", None, None)
    again = _find(records, "engine", 10000, "no-change (full)")
    if full10 and again:
        setup = full10["source_statements"] - again["source_statements"]
        row("connection setup statements: once per worker process, not per unit",
            f"10,000 tables, {full10['units']} units: {full10['source_statements']} statements in the process's "
            f"first run, {again['source_statements']} in its second ({setup} of setup, once)",
            0 < setup <= 6)
    big = _find(records, "engine", 100000, "full")
    tasks = _find(records, "engine (process per task)", 100000, "full")
    row("100,000 tables full, engine ≤ 30 s, peak RSS per task < 256 MiB",
        big and (f"{big['wall_s']:.0f} s ({big['date'][:10]})"
                 + (f"; largest task {max(tasks['unit_task_max_rss_mib'], tasks['plan_task_max_rss_mib']):.0f} MiB"
                    if tasks else "")),
        big and big["wall_s"] <= 30 and (not tasks or max(tasks["unit_task_max_rss_mib"],
                                                          tasks["plan_task_max_rss_mib"]) < 256))
    local = next((r for r in reversed(scheduler or []) if r.get("executor") == "local" and r.get("tables") == 10000
                  and r.get("status") == "success"), None)
    row("DAG under a real scheduler (LocalExecutor), 10,000 tables full, vs engine alone: overhead ≤ 50 %",
        local and (f"{local['wall_s']:.1f} s DAG run vs {local['engine_s']:.1f} s engine = "
                   f"{local['wall_s'] / local['engine_s'] - 1:+.0%} (load {local.get('load', '?')})"),
        local and local["wall_s"] <= 1.5 * local["engine_s"])
    return out


def load_scheduler_records(results_dir: Path) -> list[dict[str, Any]]:
    """Return the records of every ``scheduler-*.json`` (oldest first)."""
    records: list[dict[str, Any]] = []
    for path in sorted(results_dir.glob("scheduler-*.json")):
        records += json.loads(path.read_text()).get("records", [])
    return records


#: The profile of a 10,000-table full run before this round's work (2026-11-21, threads=1), as
#: measured then: Python CPU and where it went.
PROFILE_BEFORE = (
    "7.6 s Python CPU: 30 % building catalog records in `reconcile._compare` (27 % in "
    "`model_dump(mode=\"json\")`), 19 % `model_validate` of extracted rows, 16 % imports, 15 % SQLite "
    "inserts and JSON encoding, 5 % fingerprints"
)


def _profile_section(results_dir: Path) -> list[str]:
    """The newest 10,000-table full-run profile summary (``python -m benchmarks.profile``), against before."""
    paths = sorted((results_dir / "profiles").glob("20x500x20-full.json"))
    if not paths:
        return []
    p = json.loads(paths[-1].read_text())
    lines = ["", f"## Profile of a 10,000-table full run (engine, threads={p['threads']})", "",
             "`.venv/bin/python -m benchmarks.profile --shape 20x500x20 --threads 1 --scenarios full` "
             "(pyinstrument; the text profile is next to the summary in `benchmarks/results/profiles/`).", "",
             f"- Before (2026-11-21): {PROFILE_BEFORE}.",
             f"- Now ({p['date']}, load average {p['load']:.1f}): {p['wall_s']:.2f} s wall, {p['cpu_s']:.2f} s "
             "CPU in the process; wall time per part (threads=1, so the parts add up to the run; the source "
             "statements' time includes the PostgreSQL server's work):", "",
             "| part | s | share of wall |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['s']:.2f} | {v['share']:.0%} |" for k, v in p["buckets"].items()]
    pg_path = results_dir / "profiles" / "20x500x20-full-postgres.json"
    if pg_path.exists():
        pg = json.loads(pg_path.read_text())
        parts = ", ".join(f"{k} {v['s']:.2f} s" for k, v in pg["buckets"].items())
        lines += ["", f"The same run into a PostgreSQL catalog (`--catalog postgres`, {pg['date']}): "
                  f"{pg['wall_s']:.2f} s wall, {pg['cpu_s']:.2f} s CPU in the process; {parts}."]
    return lines


def _cli_table(records: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in records if r["layer"] == "cli"]
    if not rows:
        return []
    lines = ["| shape (S×T×C) | tables | scenario | wall s | CPU s | source stmts | peak RSS MiB |",
             "|---|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['shape']} | {r['tables']:,} | {r['scenario']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} "
              f"| {r['source_statements']:,} | {r['peak_rss_mib']:.0f} |" for r in rows]
    return lines


def plot(records: list[dict[str, Any]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    series = [("engine", "full", "engine alone: full", "o-"), ("engine", INCREMENTAL, "engine alone: incremental (1 %)", "s-"),
              ("engine", "no-change (full)", "engine alone: no-change full", "^:"),
              ("dag", "full", "DAG (dag.test): full", "o--"), ("dag", INCREMENTAL, "DAG (dag.test): incremental (1 %)", "s--")]
    for layer, prefix, label, style in series:
        pts = sorted((r["tables"], r["wall_s"]) for r in records
                     if r["layer"] == layer and not r.get("matrix") and r["scenario"].startswith(prefix))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tables and views in the warehouse (20 columns each)")
    ax.set_ylabel("wall time, s")
    ax.set_title("omingest: time vs number of tables (PostgreSQL source, SQLite catalog)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def write_report(results_dir: Path, md_path: Path) -> tuple[Path, Path]:
    metas, records = load_records(results_dir)
    png = results_dir / "time_vs_tables.png"
    plot(records, png)
    machine = metas[-1]["machine"] if metas else {}
    lines = [
        "# Benchmark results",
        "",
        "Produced by `benchmarks/` (see `benchmarks/README.md`); regenerate with "
        "`.venv/bin/python -m benchmarks.report`.",
        "",
        f"- Date of the newest run: {machine.get('date')}",
        f"- Machine: {machine.get('cores')} cores ({machine.get('cpu')}), {machine.get('ram_gib')} GiB RAM, "
        f"{machine.get('platform')}",
        f"- Python {machine.get('python')}, PostgreSQL {machine.get('postgresql')}; packages: "
        + ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items()),
        "- Source: PostgreSQL on loopback through the delay proxy; catalog: SQLite file (unless noted). "
        "Every warehouse also has the `public` schema with the two `pg_stat_statements` views.",
        "- Source statements: top-level statements in `pg_stat_statements` for the warehouse database "
        "(BEGIN/ROLLBACK included), reset before each run. Catalog statements: statements sent on the "
        "catalog engine (an executemany counts once). Peak RSS: sampled every 10 ms in the process that "
        "ran the run (for the DAG: the `dag.test()` process, Airflow included).",
        "- `dag.test()` runs the tasks one at a time in one process: the DAG figures show Airflow's "
        "per-task overhead, not the concurrency of mapped tasks under a real scheduler; `dag.test()` also "
        "sleeps 1 s whenever no task is ready (counted separately).",
        "- The no-change (incremental) and incremental runs are repeated (`--repeat`, default 3; each "
        "incremental repetition after a fresh 1 % change): the tables show the median.",
        "",
        "Commands:",
        "",
    ]
    lines += [f"- `{m['command']}` ({m['machine']['date']}, {m.get('total_s', '?')} s) → `{m['file']}`" for m in metas]
    lines += ["", "## Targets", "", "| target | figure | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {f} | {v} |" for t, f, v in targets(records)]
    lines += ["", "## Performance targets (2-core machine)", "", "| target | today | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {f} | {v} |" for t, f, v in performance_targets(records, metas,
                                                                       load_scheduler_records(results_dir))]
    lines += _profile_section(results_dir)
    lines += ["", "## Engine alone (`run_ingestion`, a thread per slot)", ""] + _size_table(records, "engine")
    cli = _cli_table(records)
    if cli:
        lines += ["", "## Whole process (`omingest run`, a fresh process per run: interpreter, imports, run)", ""]
        lines += cli
    lines += ["", "## Airflow DAG (`dag.test()`)", ""] + _size_table(records, "dag")
    tasks = [r for r in records if "per task" in r["layer"]]
    if tasks:
        lines += ["", "## Engine, one process per task (as Airflow runs them): peak RSS per task", "",
                  "| tables | wall s | units | largest unit (tables) | plan task MiB | largest unit task MiB "
                  "| unit task after imports MiB | delete+summary MiB |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in tasks:
            lines.append(f"| {r['tables']:,} | {r['wall_s']:.1f} | {r['units']} | {r['largest_unit_tables']:,} "
                         f"| {r['plan_task_max_rss_mib']:.0f} | {r['unit_task_max_rss_mib']:.0f} "
                         f"| {r['unit_task_rss_after_imports_mib']:.0f} | {r['delete_summary_peak_rss_mib']:.0f} |")
    for delay in sorted({r["delay_ms"] for r in records if r.get("matrix") == "threads"}):
        matrix = [r for r in records if r.get("matrix") == "threads" and r["delay_ms"] == delay]
        base = next((r["wall_s"] for r in matrix if r["threads"] == 1), None)
        lines += ["", f"## Threads (full run, {matrix[0]['tables']:,} tables, {delay:g} ms per round trip, "
                  "the same units for every thread count)",
                  "", "| threads | wall s | speed-up vs 1 | source stmts | units | peak RSS MiB |",
                  "|---:|---:|---:|---:|---:|---:|"]
        for r in sorted(matrix, key=lambda r: r["threads"]):
            sp = f"{base / r['wall_s']:.2f}×" if base else "—"
            lines.append(f"| {r['threads']} | {r['wall_s']:.2f} | {sp} | {r['source_statements']:,} | {r['units']} "
                         f"| {r['peak_rss_mib']:.0f} |")
    lines += ["", f"![time vs tables]({_link(png, md_path)})"]
    from benchmarks.peer_report import load_peer_records, peer_section, plot_peer

    peer_metas, peer_records = load_peer_records(results_dir)
    if peer_records:
        peer_png = results_dir / "datahub_side_by_side.png"
        plot_peer(peer_records, peer_png)
        lines += peer_section(peer_metas, peer_records, _link(peer_png, md_path))
    kept = _scheduler_section(md_path)
    if kept:
        lines += ["", kept]
    md_path.write_text("\n".join([*lines, ""]))
    return md_path, png


def _link(path: Path, md_path: Path) -> str:
    return str(path.relative_to(md_path.parent) if path.is_relative_to(md_path.parent) else path)


def _scheduler_section(md_path: Path) -> str:
    """The "Under a real scheduler" section written by :mod:`benchmarks.scheduler` (kept as it is)."""
    from benchmarks.scheduler import SECTION_END, SECTION_START

    text = md_path.read_text() if md_path.exists() else ""
    if SECTION_START not in text or SECTION_END not in text:
        return ""
    return SECTION_START + text.split(SECTION_START, 1)[1].split(SECTION_END, 1)[0] + SECTION_END


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    md = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent / "RESULTS.md"
    print(*write_report(folder, md))
