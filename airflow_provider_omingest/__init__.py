"""Apache Airflow provider that keeps a metadata catalog in sync with data warehouses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "build_ingestion_dag", "ingestion_params", "ingestion_task_group", "service_asset"]

if TYPE_CHECKING:
    from airflow_provider_omingest.assets import service_asset
    from airflow_provider_omingest.dag_factory import (
        build_ingestion_dag,
        ingestion_params,
        ingestion_task_group,
    )

_LAZY = ("build_ingestion_dag", "ingestion_params", "ingestion_task_group")


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (e.g. for get_provider_info) must not import Airflow.
    if name in _LAZY:
        from airflow_provider_omingest import dag_factory

        return getattr(dag_factory, name)
    if name == "service_asset":
        from airflow_provider_omingest.assets import service_asset

        return service_asset
    raise AttributeError(name)
