"""The provider's Airflow plugin, registered through the ``airflow.plugins`` entry point.

Airflow loads entry-point plugins in every process (``lazy_discover_providers`` only delays
provider metadata), so its listeners run in the scheduler, where the metadata database is
reachable. Keep this module light: every Airflow process imports it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_omingest.plugins import pool_check

__all__ = ["OmingestPlugin"]


class OmingestPlugin(AirflowPlugin):
    """Listeners of omingest: the pool check when an ingestion run starts."""

    name = "omingest"
    listeners = [pool_check]
