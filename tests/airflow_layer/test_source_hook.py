"""OmingestSourceHook: generic SQL connections become SqlAlchemySource with the extras applied."""

from __future__ import annotations

import json

import pytest

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.source import OmingestSourceHook
from airflow_provider_omingest.sources.sql.source import SqlAlchemySource


def _set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, extra: dict[str, object]) -> None:
    conn = {"conn_type": "postgres", "host": "db.example", "port": 5432, "login": "reader", "schema": "wh",
            "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_digest_connections_from_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_conn(monkeypatch, "wh_three", {"digest_connections": "3"})
    _set_conn(monkeypatch, "wh_default", {})
    three = OmingestSourceHook("wh_three").get_source()
    assert isinstance(three, SqlAlchemySource) and three.digest_connections == 3
    assert OmingestSourceHook("wh_default").get_source().digest_connections == 2


@pytest.mark.parametrize("value", ["many", 0])
def test_bad_digest_connections_names_the_extra(monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    _set_conn(monkeypatch, "wh_bad", {"digest_connections": value})
    with pytest.raises(ConfigError, match="digest_connections"):
        OmingestSourceHook("wh_bad").get_source()
