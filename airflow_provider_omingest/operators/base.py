"""What every omingest operator shares: settings validated at construction, one error mapping."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_omingest.config import IngestionSettings, ingestion_settings

__all__ = ["OmingestBaseOperator"]


class OmingestBaseOperator(BaseOperator):
    """Base of the stage operators: stores the settings, validated now (at DAG parse time).

    :param settings: the ingestion's settings, as :class:`IngestionSettings` or a dict of its
        fields (unknown keys are refused by name).
    """

    def __init__(self, *, settings: IngestionSettings | dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = ingestion_settings(settings)

    def watermark_key_for(self, context: Any) -> str:
        """Return the key naming this ingestion's watermark: ``watermark_key``, or the DAG id."""
        return getattr(self, "watermark_key", None) or context["dag"].dag_id
