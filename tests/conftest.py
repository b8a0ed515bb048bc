"""Shared fixtures: a PostgreSQL server for the session, fresh databases per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support.postgres_server import PostgresServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server started for the test session (fails with the install hint if absent)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database."""
    return pg_server.create_database(f"t{next(_counter)}")
