"""The OpenMetadata catalog: metadata kept in an OpenMetadata server (REST API v1).

Modules: :mod:`.catalog` (the :class:`~airflow_provider_omingest.catalog.base.Catalog`),
:mod:`.client` (HTTP, retries, errors), :mod:`.state` (stored states, read by paged lists),
:mod:`.writer` (creates, patches, restores, foreign keys, tags), :mod:`.merge` (what we change of
an existing entity), :mod:`.mapping` (entities ↔ OpenMetadata requests), :mod:`.names`
(OpenMetadata's fully qualified names), :mod:`.run_store` (run records and the version journal).
"""

from __future__ import annotations

from airflow_provider_omingest.catalog.openmetadata.catalog import (
    DEFAULT_EXTRAS_PROPERTY,
    DEFAULT_SERVICE_TYPE,
    OpenMetadataCatalog,
)
from airflow_provider_omingest.catalog.openmetadata.client import RETRY_STATUSES
from airflow_provider_omingest.catalog.openmetadata.writer import RejectedWrite

__all__ = ["DEFAULT_EXTRAS_PROPERTY", "DEFAULT_SERVICE_TYPE", "RETRY_STATUSES", "OpenMetadataCatalog",
           "RejectedWrite"]
