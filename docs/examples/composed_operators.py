from airflow.sdk import DAG, task_group

from airflow_provider_omingest import ingestion_params
from airflow_provider_omingest.operators import (
    OmingestDeleteOperator,
    OmingestExtractOperator,
    OmingestPlanOperator,
    OmingestSummaryOperator,
    OmingestUpdateOperator,
)
from airflow_provider_omingest.operators.wiring import UNIT_MAP_INDEX_TEMPLATE

settings = {"service": "warehouse", "threads": 4}
with DAG("composed_operators", schedule=None, params=ingestion_params()) as dag:
    plan = OmingestPlanOperator(task_id="plan", source_conn_id="warehouse", catalog_conn_id="omingest_catalog",
                                settings=settings, mode="{{ params.mode }}", dry_run="{{ params.dry_run }}",
                                safety_margin="{{ params.safety_margin }}")

    @task_group(group_id="unit")
    def unit(work_unit):
        extracted = OmingestExtractOperator(task_id="extract", source_conn_id="warehouse", settings=settings,
                                            unit=work_unit, max_active_tis_per_dagrun=4,
                                            map_index_template=UNIT_MAP_INDEX_TEMPLATE)
        return OmingestUpdateOperator(task_id="update", catalog_conn_id="omingest_catalog", settings=settings,
                                      extracted=extracted.output, dry_run="{{ params.dry_run }}",
                                      map_index_template=UNIT_MAP_INDEX_TEMPLATE)

    units = unit.expand(work_unit=plan.output)
    delete = OmingestDeleteOperator(task_id="delete", catalog_conn_id="omingest_catalog", settings=settings,
                                    dry_run="{{ params.dry_run }}", confirm_delete="{{ params.confirm_delete }}")
    summary = OmingestSummaryOperator(task_id="summary", catalog_conn_id="omingest_catalog", settings=settings)
    units >> delete >> summary
