"""Hooks that turn an Airflow connection into a :class:`~airflow_provider_omingest.catalog.base.Catalog`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.base import OmingestHook
from airflow_provider_omingest.hooks.connection_urls import sqlalchemy_url

if TYPE_CHECKING:
    from airflow_provider_omingest.catalog.base import Catalog

__all__ = ["OmingestCatalogHook", "OmingestOpenMetadataHook"]


class OmingestCatalogHook(OmingestHook):
    """Open the catalog that an ingestion writes to.

    The embedded catalog lives in any SQL database SQLAlchemy reaches: a ``sqlite``
    connection (file path in host) for a single machine, a ``postgres`` connection in
    production (several workers write at once); extra ``table_prefix`` (default ``omingest_``)
    names its tables.

    A connection of type ``openmetadata`` opens the OpenMetadata catalog instead: host = the
    server URL with scheme and port (``https://om.example.com:8585``), password = the bot's
    JWT, extras ``verify_ssl`` (bool or CA bundle path, default true), ``service_type``,
    ``timeout``, ``max_concurrency``, ``retries``, ``extras_property``, ``override_metadata``
    (let the source's descriptions replace curated ones; default false), and ``runs_url`` (or
    ``runs_conn_id``, a SQL connection) for the run records.

    :param catalog_conn_id: the Airflow connection of the catalog.
    """

    conn_name_attr: ClassVar[str] = "catalog_conn_id"
    default_conn_name: ClassVar[str] = "omingest_catalog"
    conn_type: ClassVar[str] = "omingest_catalog"
    hook_name: ClassVar[str] = "omingest catalog"

    def get_catalog(self) -> Catalog:
        """Return the catalog for the connection."""
        if self.conn_type_name == "openmetadata":
            return self._openmetadata_catalog()
        from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

        return SqlCatalog(sqlalchemy_url(self.connection, self.extras),
                          table_prefix=self.extras.text("table_prefix", "omingest_"))

    def _openmetadata_catalog(self) -> Catalog:
        from airflow_provider_omingest.catalog.openmetadata import (
            DEFAULT_EXTRAS_PROPERTY,
            DEFAULT_SERVICE_TYPE,
            OpenMetadataCatalog,
        )

        conn, extras = self.connection, self.extras
        host = (conn.host or "").rstrip("/")
        if not host:
            raise ConfigError(f"connection {self.conn_id!r} host", conn.host,
                              "an openmetadata connection needs the server URL in host, e.g. https://om:8585")
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        if not conn.password:
            raise ConfigError(f"connection {self.conn_id!r} password", None,
                              "put the JWT of an OpenMetadata bot in the password")
        runs_url = extras.text("runs_url")
        runs_conn_id = extras.text("runs_conn_id")
        if not runs_url and runs_conn_id:
            runs_url = sqlalchemy_url(self.get_connection(runs_conn_id)).render_as_string(hide_password=False)
        extras_property = extras.text("extras_property", DEFAULT_EXTRAS_PROPERTY)
        if "extras_property" in extras.values and extras.values["extras_property"] is None:
            extras_property = None  # an explicit null: no extras property
        return OpenMetadataCatalog(
            host,
            conn.password,
            verify_ssl=_as_verify(extras.setting("verify_ssl"), extras.raw("verify_ssl", True)),
            timeout=extras.number("timeout", 30.0, minimum=0.001),
            max_concurrency=extras.integer("max_concurrency", 8, minimum=1),
            retries=extras.integer("retries", 5, minimum=0),
            service_type=extras.text("service_type", DEFAULT_SERVICE_TYPE),
            extras_property=extras_property,
            override_metadata=bool(extras.boolean("override_metadata", False)),
            runs_url=runs_url,
        )

    def get_conn(self) -> Catalog:
        """Return the catalog (Airflow's generic hook entry point)."""
        return self.get_catalog()


class OmingestOpenMetadataHook(OmingestCatalogHook):
    """An OpenMetadata server as the catalog: the ``openmetadata`` connection type.

    :param catalog_conn_id: the Airflow connection of the OpenMetadata server.
    """

    conn_type: ClassVar[str] = "openmetadata"
    hook_name: ClassVar[str] = "OpenMetadata (omingest catalog)"


def _as_verify(setting: str, value: Any) -> bool | str:
    """Return ``verify_ssl``: a boolean word, or the path of a CA bundle (any other text)."""
    from airflow_provider_omingest.parsing import as_bool

    if isinstance(value, bool):
        return value
    try:
        return bool(as_bool(value, setting, True))
    except ConfigError:
        return str(value).strip()
