"""Failures map to Airflow outcomes by their type: configuration errors fail without retry."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

from airflow_provider_omingest.exceptions import CatalogError, ConfigError, MissingDependency, SourceError
from airflow_provider_omingest.operators.errors import fail_or_retry


@pytest.mark.parametrize("error", [
    ConfigError("threads", 0, "must be at least 1"),
    MissingDependency("snowflake-connector-python", "snowflake"),
    SourceError("db", "s", "permission denied for schema s", retryable=False),
    CatalogError("HTTP 401: bad token", status=401, retryable=False),
    AirflowNotFoundException("The conn_id `warehouse` isn't defined"),
    ModuleNotFoundError("No module named 'duckdb'"),
])
def test_configuration_errors_fail_without_retry(error):
    with pytest.raises(AirflowFailException, match="Planning failed: "):
        fail_or_retry(error, "Planning failed")


@pytest.mark.parametrize("error", [
    SourceError("db", "s", "canceling statement due to statement timeout"),
    CatalogError("connection reset"),
    RuntimeError("boom"),
    TimeoutError("read timed out"),
])
def test_transient_errors_are_retried(error):
    with pytest.raises(AirflowException) as info:
        fail_or_retry(error, "Extracting db: s failed")
    assert not isinstance(info.value, AirflowFailException)
    assert info.value.__cause__ is error


def test_an_airflow_fail_exception_passes_through():
    original = AirflowFailException("already decided")
    with pytest.raises(AirflowFailException) as info:
        fail_or_retry(original, "x")
    assert info.value is original
