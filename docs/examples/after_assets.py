from airflow.sdk import DAG, Asset, task

from airflow_provider_omingest import build_ingestion_dag, service_asset

# Runs after each event on the dbt project's Asset; an event whose extra names schemas,
# e.g. {"schemas": ["warehouse.sales"]}, restricts the run to them.
dag = build_ingestion_dag(
    "ingest_after_dbt",
    source_conn_id="warehouse",
    catalog_conn_id="omingest_catalog",
    service="warehouse",
    schedule=[Asset("dbt://analytics")],
    scope_from_asset_events=True,
)

# Runs after each ingestion of service "warehouse" that changed the catalog.
with DAG("after_catalog_sync", schedule=[service_asset("warehouse")]) as downstream:

    @task
    def report(triggering_asset_events=None):
        for event in triggering_asset_events[service_asset("warehouse")]:
            print(event.extra["counts"], event.extra["tables"]["updated"][:10])

    report()
