from __future__ import annotations

import pytest

from airflow_provider_omingest.models.fqn import build_fqn, split_fqn


@pytest.mark.parametrize(
    "parts, expected",
    [
        (("svc", "db", "sch", "tbl"), "svc.db.sch.tbl"),
        (("svc.prod", "db", "sch", "t"), '"svc.prod".db.sch.t'),
        (("svc", "db", "sch", 'we"ird.name'), 'svc.db.sch."we""ird.name"'),
        (("svc", "db", "sch", 'q"uote'), 'svc.db.sch."q""uote"'),
        (("s", "d", "Mixed Case", "t-1"), "s.d.Mixed Case.t-1"),
    ],
)
def test_build_and_split_round_trip(parts, expected):
    assert build_fqn(*parts) == expected
    assert split_fqn(expected) == list(parts)


@pytest.mark.parametrize("bad", ['a."b', "a..b", '"a"b.c', ".a", "a."])
def test_split_rejects_malformed(bad):
    with pytest.raises(ValueError):
        split_fqn(bad)


def test_empty_part_rejected():
    with pytest.raises(ValueError, match="empty"):
        build_fqn("svc", "", "x")
