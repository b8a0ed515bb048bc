"""Apache Airflow provider that keeps a metadata catalog in sync with data warehouses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "build_ingestion_dag"]

if TYPE_CHECKING:
    from airflow_provider_omingest.dag_factory import build_ingestion_dag


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (e.g. for get_provider_info) must not import Airflow.
    if name == "build_ingestion_dag":
        from airflow_provider_omingest.dag_factory import build_ingestion_dag

        return build_ingestion_dag
    raise AttributeError(name)
