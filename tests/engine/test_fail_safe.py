"""The fail-safe and the deletion scope hold in every mode; vanished databases; unreadable changes.

The scope of the fail-safe is the live catalog tables inside the filters before the run, the
same in full and incremental runs, whatever the source counts outside the filters.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.engine.summary import MemoryWatermarks
from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.run import RunRequest
from tests.support.changelog_source import ChangeLogSource, ChangeLogWarehouse, make_table

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


class Runs:
    def __init__(self, wh: ChangeLogWarehouse, catalog: SqlCatalog, **settings):
        self.wh, self.catalog, self.store, self.n = wh, catalog, MemoryWatermarks(), 0
        self.settings = IngestionSettings(service="svc", threads=2, **settings)

    def run(self, **request):
        self.n += 1
        self.wh.tick(H)
        return run_ingestion(lambda: ChangeLogSource(self.wh), self.catalog, self.settings,
                             RunRequest(run_id=f"r{self.n}", **request), watermarks=self.store)

    def live(self) -> set[str]:
        return {t["fqn"] for t in self.catalog.list_tables("svc")}


@pytest.fixture
def catalog(tmp_path):
    with SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}") as c:
        yield c


@pytest.mark.parametrize("mode", ["full", "auto"])
def test_filtered_out_tables_do_not_dilute_the_scope(catalog, mode):
    """20 ingested tables beside 200 filtered-out tmp_ tables: dropping 18 of the 20 is refused."""
    wh = ChangeLogWarehouse(now=T0)
    for i in range(20):
        wh.put("db", "s", make_table(f"t{i:02}"))
    for i in range(200):
        wh.put("db", "s", make_table(f"tmp_{i}"))
    runs = Runs(wh, catalog, filters={"table": {"exclude": ["^tmp_"]}})
    assert runs.run().totals["created"] == 20
    for i in range(18):
        wh.drop("db", "s", f"t{i:02}")
    with pytest.raises(DeletionRefused, match=r"18 of 20 tables in scope \(90.0%\)"):
        runs.run(requested_mode=mode)
    assert len(runs.live()) == 20  # nothing was deleted
    confirmed = runs.run(requested_mode=mode, confirm_delete=True)
    assert confirmed.totals["deleted"] == 18 and len(runs.live()) == 2


@pytest.mark.parametrize("mode", ["full", "auto"])
def test_same_scope_in_full_and_incremental_runs(catalog, mode):
    wh = ChangeLogWarehouse(now=T0)
    for s in "abc":
        for i in range(10):
            wh.put("db", s, make_table(f"t{i}"))
    runs = Runs(wh, catalog)
    runs.run()
    for i in range(9):
        wh.drop("db", "a", f"t{i}")
        wh.drop("db", "b", f"t{i}")
        wh.drop("db", "c", f"t{i}")
    with pytest.raises(DeletionRefused, match=r"27 of 30 tables in scope \(90.0%\)"):
        runs.run(requested_mode=mode)
    assert len(runs.live()) == 30


@pytest.mark.parametrize("mode", ["full", "auto"])
def test_three_of_ten_is_refused_in_every_mode(catalog, mode):
    wh = ChangeLogWarehouse(now=T0)
    for i in range(10):
        wh.put("db", "s", make_table(f"t{i}"))
    runs = Runs(wh, catalog)
    runs.run()
    for i in range(3):
        wh.drop("db", "s", f"t{i}")
    with pytest.raises(DeletionRefused, match=r"3 of 10 tables in scope \(30.0%\)"):
        runs.run(requested_mode=mode)


@pytest.mark.parametrize("mode", ["full", "auto"])
def test_a_vanished_database_is_deleted_under_the_fail_safe(catalog, mode):
    wh = ChangeLogWarehouse(now=T0)
    for db in ("keep", "gone"):
        for s in ("s1", "s2"):
            for i in range(5):
                wh.put(db, s, make_table(f"t{i}"))
    runs = Runs(wh, catalog)
    runs.run()
    wh.drop_database("gone")
    with pytest.raises(DeletionRefused, match=r"10 of 20 tables in scope"):
        runs.run(requested_mode=mode)
    assert catalog.get("svc.gone") is not None and not catalog.get("svc.gone")["deleted"]
    done = runs.run(requested_mode=mode, confirm_delete=True)
    assert done.status == "success" and done.totals["deleted"] == 10
    assert catalog.get("svc.gone")["deleted"] and catalog.get("svc.gone.s1")["deleted"]
    assert catalog.get("svc.gone.s2.t4")["deleted"] and not catalog.get("svc.keep.s1.t0")["deleted"]
    assert {t.split(".")[1] for t in runs.live()} == {"keep"}


def test_a_vanished_database_below_the_threshold_goes_without_confirmation(catalog):
    wh = ChangeLogWarehouse(now=T0)
    for i in range(20):
        wh.put("big", "s", make_table(f"t{i}"))
    wh.put("small", "s", make_table("only"))
    runs = Runs(wh, catalog)
    runs.run()
    wh.drop_database("small")
    summary = runs.run()
    assert summary.totals["deleted"] == 1 and catalog.get("svc.small")["deleted"]


def test_a_vanished_database_keeps_what_the_filters_exclude(catalog):
    """Narrowing a filter never deletes: tables outside it stay, and so do their schema and database."""
    wh = ChangeLogWarehouse(now=T0)
    for i in range(10):
        wh.put("big", "s", make_table(f"t{i}"))
    wh.put("gone", "s", make_table("t0"))
    wh.put("gone", "s", make_table("keep_me"))
    Runs(wh, catalog).run()
    wh.drop_database("gone")
    runs = Runs(wh, catalog, filters={"table": {"exclude": ["^keep_"]}})
    runs.run()
    assert catalog.get("svc.gone.s.t0")["deleted"]
    assert not catalog.get("svc.gone.s.keep_me")["deleted"]
    assert not catalog.get("svc.gone.s")["deleted"] and not catalog.get("svc.gone")["deleted"]


def test_incremental_summary_counts_only_the_tables_in_scope(catalog):
    wh = ChangeLogWarehouse(now=T0)
    for i in range(2):
        wh.put("db", "s", make_table(f"t{i}"))
    for i in range(200):
        wh.put("db", "s", make_table(f"tmp_{i}"))
    runs = Runs(wh, catalog, filters={"table": {"exclude": ["^tmp_"]}})
    runs.run()
    wh.put("db", "s", make_table("t0", columns=5))
    summary = runs.run()
    assert summary.mode == "incremental"
    assert summary.totals == {"updated": 1, "unchanged": 1} and summary.scope_tables == 2


def test_one_locked_table_rescans_only_its_schema(catalog):
    """Digests of every schema fail on one lock: the others stay incremental, the locked one is rescanned alone."""
    wh = ChangeLogWarehouse(now=T0, use_digests=True)
    for s in ("a", "b", "c"):
        for i in range(10):
            wh.put("db", s, make_table(f"t{i}"))
    runs = Runs(wh, catalog, min_tables_per_unit=1)
    runs.run()
    wh.put("db", "a", make_table("t1", columns=9))
    wh.put("db", "b", make_table("t1", columns=9))
    wh.drop("db", "b", "t2")
    wh.locked_schemas = {"b"}
    wh.fetched.clear()
    locked = runs.run()
    assert locked.mode == "incremental"
    assert ("b",) in wh.digest_calls and ("a",) in wh.digest_calls  # asked schema by schema after the failure
    assert any("db.b could not be read" in n for n in locked.notes)
    # b became a whole-schema unit, which failed on the lock too: only it failed, nothing in it deleted
    assert locked.status == "failed" and locked.failed_units == ["db/new-batch1"]
    assert locked.schemas["a"] == {"updated": 1, "unchanged": 9}
    assert not catalog.get("svc.db.b.t2")["deleted"]
    assert len(catalog.get("svc.db.a.t1")["columns"]) == 9
    wh.locked_schemas = set()
    after = runs.run()  # the watermark did not move: b's changes are found now
    assert after.status == "success" and after.totals.get("deleted") == 1
    assert len(catalog.get("svc.db.b.t1")["columns"]) == 9 and catalog.get("svc.db.b.t2")["deleted"]


def test_a_rescanned_schema_that_reads_is_extracted_whole(catalog):
    wh = ChangeLogWarehouse(now=T0, use_digests=True)
    for s in ("a", "b"):
        for i in range(5):
            wh.put("db", s, make_table(f"t{i}"))
    runs = Runs(wh, catalog, min_tables_per_unit=1)
    runs.run()
    wh.put("db", "b", make_table("t1", columns=9))

    class LockedOnlyForDigests(ChangeLogSource):
        def table_digests(self, database, schemas):
            if "b" in schemas:
                from airflow_provider_omingest.exceptions import SourceError

                raise SourceError(database, None, "statement timeout")
            return super().table_digests(database, schemas)

    wh.fetched.clear()
    summary = run_ingestion(lambda: LockedOnlyForDigests(wh), catalog, runs.settings, RunRequest(run_id="x"),
                            watermarks=runs.store)
    assert summary.status == "success" and wh.fetched["b"] == 5 and wh.fetched["a"] == 0
    assert summary.schemas["b"] == {"updated": 1, "unchanged": 4}
