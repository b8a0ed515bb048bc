"""Incremental runs end to end in the engine: correctness against a full run, and the margin."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.engine.summary import MemoryWatermarks
from airflow_provider_omingest.exceptions import IncrementalUnsupported
from airflow_provider_omingest.models.run import RunRequest
from tests.support.changelog_source import ChangeLogSource, ChangeLogWarehouse, make_table

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


@pytest.fixture
def wh() -> ChangeLogWarehouse:
    w = ChangeLogWarehouse(now=T0)
    for s in ("a", "b", "c"):
        for i in range(10):
            w.put("db", s, make_table(f"t{i}"))
    w.log.clear()
    return w


class Ingestion:
    """Runs ingestions like the DAG does: the watermark advances only after a successful run."""

    def __init__(self, wh, catalog, **settings):
        self.wh, self.catalog, self.store = wh, catalog, MemoryWatermarks()
        self.settings = IngestionSettings(service="svc", threads=2, **settings)
        self.runs = 0

    @property
    def watermark(self):
        return self.store.value

    def run(self, **kw):
        self.runs += 1
        return run_ingestion(lambda: ChangeLogSource(self.wh), self.catalog, self.settings,
                             RunRequest(run_id=f"run{self.runs}", **kw), watermarks=self.store)


def _state(catalog):
    return {t["fqn"]: catalog.get(t["fqn"])["fingerprint"] for t in catalog.list_tables("svc")}


def test_incremental_matches_a_full_run_and_fetches_only_changes(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'inc.db'}")
    ing = Ingestion(wh, catalog)
    first = ing.run()
    assert first.mode == "full" and first.tables_fetched == 30

    wh.tick(H)
    wh.put("db", "a", make_table("t1", columns=4))          # altered
    wh.put("db", "a", make_table("t2", comment="new"))      # commented
    wh.drop("db", "b", "t3")                                # dropped
    wh.put("db", "b", make_table("new_table"))              # created
    wh.drop("db", "c", "t4")                                # dropped and re-created in the window
    wh.put("db", "c", make_table("t4", columns=5))
    wh.rename("db", "c", "t5", "t5_renamed")                # renamed
    wh.tick(H)
    second = ing.run()
    assert second.mode == "incremental" and second.change_method == "test change log"
    assert second.since == T0 - H  # watermark (run 1's clock) minus the default margin
    assert second.tables_fetched == 5  # t1, t2, new_table, t4, t5_renamed (t3 asked for, not found)
    # unchanged: the 30 catalogued tables minus 3 updated and 1 deleted (t5's old name is still live)
    assert second.totals == {"created": 2, "updated": 3, "deleted": 1, "unchanged": 26}
    assert sorted(u for u in wh.fetched) == ["a", "b", "c"]

    live = {f for f, _ in _state(catalog).items() if not catalog.get(f)["deleted"]}
    assert "svc.db.c.t4" in live and "svc.db.c.t5_renamed" in live
    assert "svc.db.b.t3" not in live
    # The rename's old name is not in the change log: only a full run can see it vanished.
    assert "svc.db.c.t5" in live

    full = SqlCatalog(f"sqlite:///{tmp_path / 'full.db'}")
    Ingestion(wh, full).run(requested_mode="full")
    expected = {f: fp for f, fp in _state(full).items() if not full.get(f)["deleted"]}
    got = {f: fp for f, fp in _state(catalog).items() if not catalog.get(f)["deleted"]}
    assert {f: fp for f, fp in got.items() if f != "svc.db.c.t5"} == expected

    third = ing.run(requested_mode="full")  # a full re-sync removes the renamed table's old name
    assert third.totals.get("deleted") == 1 and catalog.get("svc.db.c.t5")["deleted"]


def test_the_margin_catches_a_change_the_audit_view_showed_late(wh, tmp_path):
    wh.audit_lag = timedelta(minutes=30)
    for margin, expect_found in ((timedelta(0), False), (H, True)):
        catalog = SqlCatalog(f"sqlite:///{tmp_path / f'm{margin.seconds}.db'}")
        ing = Ingestion(wh, catalog, safety_margin=margin)
        ing.run()                                           # full, watermark = T
        wh.tick(H)
        wh.put("db", "a", make_table("t0", columns=9))     # at T+1h
        wh.tick(timedelta(minutes=5))
        hidden = ing.run()                                  # the view lags: nothing visible yet
        assert hidden.mode == "incremental" and hidden.tables_fetched == 0
        wh.tick(H)
        found = ing.run()                                   # since = watermark - margin
        assert (found.totals.get("updated") == 1) is expect_found
        assert (catalog.get("svc.db.a.t0")["columns"].__len__() == 9) is expect_found
        wh.put("db", "a", make_table("t0"))                 # reset for the next margin
        wh.log.clear()


def test_failed_incremental_then_success_misses_nothing(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    ing = Ingestion(wh, catalog)
    ing.run()
    wh.tick(H)
    wh.put("db", "a", make_table("t1", columns=7))
    wh.put("db", "b", make_table("t1", columns=7))
    wh.failing_schemas = {"a"}
    wh.tick(H)
    failed = ing.run()
    assert failed.status == "failed" and failed.failed_units
    watermark_after_failure = ing.watermark
    assert watermark_after_failure == T0  # not advanced
    wh.failing_schemas = set()
    wh.tick(3 * H)
    wh.put("db", "c", make_table("t1", columns=7))
    ok = ing.run()
    assert ok.status == "success" and ok.since == T0 - H
    for s in "abc":
        assert len(catalog.get(f"svc.db.{s}.t1")["columns"]) == 7


def test_schema_created_and_dropped_in_the_window(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    ing = Ingestion(wh, catalog, max_delete_fraction=0.5)
    ing.run()
    wh.tick(H)
    wh.create_schema("db", "fresh")
    for i in range(3):
        wh.put("db", "fresh", make_table(f"f{i}"))
    wh.drop_schema("db", "c")
    wh.tick(H)
    s = ing.run()
    assert s.mode == "incremental"
    assert s.schemas["fresh"]["created"] == 3
    assert s.totals["deleted"] == 10
    assert catalog.list_schemas("svc", "db") == ["a", "b", "fresh"]


def test_unreadable_change_log_falls_back_to_full_or_fails_when_incremental_is_required(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    ing = Ingestion(wh, catalog)
    ing.run()
    wh.log_readable = False
    wh.tick(H)
    auto = ing.run()
    assert auto.mode == "full" and "missing grant" in auto.mode_reason
    with pytest.raises(IncrementalUnsupported, match="missing grant"):
        ing.run(requested_mode="incremental")


def test_incremental_requested_without_watermark_fails_clearly(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(IncrementalUnsupported, match="no successful run"):
        Ingestion(wh, catalog).run(requested_mode="incremental")


def test_source_default_margin_applies_unless_overridden(wh, tmp_path):
    from airflow_provider_omingest.sources.snowflake.source import SnowflakeSource

    assert SnowflakeSource.default_safety_margin == 4 * H  # ACCOUNT_USAGE lags up to ~3 h

    class LaggingLogSource(ChangeLogSource):
        default_safety_margin = 4 * H

    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    settings = IngestionSettings(service="svc")
    # The watermark is the catalog's (the last successful run's), as `omingest run` keeps it.
    first = run_ingestion(lambda: LaggingLogSource(wh), catalog, settings)
    assert first.mode == "full" and first.watermark == first.source_clock
    second = run_ingestion(lambda: LaggingLogSource(wh), catalog, settings)
    assert second.mode == "incremental" and second.since == first.source_clock - 4 * H
    override = settings.model_copy(update={"safety_margin": timedelta(minutes=30)})
    third = run_ingestion(lambda: LaggingLogSource(wh), catalog, override)
    assert third.since == second.source_clock - timedelta(minutes=30)
    per_run = run_ingestion(lambda: LaggingLogSource(wh), catalog, override,
                            RunRequest(run_id="r", safety_margin=2 * H))
    assert per_run.since == third.source_clock - 2 * H


def test_views_of_a_renamed_or_dropped_table_are_fetched_again(wh, tmp_path):
    from airflow_provider_omingest.models.entities import TableType, TableUpstream

    def view(name, *reads):
        return make_table(name).model_copy(update={
            "table_type": TableType.VIEW, "view_definition": f"select * from {', '.join(reads)}",
            "upstreams": tuple(TableUpstream(table=f"db.{r}") for r in reads)})

    wh.put("db", "a", view("v_renamed", "b.t3"))
    wh.put("db", "a", view("v_dropped", "b.t4", "b.t5"))
    wh.put("db", "c", view("v_other", "b.t6"))
    wh.log.clear()
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'lineage.db'}")
    ing = Ingestion(wh, catalog)
    ing.run()
    assert [e.downstream for e in catalog.lineage("svc.db.b.t3").downstream] == ["svc.db.a.v_renamed"]

    wh.tick(H)
    # A rename the change log reports as the old name gone and the new one created.
    wh.drop("db", "b", "t3")
    wh.put("db", "b", make_table("t3_new"))
    # Like PostgreSQL, the view follows the renamed table without a DDL of its own (no log entry).
    wh.schemas[("db", "a")]["v_renamed"] = view("v_renamed", "b.t3_new")
    wh.drop("db", "b", "t4")
    wh.tick(H)
    second = ing.run()

    assert second.mode == "incremental"
    # t3_new, and the two views of the dropped and renamed tables; v_other is left alone.
    assert second.tables_fetched == 3
    assert any("2 view(s) read a dropped or renamed table" in n for n in second.notes)
    assert [e.upstream for e in catalog.lineage("svc.db.a.v_renamed").upstream] == ["svc.db.b.t3_new"]
    assert "upstreams" in catalog.history("svc.db.a.v_renamed")[-1].changes
    assert [e.upstream for e in catalog.lineage("svc.db.a.v_dropped").upstream] == ["svc.db.b.t5"]
    assert [e.downstream for e in catalog.lineage("svc.db.b.t6").downstream] == ["svc.db.c.v_other"]


def test_a_view_whose_sql_did_not_parse_is_kept_and_counted(wh, tmp_path):
    from airflow_provider_omingest.models.entities import TableType

    broken = make_table("v_broken").model_copy(update={
        "table_type": TableType.VIEW, "view_definition": "select ((", "lineage_unparsed": "Expecting )"})
    wh.put("db", "a", broken)
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'unparsed.db'}")
    summary = Ingestion(wh, catalog).run()

    assert summary.totals["lineage_unparsed"] == 1 and summary.schemas["a"]["lineage_unparsed"] == 1
    assert "lineage_unparsed: 1 view(s) kept without lineage" in summary.table()
    stored = catalog.get("svc.db.a.v_broken")
    assert stored["view_definition"] == "select ((" and len(stored["columns"]) == 3
    assert stored["lineage_unparsed"] == "Expecting )"
