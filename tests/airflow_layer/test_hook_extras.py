"""Typed connection extras: unset values take the default, legacy keys are read, bad ones are named."""

from __future__ import annotations

import json
import warnings

import pytest
from airflow.sdk import Connection

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.hooks.base import Extras
from airflow_provider_omingest.hooks.catalog import OmingestCatalogHook


def extras(conn_type: str = "snowflake", **extra: object) -> Extras:
    return Extras(Connection(conn_id="wh", conn_type=conn_type, extra=json.dumps(extra)))


@pytest.mark.parametrize(("value", "expected"), [(None, 7), ("", 7), ("3", 3), (4, 4)])
def test_integer(value: object, expected: int) -> None:
    assert extras(retries=value).integer("retries", 7) == expected


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("yes", True), ("OFF", False), (True, True)])
def test_boolean(value: object, expected: bool | None) -> None:
    assert extras(flag=value).boolean("flag") is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("a, b,,c", ("a", "b", "c")), ('["a", " b"]', ("a", "b")), (["a", "b"], ("a", "b")), ("{x", ("{x",)),
])
def test_names(value: object, expected: tuple[str, ...]) -> None:
    assert extras(dbs=value).names("dbs") == expected


@pytest.mark.parametrize(("value", "expected"), [({"A": 1}, {"A": 1}), ('{"A": 1}', {"A": 1}), (None, None)])
def test_mapping(value: object, expected: dict | None) -> None:
    assert extras(params=value).mapping("params") == expected


@pytest.mark.parametrize(("value", "positive", "expected"), [("90", False, 90.0), (0, False, 0.0), (None, True, 5.0),
                                                             (1.5, True, 1.5)])
def test_seconds(value: object, positive: bool, expected: float) -> None:
    assert extras(timeout=value).seconds("timeout", 5.0, positive=positive) == expected


def test_legacy_prefix_of_the_connection_type() -> None:
    assert extras(extra__snowflake__role="R").text("role") == "R"
    assert extras("redshift", extra__snowflake__role="R").text("role") is None
    with pytest.warns(UserWarning, match=r"Conflicting extras 'role' and 'extra__snowflake__role' in connection 'wh'"):
        assert extras(role="new", extra__snowflake__role="old").text("role") == "new"
    with pytest.warns(UserWarning, match="Conflicting"):
        assert extras(role="", extra__snowflake__role="old").text("role") is None  # the plain key wins
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert extras(role="new").text("role") == "new"


def test_reads_are_recorded_under_the_plain_name() -> None:
    reader = extras(extra__snowflake__role="R")
    reader.text("role")
    reader.has("warehouse")
    assert reader.read == {"role", "warehouse"}


@pytest.mark.parametrize(("read", "value", "problem"), [
    (lambda e: e.integer("x"), "many", "whole number"),
    (lambda e: e.boolean("x"), "maybe", "true or false"),
    (lambda e: e.names("x"), "[a", "JSON list"),
    (lambda e: e.names("x"), [1, 2], "list of names"),
    (lambda e: e.mapping("x"), "QUERY_TAG=x", "JSON object"),
    (lambda e: e.mapping("x"), ["a"], "JSON object"),
    (lambda e: e.seconds("x"), "-1", "seconds >= 0"),
    (lambda e: e.seconds("x", positive=True), "0", "seconds > 0"),
    (lambda e: e.seconds("x"), "nan", "seconds"),
    (lambda e: e.number("x"), "inf", "a number"),
])
def test_bad_values_name_the_connection_and_the_extra(read, value: object, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        read(extras(x=value))
    assert info.value.setting == "connection 'wh' extra x" and info.value.value == value


def test_openmetadata_catalog_extra_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "openmetadata", "host": "om.example", "port": 8585, "password": "jwt",
            "extra": {"max_concurrency": "lots"}}
    monkeypatch.setenv("AIRFLOW_CONN_OM_BAD", json.dumps(conn))
    with pytest.raises(ConfigError, match="max_concurrency"):
        OmingestCatalogHook("om_bad").get_catalog()
