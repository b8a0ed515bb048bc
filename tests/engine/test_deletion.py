from __future__ import annotations

import pickle

import pytest

from airflow_provider_omingest.engine.deletion import decide_deletions
from airflow_provider_omingest.exceptions import DeletionRefused
from airflow_provider_omingest.models.units import UnitResult


def _r(uid: str, candidates: list[str], scope: int) -> UnitResult:
    return UnitResult(unit_id=uid, database="db", schemas=("s",), delete_candidates=candidates, scope_size=scope)


def test_below_threshold_deletes():
    d = decide_deletions([_r("u1", ["a", "b"], 50), _r("u2", [], 50)], max_fraction=0.2)
    assert d.fqns == ["a", "b"] and d.scope == 100


def test_above_threshold_refuses_with_numbers():
    with pytest.raises(DeletionRefused) as info:
        decide_deletions([_r("u1", [f"t{i}" for i in range(30)], 100)], max_fraction=0.2)
    msg = str(info.value)
    assert "30 of 100" in msg and "30.0%" in msg and "20%" in msg and "Nothing was deleted" in msg
    assert pickle.loads(pickle.dumps(info.value)).to_delete == 30


def test_confirmation_overrides_threshold():
    d = decide_deletions([_r("u1", ["a"] * 1 + ["b"], 2)], max_fraction=0.2, confirmed=True)
    assert d.fqns == ["a", "b"]


def test_vanished_schema_counts_against_threshold():
    with pytest.raises(DeletionRefused):
        decide_deletions([_r("u1", [], 10)], extra_fqns=[f"v{i}" for i in range(5)], extra_scope=5,
                         max_fraction=0.2)
    d = decide_deletions([_r("u1", [], 95)], extra_fqns=[f"v{i}" for i in range(5)], extra_scope=5,
                         max_fraction=0.2)
    assert len(d.fqns) == 5 and d.scope == 100


def test_nothing_to_delete():
    assert decide_deletions([], max_fraction=0.0).fqns == []
