"""The parts of ``python -m benchmarks --scheduler`` that need no scheduler: options, DAG file, breakdown, report."""

from __future__ import annotations

import argparse
import ast

import pytest

from benchmarks.run import main as run_main
from benchmarks.scheduler import (
    SECTION_END,
    SECTION_START,
    breakdown,
    build_parser,
    dag_file,
    parse_executors,
    render_section,
    write_section,
)


def test_executors_are_parsed_and_unknown_ones_refused_by_name():
    assert parse_executors("local,celery") == ["local", "celery"]
    assert parse_executors(" celery ") == ["celery"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"--scheduler 'local,k8s': expected .*local, celery"):
        parse_executors("local,k8s")
    args = build_parser().parse_args(["--scheduler", "local", "--sizes", "1000,10000"])
    assert args.scheduler == ["local"] and args.sizes == [1000, 10000] and args.threads == 4


def test_python_m_benchmarks_hands_scheduler_runs_to_the_scheduler_harness(capsys):
    with pytest.raises(SystemExit):
        run_main(["--scheduler", "nope"])
    assert "--scheduler 'nope'" in capsys.readouterr().err


def test_the_dag_file_defines_one_dag_per_size_with_its_own_connections():
    text = dag_file([10000, 1000], threads=4, tables_per_unit=1000, pool="omingest_bench")
    tree = ast.parse(text)  # valid Python
    loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For))
    assert ast.literal_eval(loop.iter) == [1000, 10000]
    assert 'source_conn_id=f"bench_warehouse_{tables}"' in text and 'catalog_conn_id=f"bench_catalog_{tables}"' in text
    assert 'pool="omingest_bench"' in text and "threads=4" in text and "retries=0" in text


def _ti(task_id, map_index, queued, start, end):
    iso = "2026-12-02T08:00:{:06.3f}Z".format
    return {"task_id": task_id, "map_index": map_index, "queued_when": iso(queued) if queued is not None else None,
            "start_date": iso(start), "end_date": iso(end)}


def test_breakdown_measures_scheduling_from_the_upstream_end_queue_and_run():
    tis = [
        _ti("plan", -1, 0.0, 1.0, 3.0),
        _ti("unit.extract", 0, 4.0, 4.5, 10.0),
        _ti("unit.extract", 1, 5.0, 7.0, 9.0),
        _ti("unit.update", 0, 11.0, 11.5, 12.0),   # after extract 0 (10.0): 1.0 s scheduling
        _ti("unit.update", 1, 9.5, 10.0, 11.0),    # after extract 1 (9.0): 0.5 s
        _ti("delete", -1, 13.0, 13.2, 13.4),       # after the last update (12.0)
        _ti("summary", -1, None, 14.0, 15.0),      # never queued (e.g. run by dag.test): no scheduling/queue
    ]
    assert breakdown(tis)["plan"]["scheduling_median_s"] is None  # no run start given
    b = breakdown(tis, run_start="2026-12-02T07:59:59.500Z")
    assert list(b) == ["plan", "unit.extract", "unit.update", "delete", "summary"]
    assert b["plan"]["scheduling_median_s"] == 0.5 and b["plan"]["queue_median_s"] == 1.0
    assert b["unit.extract"]["count"] == 2
    assert b["unit.extract"]["scheduling_median_s"] == 1.5 and b["unit.extract"]["scheduling_max_s"] == 2.0
    assert b["unit.extract"]["queue_max_s"] == 2.0 and b["unit.extract"]["run_sum_s"] == 7.5
    assert b["unit.update"]["scheduling_median_s"] == 0.75 and b["unit.update"]["scheduling_max_s"] == 1.0
    assert b["delete"]["scheduling_median_s"] == 1.0
    assert b["summary"]["queue_median_s"] is None and b["summary"]["run_median_s"] == 1.0


def test_the_section_is_rendered_and_replaces_the_previous_one(tmp_path):
    record = {"executor": "celery", "tables": 1000, "units": 3, "wall_s": 40.0, "engine_s": 1.5,
              "task_instances": 9, "task_run_sum_s": 30.0,
              "breakdown": breakdown([_ti("plan", -1, 0.0, 1.0, 3.0)])}
    meta = {"command": "python -m benchmarks --scheduler celery", "date": "2026-12-02T08:00:00+00:00",
            "total_s": 100.0, "cores": 2, "load_before": "1.00 / 1.00 / 1.00", "load_after": "2.00 / 1.50 / 1.00"}
    section = render_section([record], meta)
    assert "| 1,000 | celery | 3 | 40.0 | 1.5 | 38.5 | 9 | 30.0 |" in section
    assert "| 1,000 | celery | plan | 1 | – | 1.0 / 1.0 | 2.0 / 2.0 |" in section
    assert "load average 1.00 / 1.00 / 1.00 before" in section

    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\n## Targets\nkept\n")
    write_section(md, section)
    write_section(md, section.replace("40.0", "41.0"))
    text = md.read_text()
    assert text.count(SECTION_START) == 1 and text.count(SECTION_END) == 1
    assert "## Targets\nkept" in text and "| 41.0 |" in text and "| 40.0 |" not in text


def test_regenerating_the_report_keeps_the_scheduler_section(tmp_path):
    from benchmarks.report import _scheduler_section

    md = tmp_path / "RESULTS.md"
    md.write_text(f"# old report\n\n{SECTION_START}\n## Under a real scheduler\nfigures\n{SECTION_END}\n")
    assert _scheduler_section(md) == f"{SECTION_START}\n## Under a real scheduler\nfigures\n{SECTION_END}"
    md.write_text("# no section\n")
    assert _scheduler_section(md) == ""
