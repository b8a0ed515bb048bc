"""The report's performance targets: each row's figure and verdict come from the recorded runs."""

from __future__ import annotations

import json

from benchmarks.report import _profile_section, load_scheduler_records, performance_targets


def _verdict(rows, prefix):
    return next((figure, verdict) for target, figure, verdict in rows if target.startswith(prefix))


def test_no_records_means_not_measured_never_met():
    rows = performance_targets([], [], [])
    assert rows and all(verdict == "not measured" for _, _, verdict in rows)


def test_the_scheduler_overhead_is_the_dag_run_against_the_engine(tmp_path):
    records = [{"executor": "local", "tables": 10000, "status": "success", "wall_s": 12.0, "engine_s": 10.0},
               {"executor": "celery", "tables": 10000, "status": "success", "wall_s": 40.0, "engine_s": 10.0}]
    (tmp_path / "scheduler-20261202T000000Z.json").write_text(json.dumps({"meta": {}, "records": records}))
    figure, verdict = _verdict(performance_targets([], [], load_scheduler_records(tmp_path)), "DAG under")
    assert verdict == "met" and "+20%" in figure
    records[0]["wall_s"] = 22.4
    figure, verdict = _verdict(performance_targets([], [], records), "DAG under")
    assert verdict == "NOT met" and "+124%" in figure


def test_a_failed_scheduler_run_is_not_a_figure():
    records = [{"executor": "local", "tables": 10000, "status": "failed", "wall_s": 1.0, "engine_s": 10.0}]
    assert _verdict(performance_targets([], [], records), "DAG under")[1] == "not measured"


def test_the_profile_section_shows_before_and_each_part(tmp_path):
    assert _profile_section(tmp_path) == []
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "20x500x20-full.json").write_text(json.dumps({
        "shape": "20x500x20", "scenario": "full", "threads": 1, "date": "2026-12-02T11:00:00+00:00", "load": 1.2,
        "wall_s": 5.0, "cpu_s": 3.0, "buckets": {"catalog write (SqlCatalog.apply)": {"s": 1.5, "share": 0.3}},
    }))
    text = "\n".join(_profile_section(tmp_path))
    assert "Before (2026-11-21): 7.6 s Python CPU" in text
    assert "| catalog write (SqlCatalog.apply) | 1.50 | 30% |" in text
    assert "5.00 s wall, 3.00 s CPU" in text


def test_statements_follow_units_not_tables():
    from benchmarks.report import statements_follow_units

    # Today's shape: setup once per process, so statements per unit fall with size.
    assert statements_follow_units([4.0, 3.4, 2.3], [0.020, 0.004, 0.002])
    # A source that sends statements per table: per unit they grow with the tables of a unit.
    assert not statements_follow_units([4.0, 9.0, 30.0], [0.020, 0.009, 0.003])
    # Per table must fall as the warehouse grows.
    assert not statements_follow_units([4.0, 4.0], [0.02, 0.02])
