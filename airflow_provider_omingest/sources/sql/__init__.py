"""Generic SQL sources read through SQLAlchemy: PostgreSQL, DuckDB, SQLite and any other dialect.

``source`` holds the source; ``postgres_reflection`` and ``duckdb_reflection`` the bulk catalog
reads of those two databases; ``digests`` the in-database structural digests of incremental
runs; ``type_mapping`` the column types of every dialect.
"""

from __future__ import annotations

from airflow_provider_omingest.sources.sql.source import SqlAlchemySource

__all__ = ["SqlAlchemySource"]
