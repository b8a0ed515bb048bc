"""Turn the standard Airflow connection types into SQLAlchemy URLs.

Reads Connection fields the way the official providers store them, without depending on
those providers: ``postgres`` (host, port, login, password, schema = database, extras as
libpq options), ``sqlite`` (host = file path), ``duckdb`` (host = file path), ``mysql``, and
``omingest_sqlalchemy`` (``sqlalchemy_url`` in extras, or ``dialect`` plus the usual fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

from airflow_provider_omingest.exceptions import ConfigError

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.hooks.base import Extras

__all__ = ["PG_EXTRA_OPTIONS", "SUPPORTED_CONN_TYPES", "sqlalchemy_url"]

#: libpq options a postgres connection may set in its extras.
PG_EXTRA_OPTIONS = ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout", "application_name")

_DIALECTS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
}

#: The connection types whose extra ``sqlalchemy_url`` gives the whole URL.
_URL_TYPES = ("omingest_sqlalchemy", "omingest_catalog")

SUPPORTED_CONN_TYPES = ("postgres", "postgresql", "sqlite", "duckdb", "mysql", "omingest_sqlalchemy",
                        "omingest_catalog")


def sqlalchemy_url(conn: Connection, extras: Extras | None = None) -> URL:
    """Return the SQLAlchemy URL for an Airflow connection.

    :param extras: the connection's extras reader (one is made when not given).
    :raises ConfigError: for a connection type that is not a SQL database, or missing fields.
    """
    from airflow_provider_omingest.hooks.base import Extras

    extras = extras or Extras(conn)
    conn_type = (conn.conn_type or "").lower()
    url = extras.text("sqlalchemy_url") if conn_type in _URL_TYPES else None
    if url:
        try:
            return make_url(url)
        except Exception as e:
            raise ConfigError(extras.setting("sqlalchemy_url"), "<hidden>",
                              f"not a SQLAlchemy URL ({type(e).__name__})") from e
    if conn_type in ("sqlite", "duckdb"):
        path = conn.host or conn.schema
        if not path:
            raise ConfigError(f"connection {conn.conn_id!r} host", path,
                              f"a {conn_type} connection needs the database file path in host")
        return URL.create(conn_type, database=path)
    if conn_type in _DIALECTS or conn_type in ("omingest_sqlalchemy", "omingest_catalog"):
        driver = extras.text("dialect") or _DIALECTS.get(conn_type)
        if not driver:
            raise ConfigError(extras.setting("dialect"), None,
                              "set extra.dialect (e.g. 'mysql+pymysql') or extra.sqlalchemy_url")
        query = {}
        if driver.startswith("postgresql"):
            query = {k: v for k in PG_EXTRA_OPTIONS if (v := extras.text(k)) is not None}
        return URL.create(
            driver,
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
            query=query,
        )
    raise ConfigError(
        f"connection {conn.conn_id!r} conn_type", conn.conn_type,
        f"not a SQL database connection this provider reads; use one of {', '.join(SUPPORTED_CONN_TYPES)}",
    )
