"""Provider metadata returned to Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_omingest import __version__

__all__ = ["get_provider_info"]


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
                    "sqlalchemy_url": {
                        "label": "SQLAlchemy URL",
                        "description": "Full SQLAlchemy URL; when set, the other fields are ignored.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "dialect": {
                        "label": "Dialect+driver",
                        "description": "SQLAlchemy dialect used with host/port/login/password/schema, e.g. mysql+pymysql.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
            }
        ],
    }
