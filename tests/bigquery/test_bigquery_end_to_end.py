"""The whole pipeline in-process: BigQuery stand-in -> engine -> embedded SQLite catalog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.sources.bigquery.audit import AUDIT_METHOD
from airflow_provider_omingest.sources.bigquery.source import BigQuerySource
from tests.bigquery.standin import BigQueryStandin, StandinTable, field_
from tests.bigquery.test_bigquery_source import seed_sales

P = "proj-a"


def test_full_runs_create_update_and_delete(standin: BigQueryStandin, make_source: Callable[..., BigQuerySource],
                                            tmp_path: Path) -> None:
    seed_sales(standin)
    standin.create_dataset(P, "marketing")
    standin.create_table(P, "marketing", StandinTable("campaigns", [field_("id", "INTEGER"), field_("name")]))
    standin.create_table(P, "marketing", StandinTable("spend", [field_("id", "INTEGER")]))
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    settings = IngestionSettings(service="bq", threads=2, max_delete_fraction=0.5)
    try:
        first = run_ingestion(make_source, catalog, settings, RunRequest(run_id="full", requested_mode="full"))
        assert first.status == "success" and first.mode == "full"
        assert first.totals["created"] == 9
        tables = {t["fqn"] for t in catalog.list_tables("bq")}
        assert "bq.proj-a.sales.orders" in tables and "bq.proj-a.marketing.campaigns" in tables
        stored = catalog.get("bq.proj-a.sales.orders")
        assert stored is not None and stored["partition_columns"] == ["ts"]

        standin.alter_table(P, "marketing", "campaigns", fields=[field_("id", "INTEGER"), field_("title")])
        standin.drop_table(P, "marketing", "spend")
        standin.create_table(P, "sales", StandinTable("returns", [field_("order_id", "INTEGER")]))
        second = run_ingestion(make_source, catalog, settings, RunRequest(run_id="full-2", requested_mode="full"))
        assert second.status == "success"
        assert (second.totals["created"], second.totals["updated"], second.totals["deleted"]) == (1, 1, 1)
        assert second.totals["unchanged"] == 7
        live = {t["fqn"] for t in catalog.list_tables("bq")}
        assert "bq.proj-a.marketing.spend" not in live and "bq.proj-a.sales.returns" in live
    finally:
        catalog.close()


def test_incremental_runs_from_the_audit_log_and_from_the_listing(
    standin: BigQueryStandin, make_source: Callable[..., BigQuerySource], tmp_path: Path
) -> None:
    seed_sales(standin)
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    settings = IngestionSettings(service="bq", threads=2, max_delete_fraction=0.5)
    try:
        full = run_ingestion(make_source, catalog, settings, RunRequest(run_id="full", requested_mode="full"))
        standin.alter_table(P, "sales", "customers", fields=[field_("id", "INTEGER"), field_("email")])
        standin.drop_table(P, "sales", "ext_clicks")
        audit = run_ingestion(make_source, catalog, settings,
                              RunRequest(run_id="audit", requested_mode="incremental"))
        assert audit.mode == "incremental", audit.mode_reason
        assert audit.change_method == AUDIT_METHOD, "the summary says how changes were found"
        assert (audit.totals["updated"], audit.totals["deleted"]) == (1, 1)
        assert "bq.proj-a.sales.ext_clicks" not in {t["fqn"] for t in catalog.list_tables("bq")}

        standin.logging_denied.add(P)
        standin.alter_table(P, "sales", "orders_snap", fields=[field_("id", "INTEGER"), field_("v", "INTEGER")])
        standin.drop_table(P, "sales", "events")
        listing = run_ingestion(make_source, catalog, settings,
                                RunRequest(run_id="listing", requested_mode="incremental"))
        assert listing.mode == "incremental", listing.mode_reason
        assert listing.change_method not in (None, AUDIT_METHOD), "the listing fallback was used"
        assert (listing.totals["updated"], listing.totals["deleted"]) == (1, 1)
        live = {t["fqn"] for t in catalog.list_tables("bq")}
        assert "bq.proj-a.sales.events" not in live and "bq.proj-a.sales.orders" in live
    finally:
        catalog.close()
