"""Fault injection at the source boundary: the real DuckDB source, failing on chosen schemas.

Registered as connection type ``omingest_faulty`` by the tests; the schemas to fail are read
from ``OMINGEST_TEST_FAIL_SCHEMAS`` (comma-separated) when a unit is extracted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from airflow_provider_omingest.exceptions import SourceError
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource


class FaultySource(SqlAlchemySource):
    def extract(self, unit, filters, include_views=True) -> Iterator:
        failing = set(filter(None, os.environ.get("OMINGEST_TEST_FAIL_SCHEMAS", "").split(",")))
        for snapshot in super().extract(unit, filters, include_views):
            if snapshot.schema_name in failing:
                raise SourceError(unit.database, snapshot.schema_name, "permission denied (injected)")
            yield snapshot


def source_from_connection(conn) -> FaultySource:
    return FaultySource(f"duckdb:///{conn.host}")
