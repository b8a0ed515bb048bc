"""Turn the standard Airflow connection types into SQLAlchemy URLs.

Reads Connection fields the way the official providers store them, without depending on
those providers: ``postgres`` (host, port, login, password, schema = database, extras as
libpq options), ``sqlite`` (host = file path), ``duckdb`` (host = file path), ``mysql``, and
``omingest_sqlalchemy`` (``sqlalchemy_url`` in extras, or ``dialect`` plus the usual fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, make_url

from airflow_provider_omingest.exceptions import ConfigError

if TYPE_CHECKING:
    from airflow.sdk import Connection

__all__ = ["SUPPORTED_CONN_TYPES", "sqlalchemy_url"]

_PG_EXTRA_OPTIONS = ("sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout", "application_name")

_DIALECTS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
}

SUPPORTED_CONN_TYPES = ("postgres", "postgresql", "sqlite", "duckdb", "mysql", "omingest_sqlalchemy")


def sqlalchemy_url(conn: Connection) -> URL:
    """Return the SQLAlchemy URL for an Airflow connection.

    :raises ConfigError: for a connection type that is not a SQL database, or missing fields.
    """
    extra: dict[str, Any] = conn.extra_dejson or {}
    conn_type = (conn.conn_type or "").lower()
    if extra.get("sqlalchemy_url"):
        try:
            return make_url(extra["sqlalchemy_url"])
        except Exception as e:
            raise ConfigError(f"connection {conn.conn_id!r} extra sqlalchemy_url", "<hidden>",
                              f"not a SQLAlchemy URL ({type(e).__name__})") from e
    if conn_type in ("sqlite", "duckdb"):
        path = conn.host or conn.schema
        if not path:
            raise ConfigError(f"connection {conn.conn_id!r} host", path,
                              f"a {conn_type} connection needs the database file path in host")
        return URL.create(conn_type, database=path)
    if conn_type in _DIALECTS or conn_type == "omingest_sqlalchemy":
        driver = extra.get("dialect") or _DIALECTS.get(conn_type)
        if not driver:
            raise ConfigError(f"connection {conn.conn_id!r} extra dialect", None,
                              "set extra.dialect (e.g. 'mysql+pymysql') or extra.sqlalchemy_url")
        query = {k: str(extra[k]) for k in _PG_EXTRA_OPTIONS if k in extra} if driver.startswith("postgresql") else {}
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
