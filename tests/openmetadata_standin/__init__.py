"""A local stand-in of OpenMetadata's REST API v1 that follows the server's rules (see :mod:`.server`).

Run it alone with ``python -m tests.openmetadata_standin --port P --token T``.
"""

from __future__ import annotations

from tests.openmetadata_standin.server import BOT, SERVER_VERSION, USER, OpenMetadataStandIn

__all__ = ["BOT", "SERVER_VERSION", "USER", "OpenMetadataStandIn"]
