from __future__ import annotations

import pickle

import pytest

from airflow_provider_omingest.engine.deletion import decide_deletions
from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.units import UnitResult


def _t(name: str) -> str:
    return f"svc.db.s.{name}"


def _r(uid: str, candidates: list[str]) -> UnitResult:
    return UnitResult(unit_id=uid, database="db", schemas=("s",), delete_candidates=candidates)


def test_below_threshold_deletes():
    d = decide_deletions([_r("u1", [_t("a"), _t("b")]), _r("u2", [])], scope=100, max_fraction=0.2)
    assert d.fqns == [_t("a"), _t("b")] and d.scope == 100 and d.tables == 2


def test_above_threshold_refuses_with_numbers():
    with pytest.raises(DeletionRefused) as info:
        decide_deletions([_r("u1", [_t(f"t{i}") for i in range(30)])], scope=100, max_fraction=0.2)
    msg = str(info.value)
    assert "30 of 100" in msg and "30.0%" in msg and "20%" in msg and "Nothing was deleted" in msg
    assert pickle.loads(pickle.dumps(info.value)).to_delete == 30


def test_confirmation_overrides_threshold():
    d = decide_deletions([_r("u1", [_t("a"), _t("b")])], scope=2, max_fraction=0.2, confirmed=True)
    assert d.fqns == [_t("a"), _t("b")]


def test_vanished_entities_count_against_the_same_scope():
    vanished = [_t(f"v{i}") for i in range(5)] + ["svc.db.s"]
    with pytest.raises(DeletionRefused, match="5 of 10"):
        decide_deletions([_r("u1", [])], scope=10, extra_fqns=vanished, max_fraction=0.2)
    d = decide_deletions([_r("u1", [])], scope=100, extra_fqns=vanished, max_fraction=0.2)
    assert len(d.fqns) == 6 and d.tables == 5 and d.scope == 100  # the schema entity is not a table


def test_the_scope_never_shrinks_below_what_is_deleted():
    with pytest.raises(DeletionRefused, match="3 of 3"):
        decide_deletions([_r("u1", [_t("a"), _t("b"), _t("c")])], scope=0, max_fraction=0.2)


def test_nothing_to_delete():
    assert decide_deletions([], scope=0, max_fraction=0.0).fqns == []
