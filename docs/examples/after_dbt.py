from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

from airflow_provider_omingest import ingestion_params, ingestion_task_group

with DAG("after_dbt", schedule=None, params=ingestion_params()) as dag:
    dbt_run = BashOperator(task_id="dbt_run", bash_command="echo 'dbt run goes here'")
    metadata = ingestion_task_group(
        "metadata",                        # task ids metadata.plan, metadata.unit.extract, ...
        source_conn_id="warehouse",
        catalog_conn_id="omingest_catalog",
        service="warehouse",
        filters={"schema": {"include": ["^sales$", "^finance$"]}},
        threads=4,
    )
    dbt_run >> metadata
