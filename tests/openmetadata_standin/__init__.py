"""A local stand-in of the OpenMetadata REST API v1 endpoints the OpenMetadata catalog uses."""

from __future__ import annotations

from tests.openmetadata_standin.server import OpenMetadataStandIn

__all__ = ["OpenMetadataStandIn"]
