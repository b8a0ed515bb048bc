"""Operators for each stage of an ingestion."""

from __future__ import annotations

from airflow_provider_omingest.operators.ingestion import (
    OmingestDeleteOperator,
    OmingestExtractOperator,
    OmingestPlanOperator,
    OmingestSummaryOperator,
    OmingestUpdateOperator,
)

__all__ = [
    "OmingestDeleteOperator",
    "OmingestExtractOperator",
    "OmingestPlanOperator",
    "OmingestSummaryOperator",
    "OmingestUpdateOperator",
]
