"""Hook that turns an Airflow connection into a :class:`~airflow_provider_omingest.catalog.Catalog`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_omingest.hooks.connection_urls import sqlalchemy_url

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.catalog.base import Catalog

__all__ = ["OmingestCatalogHook"]


class OmingestCatalogHook(BaseHook):
    """Open the catalog that an ingestion writes to.

    The embedded catalog lives in any SQL database SQLAlchemy reaches: a ``sqlite``
    connection (file path in host) for a single machine, a ``postgres`` connection in
    production (several workers write at once).

    :param catalog_conn_id: the Airflow connection of the catalog.
    """

    conn_name_attr = "catalog_conn_id"
    default_conn_name = "omingest_catalog"
    conn_type = "omingest_sqlalchemy"
    hook_name = "omingest catalog"

    def __init__(self, catalog_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.catalog_conn_id = catalog_conn_id

    @cached_property
    def connection(self) -> Connection:
        """Return the Airflow connection (read once)."""
        return self.get_connection(self.catalog_conn_id)

    def get_catalog(self) -> Catalog:
        """Return the catalog for the connection."""
        from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

        extra = self.connection.extra_dejson or {}
        return SqlCatalog(sqlalchemy_url(self.connection), table_prefix=extra.get("table_prefix", "omingest_"))

    def get_conn(self) -> Catalog:
        """Return the catalog (Airflow's generic hook entry point)."""
        return self.get_catalog()
