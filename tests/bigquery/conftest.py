"""Fixtures: a fresh BigQuery/Cloud Logging stand-in per test and sources pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials

from airflow_provider_omingest.sources.bigquery.source import BigQuerySource
from tests.bigquery.standin import BigQueryStandin

#: Short deadlines: a stopped or failing stand-in must fail a test in seconds, not retry for minutes.
FAST = {"request_timeout": 5.0, "retry_deadline": 2.0}


@pytest.fixture
def standin() -> Iterator[BigQueryStandin]:
    """A running stand-in, stopped after the test (also when it fails)."""
    server = BigQueryStandin().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_source(standin: BigQueryStandin) -> Iterator[Callable[..., BigQuerySource]]:
    """Build sources talking to the stand-in with anonymous credentials; closes them afterwards."""
    opened: list[BigQuerySource] = []

    def make(projects: list[str] | None = None, **kwargs: object) -> BigQuerySource:
        options = {**FAST, **kwargs}
        source = BigQuerySource(projects or ["proj-a"], credentials=AnonymousCredentials(),
                                api_endpoint=standin.url, **options)  # type: ignore[arg-type]
        opened.append(source)
        return source

    try:
        yield make
    finally:
        for source in opened:
            source.close()
