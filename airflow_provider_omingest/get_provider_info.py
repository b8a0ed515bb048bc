"""Provider metadata returned to Airflow through the ``apache_airflow_provider`` entry point.

Connection types this provider registers (each with its form: ``conn-fields`` for extras,
secrets with ``format: password``), and the ``[omingest]`` configuration options. The warehouse
connection types (``snowflake``, ``redshift``, ``google_cloud_platform``, ``postgres``,
``sqlite``, ``mysql``) are the official providers'; see docs/airflow.md for which package brings
which form.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_omingest import __version__

__all__ = ["get_provider_info"]


def _field(label: str, description: str, kind: str | list[str] = "string", *, secret: bool = False,
           default: Any = None) -> dict[str, Any]:
    types = [kind] if isinstance(kind, str) else list(kind)
    schema: dict[str, Any] = {"type": [*types, "null"]}
    if secret:
        schema["format"] = "password"
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


_SQL_SOURCE_FIELDS = {
    "database_name": _field("Database name", "Name of the database in the catalog (default: the URL's)."),
    "digest_connections": _field("Digest connections", "Connections computing an incremental run's digests at "
                                 "once (PostgreSQL; default 2).", "integer"),
    "statement_timeout": _field("Statement timeout (s)", "Longest a metadata statement may run, in seconds "
                                "(default 300; 0: no limit).", "number"),
    "lock_timeout": _field("Lock timeout (s)", "Longest a statement waits for a lock, in seconds (PostgreSQL; "
                           "default 10; 0: no limit).", "number"),
}

_OPTION_DEFAULTS = {"version_added": "0.1.0", "example": None}


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow validates against its provider-info schema."""
    return {
        "package-name": "airflow-provider-omingest",
        "name": "omingest",
        "description": (
            "Keeps a metadata catalog in sync with data warehouses (Snowflake, Redshift, BigQuery and "
            "any SQLAlchemy database): full and incremental extraction, schema-level concurrency as "
            "dynamic task mapping capped by a pool."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "omingest",
                "external-doc-url": "https://pypi.org/project/airflow-provider-omingest/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "omingest",
                "python-modules": [
                    "airflow_provider_omingest.operators.plan",
                    "airflow_provider_omingest.operators.unit",
                    "airflow_provider_omingest.operators.finish",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "omingest",
                "python-modules": [
                    "airflow_provider_omingest.hooks.source",
                    "airflow_provider_omingest.hooks.catalog",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "omingest_sqlalchemy",
                "hook-class-name": "airflow_provider_omingest.hooks.source.OmingestSourceHook",
                "hook-name": "omingest SQLAlchemy database",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database"},
                    "placeholders": {
                        "extra": '{"sqlalchemy_url": "duckdb:////path/to/warehouse.duckdb"}',
                    },
                },
                "conn-fields": {
                    "sqlalchemy_url": _field("SQLAlchemy URL", "Full SQLAlchemy URL; when set, the other fields "
                                             "are ignored. May hold a password: stored as a secret.", secret=True),
                    "dialect": _field("Dialect+driver", "SQLAlchemy dialect used with host/port/login/password/"
                                      "schema, e.g. mysql+pymysql."),
                    **_SQL_SOURCE_FIELDS,
                },
            },
            {
                "connection-type": "duckdb",
                "hook-class-name": "airflow_provider_omingest.hooks.source.OmingestDuckDBHook",
                "hook-name": "DuckDB (omingest)",
                "ui-field-behaviour": {
                    "hidden-fields": ["login", "password", "port", "schema"],
                    "relabeling": {"host": "Database file path"},
                    "placeholders": {"host": "/data/warehouse.duckdb"},
                },
                "conn-fields": {
                    "read_only": _field("Read only", "Open the file read-only (default true: parallel extract "
                                        "tasks can share it).", "boolean", default=True),
                    **_SQL_SOURCE_FIELDS,
                },
            },
            {
                "connection-type": "openmetadata",
                "hook-class-name": "airflow_provider_omingest.hooks.catalog.OmingestOpenMetadataHook",
                "hook-name": "OpenMetadata (omingest catalog)",
                "ui-field-behaviour": {
                    "hidden-fields": ["login"],
                    "relabeling": {"host": "Server URL", "password": "Bot JWT token", "schema": "Scheme"},
                    "placeholders": {"host": "https://openmetadata.example.com:8585", "schema": "https"},
                },
                "conn-fields": {
                    "verify_ssl": _field("Verify TLS", "true, false, or the path of a CA bundle (default true).",
                                         ["boolean", "string"]),
                    "service_type": _field("Service type", "DatabaseService type for new services "
                                           "(default CustomDatabase)."),
                    "timeout": _field("Timeout (s)", "HTTP timeout per request (default 30).", "number"),
                    "max_concurrency": _field("Max concurrency", "Requests in flight at once (default 8).",
                                              "integer"),
                    "retries": _field("Retries", "Retries of a failed request: 429, 5xx, network (default 5).",
                                      "integer"),
                    "extras_property": _field("Extras property", "Custom property holding the fields OpenMetadata "
                                              "has no place for."),
                    "override_metadata": _field("Override metadata", "Replace descriptions and tags a person "
                                                "set in OpenMetadata with the source's (default false: only "
                                                "fill empty fields).", "boolean", default=False),
                    "runs_url": _field("Run store URL", "SQLAlchemy URL of the SQL store for run records.",
                                       secret=True),
                    "runs_conn_id": _field("Run store connection", "Airflow connection of the SQL store for run "
                                           "records (instead of runs_url)."),
                },
            },
            {
                "connection-type": "omingest_catalog",
                "hook-class-name": "airflow_provider_omingest.hooks.catalog.OmingestCatalogHook",
                "hook-name": "omingest embedded catalog (SQLAlchemy)",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database"},
                    "placeholders": {"extra": '{"sqlalchemy_url": "postgresql+psycopg://user@host/catalog"}'},
                },
                "conn-fields": {
                    "sqlalchemy_url": _field("SQLAlchemy URL", "URL of the catalog's database; when set, the other "
                                             "fields are ignored. Stored as a secret.", secret=True),
                    "dialect": _field("Dialect+driver", "SQLAlchemy dialect used with the other fields."),
                    "table_prefix": _field("Table prefix", "Prefix of the catalog's tables (default omingest_)."),
                },
            },
        ],
        "config": {
            "omingest": {
                "description": "Settings of the omingest provider.",
                "options": {
                    "snapshot_path": {
                        "description": "Base ObjectStoragePath where extract tasks leave snapshots for update "
                                       "tasks (file://, s3://, gs://). Use shared object storage when workers "
                                       "run on several machines. Default: $AIRFLOW_HOME/omingest/snapshots.",
                        "type": "string", "default": None, **_OPTION_DEFAULTS,
                        "example": "s3://my-bucket/omingest/snapshots",
                    },
                    "snapshot_conn_id": {
                        "description": "Airflow connection through which ObjectStoragePath reaches snapshot_path "
                                       "(e.g. an aws connection for s3://, read by the Amazon provider's s3 "
                                       "filesystem: install airflow-provider-omingest[s3]). Default: none, the "
                                       "filesystem's default credentials.",
                        "type": "string", "default": None, **_OPTION_DEFAULTS,
                        "example": "omingest_snapshots",
                    },
                    "missing_pools": {
                        "description": "What the scheduler does when an omingest run starts and a pool its tasks "
                                       "use does not exist: fail (the run fails at once, its note naming the "
                                       "pool and the fix) or create (the pool is created with slots = threads).",
                        "type": "string", "default": "fail", **_OPTION_DEFAULTS,
                    },
                },
            }
        },
    }
