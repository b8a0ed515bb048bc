"""Build a :class:`~airflow_provider_omingest.sources.redshift.source.RedshiftSource` from a ``redshift`` connection.

Reads the connection the way the Amazon provider's ``RedshiftSQLHook`` stores it, without
depending on that provider: host, port, schema (= database), login, password, and extras
passed to ``redshift_connector.connect`` (``iam``, ``cluster_identifier``, ``profile``,
``db_user``, ``region``, ``access_key_id``, ``secret_access_key``, ``session_token``,
``is_serverless``, ``serverless_work_group``, ``ssl``, ``sslmode``, ``timeout``, ...).

Extras read by omingest itself: ``all_databases`` (ingest every database of the cluster),
``databases`` (a list), ``trust_history_visibility``, ``default_schema`` and
``statement_timeout`` (seconds, default 600, 0 for no limit; see the source).
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.exceptions import ConfigError, MissingDependency

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.base import timeout_seconds
    from airflow_provider_omingest.sources.redshift.source import DEFAULT_STATEMENT_TIMEOUT, RedshiftSource

__all__ = ["OMINGEST_EXTRAS", "redshift_connect_kwargs", "source_from_connection"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 5439

#: Extras that configure omingest rather than the driver.
OMINGEST_EXTRAS = ("all_databases", "databases", "trust_history_visibility", "default_schema", "statement_timeout")

#: Extras the Amazon provider reads itself (not driver arguments); accepted and not passed on.
_PROVIDER_ONLY_EXTRAS = ("aws_conn_id", "serverless_token_duration_seconds")

_TRUE = ("1", "true", "yes", "on")


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, (str, int)) and str(value).strip().lower() in _TRUE)


def _driver_parameters() -> frozenset[str]:
    try:
        import redshift_connector
    except ImportError as e:
        raise MissingDependency("redshift-connector (the Amazon Redshift driver)", "redshift") from e
    return frozenset(inspect.signature(redshift_connector.connect).parameters)


def redshift_connect_kwargs(conn: Connection, driver_parameters: frozenset[str]) -> dict[str, Any]:
    """Return the ``redshift_connector.connect`` arguments of a connection (without ``database``).

    :param conn: the Airflow connection.
    :param driver_parameters: the argument names ``redshift_connector.connect`` accepts.
    :raises ConfigError: when a required field is missing.
    """
    extra: dict[str, Any] = dict(conn.extra_dejson or {})
    kwargs: dict[str, Any] = {}
    if conn.host:
        kwargs["host"] = conn.host
    if conn.port:
        kwargs["port"] = int(conn.port)
    iam = _flag(extra.get("iam"))
    if iam:
        _add_iam_defaults(conn, extra, kwargs)
    else:
        if not conn.host:
            raise ConfigError(f"connection {conn.conn_id!r} host", conn.host,
                              "set the cluster endpoint, or extra iam=true with cluster_identifier")
        if conn.login:
            kwargs["user"] = conn.login
        if conn.password:
            kwargs["password"] = conn.password
    ignored = []
    for key, value in extra.items():
        if key in OMINGEST_EXTRAS or key in _PROVIDER_ONLY_EXTRAS or key == "database":
            continue
        if key in driver_parameters:
            kwargs[key] = value
        else:
            ignored.append(key)
    if ignored:
        log.warning("Connection %s: extras not understood by redshift_connector were ignored: %s",
                    conn.conn_id, ", ".join(sorted(ignored)))
    kwargs.setdefault("port", DEFAULT_PORT)
    return kwargs


def _add_iam_defaults(conn: Connection, extra: dict[str, Any], kwargs: dict[str, Any]) -> None:
    # As RedshiftSQLHook: the login is the database user, the cluster identifier defaults to the
    # first label of the host; temporary credentials are fetched by the driver.
    kwargs["iam"] = True
    if conn.login and "db_user" not in extra:
        kwargs["db_user"] = conn.login
    if not _flag(extra.get("is_serverless")) and "cluster_identifier" not in extra:
        if not conn.host:
            raise ConfigError(f"connection {conn.conn_id!r} extra cluster_identifier", None,
                              "IAM authentication needs cluster_identifier (or the cluster endpoint in host)")
        kwargs["cluster_identifier"] = conn.host.split(".", 1)[0]


def source_from_connection(conn: Connection) -> RedshiftSource:
    """Return a Redshift source for an Airflow ``redshift`` connection.

    :param conn: the connection (schema = database).
    :raises ConfigError: when the database or host is missing.
    :raises MissingDependency: when ``redshift-connector`` is not installed.
    """
    from airflow_provider_omingest.sources.base import timeout_seconds
    from airflow_provider_omingest.sources.redshift.source import DEFAULT_STATEMENT_TIMEOUT, RedshiftSource

    extra: dict[str, Any] = dict(conn.extra_dejson or {})
    database = conn.schema or extra.get("database")
    if not database:
        raise ConfigError(f"connection {conn.conn_id!r} schema", conn.schema,
                          "set the Redshift database name in the connection's schema (Database) field")
    databases = extra.get("databases")
    if isinstance(databases, str):
        databases = [d.strip() for d in databases.split(",") if d.strip()]
    return RedshiftSource(
        redshift_connect_kwargs(conn, _driver_parameters()),
        database=database,
        databases=databases or None,
        all_databases=_flag(extra.get("all_databases")),
        trust_history_visibility=_flag(extra.get("trust_history_visibility")),
        default_schema=extra.get("default_schema") or "public",
        statement_timeout=timeout_seconds(f"connection {conn.conn_id!r} extra statement_timeout",
                                          extra.get("statement_timeout"), DEFAULT_STATEMENT_TIMEOUT),
    )
