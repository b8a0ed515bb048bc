"""A run restricted to some schemas (e.g. by an upstream Asset event): it touches only them, safely.

The rules under test: only the named schemas are extracted; nothing outside them is deleted
(not a dropped table, not a vanished schema or database); the fail-safe measures the restricted
scope; the watermark never moves, so the next unrestricted run still finds the other changes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.plan import plan_run
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.engine.summary import MemoryWatermarks
from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.models.scope import SchemaScope
from tests.support.changelog_source import ChangeLogSource, ChangeLogWarehouse, make_table

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def _scope(*names: str) -> SchemaScope:
    return SchemaScope(schemas=tuple((n.split(".")[0], n.split(".")[1]) if "." in n else (None, n) for n in names))


@pytest.fixture
def wh() -> ChangeLogWarehouse:
    w = ChangeLogWarehouse(now=T0)
    for db in ("db", "other"):
        for s in ("a", "b", "c"):
            for i in range(10):
                w.put(db, s, make_table(f"t{i}"))
    w.log.clear()
    return w


class Ingestion:
    def __init__(self, wh, catalog, **settings):
        self.wh, self.catalog, self.store = wh, catalog, MemoryWatermarks()
        self.settings = IngestionSettings(service="svc", threads=2, **settings)
        self.runs = 0

    def run(self, schemas=None, **kw):
        self.runs += 1
        return run_ingestion(lambda: ChangeLogSource(self.wh), self.catalog, self.settings,
                             RunRequest(run_id=f"run{self.runs}", schemas=schemas, **kw), watermarks=self.store)


def _live(catalog):
    return {t["fqn"] for t in catalog.list_tables("svc") if not t["deleted"]}


@pytest.fixture
def ingested(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}")
    ing = Ingestion(wh, catalog, max_delete_fraction=0.5)
    first = ing.run()
    assert first.mode == "full" and len(_live(catalog)) == 60
    yield ing
    catalog.close()


def test_a_restricted_run_touches_only_the_named_schemas_and_keeps_the_watermark(wh, ingested):
    ing, catalog = ingested, ingested.catalog
    watermark = ing.store.value
    wh.tick(H)
    wh.put("db", "a", make_table("t1", columns=5))       # inside the restriction
    wh.put("db", "a", make_table("new"))
    wh.drop("db", "a", "t2")
    wh.put("db", "b", make_table("t1", columns=5))       # outside: same schema name, other changes
    wh.drop("db", "b", "t3")
    wh.drop("other", "a", "t4")                           # schema "a" of another database: outside
    wh.tick(H)

    s = ing.run(schemas=_scope("db.a"))
    assert s.mode == "full" and "restricted" in s.mode_reason and s.restricted_to == ["db.a"]
    assert s.tables_fetched == 10                         # schema db.a only, whole
    assert (s.totals.get("created"), s.totals.get("updated"), s.totals.get("deleted")) == (1, 1, 1)
    assert set(s.changed_tables) == {"created", "updated", "deleted"}
    assert s.changed_tables == {"created": ["svc.db.a.new"], "updated": ["svc.db.a.t1"],
                                "deleted": ["svc.db.a.t2"]}
    live = _live(catalog)
    assert "svc.db.b.t3" in live and "svc.other.a.t4" in live    # dropped outside the scope: kept
    assert catalog.get("svc.db.b.t1")["fingerprint"] != make_table("t1", columns=5).fingerprint()
    assert ing.store.value == watermark                          # never advanced by a partial run
    assert any("watermark" in n for n in s.notes)

    # The next unrestricted run scans from the old watermark and finds what the partial run left.
    wh.tick(H)
    nxt = ing.run()
    assert nxt.mode == "incremental" and nxt.last_value == watermark
    assert nxt.totals.get("deleted") == 2 and nxt.totals.get("updated") == 1
    assert "svc.db.b.t3" not in _live(catalog) and "svc.other.a.t4" not in _live(catalog)
    assert ing.store.value > watermark


def test_a_bare_schema_name_means_that_schema_in_every_database(wh, ingested):
    wh.tick(H)
    wh.put("db", "c", make_table("x"))
    wh.put("other", "c", make_table("y"))
    wh.put("db", "b", make_table("z"))
    s = ingested.run(schemas=_scope("c"))
    assert s.tables_fetched == 22 and s.totals.get("created") == 2
    assert "svc.db.b.z" not in _live(ingested.catalog)


def test_vanished_schemas_and_databases_outside_the_restriction_are_kept(wh, ingested):
    catalog = ingested.catalog
    wh.tick(H)
    wh.drop_schema("db", "b")
    wh.drop_database("other")
    s = ingested.run(schemas=_scope("db.a"))
    assert s.totals.get("deleted", 0) == 0
    assert len(_live(catalog)) == 60
    assert catalog.list_schemas("svc", "other") == ["a", "b", "c"]


def test_a_vanished_database_loses_only_the_named_schemas_never_the_database(wh, ingested):
    catalog = ingested.catalog
    wh.tick(H)
    wh.drop_database("other")
    plan = plan_run(ChangeLogSource(wh), catalog, ingested.settings,
                    RunRequest(run_id="p", schemas=_scope("other.a"), last_value=ingested.store.value))
    assert plan.vanished.databases == [] and plan.vanished.schemas == [("other", "a")]
    assert plan.vanished.tables == 10 and plan.scope_tables == 10 and plan.units == []
    # Deleting every table of the restricted scope is over the fail-safe: refused, nothing deleted.
    with pytest.raises(DeletionRefused, match="10 of 10"):
        ingested.run(schemas=_scope("other.a"))
    assert len(_live(catalog)) == 60
    s = ingested.run(schemas=_scope("other.a"), confirm_delete=True)
    assert s.totals.get("deleted") == 10
    assert catalog.list_schemas("svc", "other") == ["b", "c"]
    assert {t["fqn"] for t in catalog.list_tables("svc")} >= {"svc.other.b.t0"}


def test_the_fail_safe_measures_the_restricted_scope(wh, ingested):
    wh.tick(H)
    for i in range(6):
        wh.drop("db", "a", f"t{i}")                   # 6 of the 10 tables of db.a, 10 % of everything
    with pytest.raises(DeletionRefused, match="6 of 10"):
        ingested.run(schemas=_scope("db.a"))
    assert len(_live(ingested.catalog)) == 60


def test_a_restriction_naming_every_schema_is_an_ordinary_run(wh, ingested):
    wh.tick(H)
    wh.put("db", "a", make_table("t1", columns=5))
    before = ingested.store.value
    s = ingested.run(schemas=_scope("a", "b", "c"))
    assert s.mode == "incremental" and s.restricted_to is None
    assert ingested.store.value > before


def test_explicit_incremental_stays_incremental_inside_the_restriction(wh, ingested):
    wh.tick(H)
    wh.put("db", "a", make_table("t1", columns=5))
    wh.put("db", "b", make_table("t1", columns=5))
    before = ingested.store.value
    s = ingested.run(schemas=_scope("db.a"), requested_mode="incremental")
    assert s.mode == "incremental" and s.tables_fetched == 1 and s.totals.get("updated") == 1
    assert ingested.store.value == before


def test_names_outside_the_filters_or_unknown_are_noted_and_touch_nothing(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'f.db'}")
    ing = Ingestion(wh, catalog, filters={"schema": {"exclude": ["^b$"]}})
    ing.run()
    s = ing.run(schemas=_scope("db.b", "db.nope"))
    assert s.units == 0 and s.totals.get("created", 0) == 0
    assert any("db.b, db.nope" in n for n in s.notes), s.notes
    assert not any(".b." in f for f in _live(catalog))


def test_a_first_run_restricted_to_a_schema_does_not_set_the_watermark(wh, tmp_path):
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'first.db'}")
    ing = Ingestion(wh, catalog)
    s = ing.run(schemas=_scope("db.a"))
    assert s.mode == "full" and s.totals.get("created") == 10 and ing.store.value is None
    assert ing.run().mode == "full"                       # still no watermark: the next run is full
