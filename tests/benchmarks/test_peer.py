"""The DataHub side-by-side harness, without DataHub: parsing its output, comparing, summarising.

``data/datahub_file_sink.json`` is written by hand in the shape of DataHub's file sink (one JSON
array of records; DataHub's ``metadata-ingestion/sink_docs/file.md``): MetadataChangeProposals
with the aspect as ``{"json": ...}`` or as ``{"value": "<json>", "contentType":
"application/json"}`` (``docs/advanced/mcp-mcl.md``: GenericAspect), and a MetadataChangeEvent
whose DatasetSnapshot carries the ``SchemaMetadata``, as acryl-datahub 1.7's postgres source
writes a table. The test marked ``peer`` runs the real DataHub and is left out unless selected
with ``-m peer`` (see conftest.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from benchmarks import datahub
from benchmarks.compare import Relation, catalog_relations, diff_relations
from benchmarks.peer import OURS, omingest_command, run_order, summarize
from benchmarks.peer_report import load_peer_records, peer_section
from benchmarks.process_tree import measure_process

DATA = Path(__file__).parent / "data"


def test_file_sink_output_gives_tables_views_and_columns_from_mces_and_mcps():
    relations = datahub.parse_file_sink(DATA / "datahub_file_sink.json")
    assert relations == {
        ("wh", "s0000", "t00000"): Relation("table", ("id", "c001", "c002")),
        ("wh", "s0000", "t00001"): Relation("view", ("id", "c001")),
    }


def test_a_dataset_with_a_subtype_but_no_schema_is_an_error(tmp_path):
    records = json.loads((DATA / "datahub_file_sink.json").read_text())
    out = tmp_path / "out.json"
    out.write_text(json.dumps([r for r in records if r.get("aspectName") != "schemaMetadata"]))
    with pytest.raises(ValueError, match=r"without schemaMetadata, e\.g\. urn:li:dataset:.*t00001"):
        datahub.parse_file_sink(out)


def test_a_dataset_name_that_is_not_database_schema_table_is_an_error(tmp_path):
    out = tmp_path / "out.json"
    out.write_text(json.dumps([{"entityType": "dataset", "changeType": "UPSERT", "aspectName": "schemaMetadata",
                                "entityUrn": "urn:li:dataset:(urn:li:dataPlatform:mysql,db.orders,PROD)",
                                "aspect": {"json": {"fields": [{"fieldPath": "id"}]}}}]))
    with pytest.raises(ValueError, match=r"db\.orders.*database\.schema\.table"):
        datahub.parse_file_sink(out)


def test_equal_relations_have_no_differences():
    a = {("wh", "s", "t"): Relation("table", ("id", "x")), ("wh", "s", "v"): Relation("view", ("id",))}
    assert diff_relations(a, dict(a)) == []


def test_every_kind_of_difference_is_listed():
    ours = {("wh", "s", "only_ours"): Relation("table", ("id",)),
            ("wh", "s", "kind"): Relation("table", ("id",)),
            ("wh", "s", "cols"): Relation("table", ("id", "a", "b")),
            ("wh", "s", "order"): Relation("table", ("id", "a"))}
    theirs = {("wh", "s", "only_theirs"): Relation("view", ("id",)),
              ("wh", "s", "kind"): Relation("view", ("id",)),
              ("wh", "s", "cols"): Relation("table", ("id", "a", "c")),
              ("wh", "s", "order"): Relation("table", ("a", "id"))}
    assert diff_relations(ours, theirs) == [
        "wh.s.only_ours: only in omingest (table)",
        "wh.s.only_theirs: only in datahub (view)",
        "wh.s.cols: columns differ, only in omingest: b; only in datahub: c",
        "wh.s.kind: a table in omingest, a view in datahub",
        "wh.s.order: columns differ, same columns in another order (omingest: id, a; datahub: a, id)",
    ]


def test_a_long_list_of_differences_is_cut_with_a_count():
    ours = {("wh", "s", f"t{i}"): Relation("table", ("id",)) for i in range(60)}
    lines = diff_relations(ours, {}, limit=50)
    assert len(lines) == 51 and lines[-1] == "... and 10 more differences"


def test_rounds_alternate_which_tool_goes_first():
    assert run_order(3, "datahub") == [(0, OURS), (0, "datahub"), (1, "datahub"), (1, OURS),
                                       (2, OURS), (2, "datahub")]
    assert run_order(0, "datahub") == []


def test_summary_takes_medians_and_divides_ours_by_theirs():
    def sample(tool, wall, cpu, rss, stmts):
        return {"tool": tool, "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss, "statements": stmts,
                "round_trips": stmts + 10}

    samples = [sample(OURS, 2.0, 1.0, 100, 36), sample("datahub", 50.0, 20.0, 300, 4860),
               sample("datahub", 40.0, 30.0, 310, 4860), sample(OURS, 9.0, 1.2, 110, 36),
               sample(OURS, 1.0, 1.1, 105, 36), sample("datahub", 60.0, 25.0, 290, 4860)]
    s = summarize(samples, "datahub")
    assert s["runs"] == {OURS: 3, "datahub": 3}
    assert s["median"][OURS] == {"wall_s": 2.0, "cpu_s": 1.1, "peak_rss_mib": 105, "statements": 36,
                                 "round_trips": 46}
    assert s["median"]["datahub"]["wall_s"] == 50.0 and s["median"]["datahub"]["peak_rss_mib"] == 300
    assert s["ratio"] == {"wall_s": 0.04, "cpu_s": 0.044, "peak_rss_mib": 0.35, "statements": 0.0074,
                          "round_trips": 0.0094}


def test_summary_of_an_even_number_of_runs_averages_the_middle_two():
    samples = [{"tool": t, "wall_s": w, "cpu_s": 1.0, "peak_rss_mib": 1.0, "statements": 1, "round_trips": 1}
               for t, w in [(OURS, 1.0), (OURS, 3.0), ("datahub", 10.0), ("datahub", 30.0)]]
    s = summarize(samples, "datahub")
    assert s["median"][OURS]["wall_s"] == 2.0 and s["median"]["datahub"]["wall_s"] == 20.0
    assert s["ratio"]["wall_s"] == 0.1


def test_venv_is_built_with_uv_when_there_is_one(tmp_path):
    home = tmp_path / "datahub-1.7.0.17-py3.11"
    assert datahub.install_commands(home, version="1.7.0.17", base_python="/usr/bin/python3", uv="/x/uv") == [
        ["/x/uv", "venv", "--quiet", "--python", "/usr/bin/python3", str(home)],
        ["/x/uv", "pip", "install", "--quiet", "--python", str(home / "bin" / "python"),
         "acryl-datahub[postgres]==1.7.0.17"],
    ]


def test_venv_is_built_with_venv_and_pip_without_uv(tmp_path):
    home = tmp_path / "dh"
    assert datahub.install_commands(home, version="1.7.0.17", base_python="/usr/bin/python3", uv=None) == [
        ["/usr/bin/python3", "-m", "venv", str(home)],
        [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "acryl-datahub[postgres]==1.7.0.17"],
    ]


def test_venv_folder_names_the_version_and_python(tmp_path):
    home = datahub.venv_home(tmp_path, "1.7.0.17")
    assert home == tmp_path / f"datahub-1.7.0.17-py{sys.version_info.major}.{sys.version_info.minor}"
    assert datahub.venv_home(None).parent == datahub.REPO / ".omingest" / "peers"


def test_an_existing_build_is_reused_without_installing(tmp_path, monkeypatch):
    home = datahub.venv_home(tmp_path)
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "python").write_text("")
    (home / "build.json").write_text(json.dumps({"version": "1.7.0.17", "install_seconds": 12.0}))
    monkeypatch.setattr(datahub, "_run", lambda command: pytest.fail(f"ran {command}"))
    assert datahub.ensure_venv(tmp_path) == (home / "bin" / "python", {"version": "1.7.0.17", "install_seconds": 12.0})


def test_recipe_reads_postgres_without_profiling_into_a_file(tmp_path):
    r = datahub.recipe(host="127.0.0.1", port=5999, database="wh", username="postgres", out_file=tmp_path / "o.json")
    assert r == {"source": {"type": "postgres", "config": {"host_port": "127.0.0.1:5999", "database": "wh",
                                                           "username": "postgres", "profiling": {"enabled": False}}},
                 "sink": {"type": "file", "config": {"filename": str(tmp_path / "o.json")}}}


def test_datahub_runs_with_telemetry_off_and_none_of_our_environment():
    env = datahub.datahub_env({"PATH": "/bin", "PYTHONPATH": "/repo", "VIRTUAL_ENV": "/repo/.venv",
                               "DATAHUB_TELEMETRY_ENABLED": "true"})
    assert env == {"PATH": "/bin", "DATAHUB_TELEMETRY_ENABLED": "false"}
    command = datahub.pipeline_command(Path("/v/bin/python"), Path("/w/recipe.json"))
    assert command[0] == "/v/bin/python" and command[-1] == "/w/recipe.json"
    assert "Pipeline.create" in command[2] and "raise_from_status" in command[2]


def test_our_side_is_the_cli_as_a_whole_process():
    assert omingest_command("postgresql+psycopg://u@h:1/wh", "sqlite:///c.db", 4) == [
        sys.executable, "-m", "airflow_provider_omingest.cli", "run", "--source", "postgresql+psycopg://u@h:1/wh",
        "--catalog", "sqlite:///c.db", "--service", "bench", "--mode", "full", "--threads", "4"]


def test_a_process_tree_is_measured_whole(tmp_path):
    # The parent spins for 0.3 s of CPU; its child holds 120 MiB for a while: both count.
    child = "b = bytearray(120 * 2**20); import time; time.sleep(0.6)"
    parent = ("import subprocess, sys, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
              "t = time.process_time()\n"
              "while time.process_time() - t < 0.3: pass\n"
              "p.wait(); print('done')\n")
    m = measure_process([sys.executable, "-c", parent], stdout=tmp_path / "out.log")
    assert m.returncode == 0 and (tmp_path / "out.log").read_text() == "done\n"
    assert m.peak_rss_mib >= 120 + 5 and m.max_single_rss_mib >= 120
    assert m.cpu_s >= 0.3 and m.wall_s >= 0.6


def test_a_failing_process_reports_its_exit_code():
    assert measure_process([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3


def test_catalog_relations_read_what_the_cli_wrote(pg_server, tmp_path):
    from benchmarks.warehouse import WarehouseShape, generate

    url = pg_server.create_database("peer_catalog_read")
    generate(f"host=127.0.0.1 port={pg_server.port} user=postgres dbname=peer_catalog_read",
             WarehouseShape(schemas=1, tables=10, columns=3))
    catalog = f"sqlite:///{tmp_path / 'catalog.db'}"
    source = url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    m = measure_process(omingest_command(source, catalog, 2), stdout=tmp_path / "cli.log")
    assert m.returncode == 0, (tmp_path / "cli.log").read_text()
    relations = catalog_relations(catalog, "bench")
    assert relations[("peer_catalog_read", "s0000", "t00000")] == Relation("table", ("id", "c001", "c002"))
    assert relations[("peer_catalog_read", "s0000", "t00009")] == Relation("view", ("id", "c001", "c002"))
    # The database also has pg_stat_statements (as the benchmark's warehouses do): two views in public.
    assert relations[("peer_catalog_read", "public", "pg_stat_statements_info")].kind == "view"
    assert len(relations) == 10 + 2 and sum(r.kind == "view" for r in relations.values()) == 1 + 2


def _record(tables, delay, *, equal=True):
    median = {OURS: {"wall_s": 2.0, "cpu_s": 1.5, "peak_rss_mib": 130.0, "statements": 36, "round_trips": 51},
              "datahub": {"wall_s": 40.0, "cpu_s": 20.0, "peak_rss_mib": 390.0, "statements": 4860,
                          "round_trips": 4900}}
    return {"layer": "peer:datahub", "tables": tables, "delay_ms": delay, "repeat": 3, "median": median,
            "ratio": summarize([], "datahub")["ratio"] | {"wall_s": 0.05, "cpu_s": 0.075, "peak_rss_mib": 0.3333,
                                                          "statements": 0.0074},
            "comparison": {"equal": equal, "differences": [] if equal else ["wh.s.t: only in omingest (table)"],
                           "tables": 900, "views": 100, "columns": 19000}}


def test_the_report_section_shows_ratios_a_lower_bound_for_a_missing_cell_and_differences(tmp_path):
    meta = {"command": "python -m benchmarks --peer datahub", "total_s": 100.0, "loadavg_start": [1.0],
            "loadavg_end": [2.0], "machine": {"date": "2026-12-02T08:00:00+00:00",
                                              "packages": {"datahub": "1.7.0.17"}}}
    (tmp_path / "peer-20261202T080000Z.json").write_text(json.dumps(
        {"meta": meta, "records": [_record(1000, 0.0), _record(1000, 50.0, equal=False), _record(10000, 0.0)]}))
    metas, records = load_peer_records(tmp_path)
    text = "\n".join(peer_section(metas, records, "datahub_side_by_side.png"))
    assert "| 1,000 | 0 | 3 | 2.00 / 40.00 | 0.050 (20× less) |" in text
    assert "same (900 tables, 100 views, 19,000 columns)" in text and "**DIFFERENT**" in text
    assert "- wh.s.t: only in omingest (table)" in text
    assert "Not measured: 10,000 tables at 50 ms" in text and "40 s + 4,900 round trips × 50 ms ≈ 285 s" in text
    assert "DataHub 1.7.0.17" in text and "![omingest vs DataHub](datahub_side_by_side.png)" in text


def test_the_report_draws_the_peer_plot(tmp_path):
    from benchmarks.report import write_report

    meta = {"command": "c", "machine": {"date": "d", "packages": {}}}
    (tmp_path / "peer-1.json").write_text(json.dumps({"meta": meta, "records": [_record(1000, 0.0)]}))
    md, _ = write_report(tmp_path, tmp_path / "RESULTS.md")
    assert "## DataHub side by side" in md.read_text()
    assert (tmp_path / "datahub_side_by_side.png").stat().st_size > 1000


@pytest.mark.peer
def test_datahub_and_omingest_extract_the_same_relations(tmp_path):
    """Installs DataHub (once, into .omingest/peers) and runs the comparison on a small warehouse."""
    from benchmarks.run import main

    started = time.monotonic()
    out, md = tmp_path / "results", tmp_path / "RESULTS.md"
    assert main(["--peer", "datahub", "--shape", "2x10x5", "--peer-delay-ms", "0", "--repeat", "2",
                 "--out", str(out), "--results-md", str(md)]) == 0
    (path,) = out.glob("peer-*.json")
    (record,) = json.loads(path.read_text())["records"]
    assert record["comparison"]["equal"], record["comparison"]["differences"]
    assert record["comparison"]["views"] == 2 + 2  # one in ten per schema, and pg_stat_statements' two
    assert [s["tool"] for s in record["samples"]] == [OURS, "datahub", "datahub", OURS]
    assert record["ratio"]["statements"] < 1 and record["median"]["datahub"]["statements"] > 0
    assert "## DataHub side by side" in md.read_text()
    assert time.monotonic() - started < 600
