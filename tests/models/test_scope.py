"""The schemas named by Asset events' extras: accepted shapes and clear refusals."""

from __future__ import annotations

import pytest

from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.scope import SchemaScope, scope_from_event_extras


def test_both_shapes_are_read_and_unioned():
    scope = scope_from_event_extras([
        {"schemas": ["analytics.marts", "staging"]},
        {"omingest": {"schemas": ['"my.db".raw']}, "schemas": ["ignored.when_namespaced"]},
    ])
    assert scope == SchemaScope(schemas=((None, "staging"), ("analytics", "marts"), ("my.db", "raw")))
    assert scope.keeps("analytics", "marts") and scope.keeps("any_db", "staging")
    assert not scope.keeps("other", "marts") and not scope.keeps("analytics", "staging2")
    assert scope.names() == ['"my.db".raw', "analytics.marts", "staging"]


def test_an_event_without_schemas_or_no_event_means_the_whole_scope():
    assert scope_from_event_extras([]) is None
    assert scope_from_event_extras([{"schemas": ["a.b"]}, {}]) is None
    assert scope_from_event_extras([{"rows": 3}]) is None
    assert scope_from_event_extras([{"omingest": {"other": 1}}]) is None


def test_an_empty_list_names_no_schema():
    assert scope_from_event_extras([{"schemas": []}]) == SchemaScope(schemas=())


def test_restrict_keeps_every_database_key():
    scope = SchemaScope(schemas=(("db", "a"),))
    assert scope.restrict({"db": {"a": 1, "b": 2}, "x": {"a": 3}}) == {"db": {"a": 1}, "x": {}}


@pytest.mark.parametrize("extra, setting, value", [
    ({"schemas": "db.a"}, "asset_event[0].extra.schemas", "db.a"),
    ({"schemas": ["db.a", 3]}, "asset_event[0].extra.schemas[1]", 3),
    ({"schemas": [""]}, "asset_event[0].extra.schemas[0]", ""),
    ({"schemas": ["a.b.c"]}, "asset_event[0].extra.schemas[0]", "a.b.c"),
    ({"schemas": ['"unbalanced']}, "asset_event[0].extra.schemas[0]", '"unbalanced'),
    ({"omingest": ["db.a"]}, "asset_event[0].extra.omingest", ["db.a"]),
    ({"omingest": {"schemas": {"db": "a"}}}, "asset_event[0].extra.omingest.schemas", {"db": "a"}),
])
def test_bad_shapes_are_refused_naming_the_value(extra, setting, value):
    with pytest.raises(ConfigError) as e:
        scope_from_event_extras([extra])
    assert e.value.setting == setting and e.value.value == value and not e.value.retryable
    assert repr(value) in str(e.value)
