"""Hook that turns an Airflow connection into a :class:`~airflow_provider_omingest.catalog.Catalog`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.connection_urls import sqlalchemy_url
from airflow_provider_omingest.hooks.extras import boolean_extra, int_extra

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.catalog.base import Catalog

__all__ = ["OmingestCatalogHook"]


class OmingestCatalogHook(BaseHook):
    """Open the catalog that an ingestion writes to.

    The embedded catalog lives in any SQL database SQLAlchemy reaches: a ``sqlite``
    connection (file path in host) for a single machine, a ``postgres`` connection in
    production (several workers write at once).

    A connection of type ``openmetadata`` opens the OpenMetadata catalog instead: host = the
    server URL with scheme and port (``https://om.example.com:8585``), password = the bot's
    JWT, extras ``verify_ssl`` (bool or CA bundle path, default true), ``service_type``,
    ``timeout``, ``max_concurrency``, ``retries``, ``extras_property``, ``override_metadata``
    (let the source's descriptions replace curated ones; default false), and ``runs_url`` (or
    ``runs_conn_id``, a SQL connection) for the run records.

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
        if (self.connection.conn_type or "").lower() == "openmetadata":
            return self._openmetadata_catalog(extra)
        return SqlCatalog(sqlalchemy_url(self.connection), table_prefix=extra.get("table_prefix", "omingest_"))

    def _openmetadata_catalog(self, extra: dict[str, Any]) -> Catalog:
        from airflow_provider_omingest.catalog.openmetadata import (
            DEFAULT_EXTRAS_PROPERTY,
            DEFAULT_SERVICE_TYPE,
            OpenMetadataCatalog,
        )

        conn = self.connection
        host = (conn.host or "").rstrip("/")
        if not host:
            raise ConfigError(f"connection {self.catalog_conn_id!r} host", conn.host,
                              "an openmetadata connection needs the server URL in host, e.g. https://om:8585")
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        if not conn.password:
            raise ConfigError(f"connection {self.catalog_conn_id!r} password", None,
                              "put the JWT of an OpenMetadata bot in the password")
        runs_url = extra.get("runs_url")
        if not runs_url and extra.get("runs_conn_id"):
            runs_url = sqlalchemy_url(self.get_connection(extra["runs_conn_id"])).render_as_string(hide_password=False)
        return OpenMetadataCatalog(
            host,
            conn.password,
            verify_ssl=_as_verify(extra.get("verify_ssl", True)),
            timeout=float(extra.get("timeout", 30.0)),
            max_concurrency=int_extra("max_concurrency", extra.get("max_concurrency"), 8),
            retries=int_extra("retries", extra.get("retries"), 5),
            service_type=extra.get("service_type", DEFAULT_SERVICE_TYPE),
            extras_property=extra.get("extras_property", DEFAULT_EXTRAS_PROPERTY),
            override_metadata=boolean_extra("override_metadata", extra.get("override_metadata"), False),
            runs_url=runs_url,
        )

    def get_conn(self) -> Catalog:
        """Return the catalog (Airflow's generic hook entry point)."""
        return self.get_catalog()


def _as_verify(value: Any) -> bool | str:
    """Return ``verify_ssl`` from extras: a bool (also as text) or a CA bundle path."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", "on", ""):
        return True
    if text.lower() in ("false", "0", "no", "off"):
        return False
    return text
