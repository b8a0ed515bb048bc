"""Build a :class:`~airflow_provider_omingest.sources.redshift.source.RedshiftSource` from a ``redshift`` connection.

Reads the connection the way the Amazon provider's ``RedshiftSQLHook`` stores it, without
depending on that provider: host, port, schema (= database), login, password, and extras
passed to ``redshift_connector.connect`` (``iam``, ``cluster_identifier``, ``profile``,
``db_user``, ``region``, ``access_key_id``, ``secret_access_key``, ``session_token``,
``is_serverless``, ``serverless_work_group``, ``ssl``, ``sslmode``, ``timeout``, ...).
The extras omingest reads itself are listed in ``docs/redshift.md``.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_omingest.exceptions import ConfigError, MissingDependency
from airflow_provider_omingest.hooks.base import Extras

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_omingest.sources.redshift.source import RedshiftSource

__all__ = ["OMINGEST_EXTRAS", "redshift_connect_kwargs", "source_from_connection"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 5439

#: Extras that configure omingest rather than the driver.
OMINGEST_EXTRAS = ("all_databases", "databases", "trust_history_visibility", "default_schema", "statement_timeout")

#: Extras the Amazon provider reads itself (not driver arguments); accepted and not passed on.
_PROVIDER_ONLY_EXTRAS = ("aws_conn_id", "serverless_token_duration_seconds")

#: Driver arguments omingest reads as booleans and passes on as such.
_BOOLEAN_ARGUMENTS = ("iam", "is_serverless")


def _driver_parameters() -> frozenset[str]:
    try:
        import redshift_connector
    except ImportError as e:
        raise MissingDependency("redshift-connector (the Amazon Redshift driver)", "redshift") from e
    return frozenset(inspect.signature(redshift_connector.connect).parameters)


def redshift_connect_kwargs(conn: Connection, driver_parameters: frozenset[str],
                            extras: Extras | None = None) -> dict[str, Any]:
    """Return the ``redshift_connector.connect`` arguments of a connection (without ``database``).

    :param conn: the Airflow connection.
    :param driver_parameters: the argument names ``redshift_connector.connect`` accepts.
    :param extras: the reader of the connection's extras (default: a new one).
    :raises ConfigError: when a required field is missing or an extra is malformed.
    """
    extras = extras or Extras(conn)
    kwargs: dict[str, Any] = {}
    if conn.host:
        kwargs["host"] = conn.host
    if conn.port:
        kwargs["port"] = int(conn.port)
    if extras.boolean("is_serverless", False):
        kwargs["is_serverless"] = True
    if extras.boolean("iam", False):
        _add_iam_defaults(conn, extras, kwargs)
    else:
        if not conn.host:
            raise ConfigError(f"connection {conn.conn_id!r} host", conn.host,
                              "set the cluster endpoint, or extra iam=true with cluster_identifier")
        if conn.login:
            kwargs["user"] = conn.login
        if conn.password:
            kwargs["password"] = conn.password
    ignored = []
    for key, value in extras.values.items():
        if key in OMINGEST_EXTRAS or key in _PROVIDER_ONLY_EXTRAS or key in _BOOLEAN_ARGUMENTS or key == "database":
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


def _add_iam_defaults(conn: Connection, extras: Extras, kwargs: dict[str, Any]) -> None:
    # As RedshiftSQLHook: the login is the database user, the cluster identifier defaults to the
    # first label of the host; temporary credentials are fetched by the driver.
    kwargs["iam"] = True
    if conn.login and not extras.has("db_user"):
        kwargs["db_user"] = conn.login
    if not kwargs.get("is_serverless") and not extras.has("cluster_identifier"):
        if not conn.host:
            raise ConfigError(extras.setting("cluster_identifier"), None,
                              "IAM authentication needs cluster_identifier (or the cluster endpoint in host)")
        kwargs["cluster_identifier"] = conn.host.split(".", 1)[0]


def source_from_connection(conn: Connection, extras: Extras | None = None) -> RedshiftSource:
    """Return a Redshift source for an Airflow ``redshift`` connection.

    :param conn: the connection (schema = database).
    :param extras: the reader of the connection's extras (default: a new one).
    :raises ConfigError: when the database or host is missing, or an extra is malformed.
    :raises MissingDependency: when ``redshift-connector`` is not installed.
    """
    from airflow_provider_omingest.sources.redshift.source import DEFAULT_STATEMENT_TIMEOUT, RedshiftSource

    extras = extras or Extras(conn)
    database = conn.schema or extras.text("database")
    if not database:
        raise ConfigError(f"connection {conn.conn_id!r} schema", conn.schema,
                          "set the Redshift database name in the connection's schema (Database) field")
    return RedshiftSource(
        redshift_connect_kwargs(conn, _driver_parameters(), extras),
        database=database,
        databases=extras.names("databases") or None,
        all_databases=extras.boolean("all_databases", False),
        trust_history_visibility=extras.boolean("trust_history_visibility", False),
        default_schema=extras.text("default_schema", "public"),
        statement_timeout=extras.seconds("statement_timeout", DEFAULT_STATEMENT_TIMEOUT),
    )
