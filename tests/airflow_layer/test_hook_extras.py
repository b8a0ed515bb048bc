"""Typed connection extras: unset values take the default, bad ones are named in the error."""

from __future__ import annotations

import json

import pytest

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook
from airflow_provider_omingest.hooks.extras import boolean_extra, int_extra


@pytest.mark.parametrize(("value", "expected"), [(None, 7), ("", 7), ("3", 3), (4, 4)])
def test_int_extra(value: object, expected: int) -> None:
    assert int_extra("retries", value, 7) == expected


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("yes", True), ("OFF", False), (True, True)])
def test_boolean_extra(value: object, expected: bool | None) -> None:
    assert boolean_extra("flag", value, None) is expected


def test_bad_values_name_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"extra retries='many'"):
        int_extra("retries", "many")
    with pytest.raises(ConfigError, match=r"extra flag='maybe'"):
        boolean_extra("flag", "maybe", None)


def test_openmetadata_catalog_extra_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "openmetadata", "host": "om.example", "port": 8585, "password": "jwt",
            "extra": {"max_concurrency": "lots"}}
    monkeypatch.setenv("AIRFLOW_CONN_OM_BAD", json.dumps(conn))
    with pytest.raises(ConfigError, match="max_concurrency"):
        OmingestCatalogHook("om_bad").get_catalog()
