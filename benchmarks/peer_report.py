"""The "DataHub side by side" section of ``RESULTS.md`` and its plot, from ``peer-*.json`` files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from benchmarks.peer import OURS

__all__ = ["load_peer_records", "peer_section", "plot_peer"]

_LABELS = {"wall_s": "wall time", "cpu_s": "CPU (user+sys)", "peak_rss_mib": "peak RSS", "statements": "statements"}


def load_peer_records(results_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (metas, records) of every ``peer-*.json``, the newest record kept per (peer, tables, delay)."""
    metas, latest = [], {}
    for path in sorted(results_dir.glob("peer-*.json")):
        data = json.loads(path.read_text())
        meta = {**data["meta"], "file": path.name}
        metas.append(meta)
        for r in data["records"]:
            latest[(r["layer"], r["tables"], r["delay_ms"])] = {**r, "file": path.name, "meta": meta}
    return metas, sorted(latest.values(), key=lambda r: (r["layer"], r["tables"], r["delay_ms"]))


def _peer_of(record: dict[str, Any]) -> str:
    return record["layer"].split(":", 1)[1]


def _num(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def _ratio(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 1:
        return f"{v:.2f}"
    times = 1 / v
    return f"{v:.3f} ({times:.1f}× less)" if times < 10 else f"{v:.3f} ({times:.0f}× less)"


def _verdict(record: dict[str, Any]) -> str:
    c = record.get("comparison")
    if not c:
        return "not compared"
    if c["equal"]:
        return f"same ({c['tables']:,} tables, {c['views']:,} views, {c['columns']:,} columns)"
    return f"**DIFFERENT** ({len(c['differences'])} lines in the JSON)"


def peer_section(metas: list[dict[str, Any]], records: list[dict[str, Any]], png: str | None) -> list[str]:
    """Markdown lines of the section (empty without records)."""
    if not records:
        return []
    lines = ["", "## DataHub side by side", "",
             "omingest's CLI (`python -m airflow_provider_omingest.cli run --mode full`, SQLite catalog) and "
             "DataHub's ingestion (`Pipeline.create(recipe).run()`: `postgres` source, `file` sink, profiling off, "
             "telemetry off, DataHub's defaults otherwise, so view lineage is parsed) on the same generated "
             "warehouse through the same delay proxy, each as a whole process, back to back, `--repeat` rounds "
             "in alternating order. Medians; ratio = omingest / DataHub (below 1: omingest needs less). CPU: "
             "user + system time of the process tree (`wait4`); peak RSS: the process tree sampled every 20 ms; "
             "statements: top-level statements in `pg_stat_statements`; round trips: requests the proxy forwarded. "
             "Both results are compared after the first round: tables, views and their columns in order.", ""]
    for m in metas:
        pk = m["machine"].get("packages", {})
        lines.append(f"- `{m['command']}` ({m['machine']['date']}, {m.get('total_s', '?')} s; DataHub "
                     f"{pk.get('datahub')}, omingest {pk.get('airflow-provider-omingest')}, SQLAlchemy "
                     f"{pk.get('sqlalchemy')}; load average {m.get('loadavg_start', ['?'])[0]} at the start, "
                     f"{m.get('loadavg_end', ['?'])[0]} at the end) → `{m['file']}`")
    loads = [m.get(k, [0.0])[0] for m in metas for k in ("loadavg_start", "loadavg_end")
             if isinstance(m.get(k, [0.0])[0], (int, float))]
    cores = os.cpu_count() or 1
    if loads and max(loads) > cores:
        lines += [f"- The machine ({cores} cores) was shared with other work during these measurements (load "
                  f"average up to {max(loads):.1f}): absolute times are noisy and inflated, the load average of "
                  "each cell is in the JSON (`loadavg_before`/`_after`); alternation and medians keep the "
                  "comparison fair, not the absolute figures exact.", ""]
    else:
        lines += [f"- The machine was quiet during these measurements ({cores} cores; load average at most "
                  f"{max(loads, default=0.0):.1f}); the load average of each cell is in the JSON "
                  "(`loadavg_before`/`_after`).", ""]
    lines += ["| tables | delay ms | rounds | wall s omingest / DataHub | wall ratio | CPU s omingest / DataHub "
              "| CPU ratio | peak RSS MiB omingest / DataHub | RSS ratio | statements omingest / DataHub "
              "| statements ratio | round trips omingest / DataHub | same relations? |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in records:
        peer = _peer_of(r)
        a, b, q = r["median"][OURS], r["median"][peer], r["ratio"]
        lines.append(
            f"| {r['tables']:,} | {r['delay_ms']:g} | {r['repeat']} | {_num(a['wall_s'], 2)} / {_num(b['wall_s'], 2)} "
            f"| {_ratio(q['wall_s'])} | {_num(a['cpu_s'], 2)} / {_num(b['cpu_s'], 2)} | {_ratio(q['cpu_s'])} "
            f"| {_num(a['peak_rss_mib'], 0)} / {_num(b['peak_rss_mib'], 0)} | {_ratio(q['peak_rss_mib'])} "
            f"| {_num(a['statements'], 0)} / {_num(b['statements'], 0)} | {_ratio(q['statements'])} "
            f"| {_num(a['round_trips'], 0)} / {_num(b['round_trips'], 0)} | {_verdict(r)} |")
    lines += _missing_cells(records)
    differing = [r for r in records if r.get("comparison") and not r["comparison"]["equal"]]
    for r in differing:
        lines += ["", f"Differences at {r['tables']:,} tables:", ""]
        lines += [f"- {d}" for d in r["comparison"]["differences"]]
    if png:
        lines += ["", f"![omingest vs DataHub]({png})"]
    return lines


def _missing_cells(records: list[dict[str, Any]]) -> list[str]:
    """Estimates for the (size, delay) cells not measured, from the peer's round trips at a smaller delay.

    The round trips do not depend on the delay; where a size was measured at two delays, the
    extra wall time is set against round trips × delay, which shows whether they go one at a time.
    """
    out: list[str] = []
    by_cell = {(r["tables"], r["delay_ms"]): r for r in records}
    delays = sorted({r["delay_ms"] for r in records})
    for r in records:
        for d in delays:
            if r["delay_ms"] < d and (r["tables"], d) in by_cell:
                peer, other = _peer_of(r), by_cell[(r["tables"], d)]
                extra = other["median"][peer]["wall_s"] - r["median"][peer]["wall_s"]
                serial = r["median"][peer]["round_trips"] * (d - r["delay_ms"]) / 1000
                out += ["", f"At {r['tables']:,} tables DataHub took {extra:,.0f} s longer at {d:g} ms than at "
                        f"{r['delay_ms']:g} ms; its {r['median'][peer]['round_trips']:,} round trips × "
                        f"{d - r['delay_ms']:g} ms = {serial:,.0f} s: they go one at a time."]
    for r in records:
        for d in delays:
            if r["delay_ms"] < d and (r["tables"], d) not in by_cell:
                peer = _peer_of(r)
                trips = r["median"][peer]["round_trips"]
                estimate = r["median"][peer]["wall_s"] + trips * (d - r["delay_ms"]) / 1000
                out += ["", f"Not measured: {r['tables']:,} tables at {d:g} ms (one DataHub run would take about "
                        f"{estimate / 60:,.0f} min). Estimate from the {r['delay_ms']:g} ms runs: "
                        f"{r['median'][peer]['wall_s']:,.0f} s + {trips:,} round trips × {d - r['delay_ms']:g} ms "
                        f"≈ {estimate:,.0f} s for DataHub, if its round trips go one at a time as above; "
                        "an estimate, not a measurement."]
    return out


def plot_peer(records: list[dict[str, Any]], png: Path) -> None:
    """Two panels: median wall time of both tools per cell, and the four ratios per cell (log scales)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), dpi=120)
    cells = [f"{r['tables']:,} tables\n{r['delay_ms']:g} ms" for r in records]
    xs = range(len(records))
    width = 0.38
    peer = _peer_of(records[0])
    left.bar([x - width / 2 for x in xs], [r["median"][OURS]["wall_s"] for r in records], width, label="omingest CLI")
    left.bar([x + width / 2 for x in xs], [r["median"][peer]["wall_s"] for r in records], width, label="DataHub")
    left.set_yscale("log")
    left.yaxis.set_major_formatter(plain)
    left.set_xticks(list(xs), cells, fontsize=8)
    left.set_ylabel("median wall time, s (log)")
    left.set_title("whole process, same warehouse and proxy")
    left.legend(fontsize=8)
    left.grid(True, axis="y", which="both", alpha=0.3)
    metrics = list(_LABELS)
    w = 0.8 / len(metrics)
    for i, m in enumerate(metrics):
        right.bar([x - 0.4 + w * (i + 0.5) for x in xs], [r["ratio"][m] or 0 for r in records], w, label=_LABELS[m])
    right.axhline(1.0, color="black", linewidth=0.8)
    right.set_yscale("log")
    right.yaxis.set_major_formatter(plain)
    right.set_xticks(list(xs), cells, fontsize=8)
    right.set_ylabel("omingest / DataHub (log; below 1: omingest needs less)")
    right.set_title("ratios of the medians")
    right.legend(fontsize=8)
    right.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
