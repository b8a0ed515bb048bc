"""Operators for each stage of an ingestion: plan → extract[unit] → update[unit] → delete → summary."""

from __future__ import annotations

from airflow_provider_omingest.operators.finish import OmingestDeleteOperator, OmingestSummaryOperator
from airflow_provider_omingest.operators.plan import OmingestPlanOperator
from airflow_provider_omingest.operators.unit import OmingestExtractOperator, OmingestUpdateOperator

__all__ = [
    "OmingestDeleteOperator",
    "OmingestExtractOperator",
    "OmingestPlanOperator",
    "OmingestSummaryOperator",
    "OmingestUpdateOperator",
]
