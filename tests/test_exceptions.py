"""Every omingest error pickles with all its attributes and keeps its retry decision."""

from __future__ import annotations

import pickle

import pytest

from airflow_provider_omingest.exceptions import (
    CatalogError,
    ConfigError,
    DeletionRefused,
    IncrementalUnsupported,
    MissingDependency,
    OmingestError,
    SourceError,
)

ERRORS = [
    ConfigError("threads", 0, "must be between 1 and 64"),
    MissingDependency("snowflake-connector-python", "snowflake"),
    SourceError("db", "sales", "permission denied", retryable=False),
    SourceError("db", None, "timeout"),
    IncrementalUnsupported("postgresql", "no digests"),
    CatalogError("HTTP 400", entity="svc.db.s.t", status=400, retryable=False),
    DeletionRefused(30, 100, 0.2),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_pickle_keeps_every_attribute(error: OmingestError) -> None:
    error.extra_context = "added after construction"  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__
    assert copy.retryable == error.retryable


def test_retryable_is_decided_at_construction() -> None:
    assert SourceError("db", "s", "timeout").retryable
    assert not SourceError("db", "s", "the schema does not exist", retryable=False).retryable
    assert CatalogError("connection reset").retryable
    assert not CatalogError("HTTP 400", status=400, retryable=False).retryable
    assert not ConfigError("x", 1, "bad").retryable
