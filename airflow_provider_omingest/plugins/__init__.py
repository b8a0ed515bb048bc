"""The provider's Airflow plugin, registered through the ``airflow.plugins`` entry point.

Airflow loads entry-point plugins in every process (``lazy_discover_providers`` only delays
provider metadata), so its listeners run in the scheduler, where the metadata database is
reachable. Keep this module light: every Airflow process imports it (the UI pages' FastAPI app
is imported by the api-server on its first request).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_omingest.plugins import pool_check
from airflow_provider_omingest.plugins.ui import URL_PREFIX, LazyApp, base_path

__all__ = ["OmingestPlugin"]


class OmingestPlugin(AirflowPlugin):
    """Listeners of omingest (the pool check when an ingestion run starts) and its UI pages.

    - ``fastapi_apps``: the pages, under ``/omingest`` in the api-server;
    - ``external_views``: "What changed" on each DAG run (``destination="dag_run"``) and
      "Catalog" in the navigation (``destination="nav"``), shown inside the Airflow UI.
    """

    name = "omingest"
    listeners = [pool_check]
    fastapi_apps = [
        {"app": LazyApp("airflow_provider_omingest.plugins.ui.app:create_app"), "url_prefix": URL_PREFIX,
         "name": "omingest pages"},
    ]
    external_views = [
        {"name": "What changed", "href": f"{base_path()}{URL_PREFIX}/runs/{{DAG_ID}}/{{RUN_ID}}",
         "destination": "dag_run", "url_route": "omingest-what-changed"},
        {"name": "Catalog", "href": f"{base_path()}{URL_PREFIX}/catalog/", "destination": "nav",
         "url_route": "omingest-catalog"},
    ]
