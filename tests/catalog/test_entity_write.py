"""EntityWrite.upstream_edges: the edges read from the entity equal the edges its JSON body says."""

from __future__ import annotations

from airflow_provider_omingest.catalog.base import EntityWrite
from airflow_provider_omingest.models.entities import Column, ColumnUpstream, Table, TableType, TableUpstream


def _view(upstreams: tuple[TableUpstream, ...]) -> Table:
    return Table(
        name="v", table_type=TableType.VIEW, view_definition="select a, b from s.t join s.u using (a)",
        columns=(Column(name="a", data_type="INT", data_type_display="integer"),
                 Column(name="b", data_type="STRING", data_type_display="text")),
        upstreams=upstreams,
    )


def test_edges_from_the_entity_equal_the_edges_of_its_body() -> None:
    view = _view((
        TableUpstream(table="db.s.t", columns=(ColumnUpstream(downstream_column="a", upstream_columns=("a",)),)),
        TableUpstream(table="db.s.u", columns=(
            ColumnUpstream(downstream_column="a", upstream_columns=("a", "k")),
            ColumnUpstream(downstream_column="b", upstream_columns=("b",)),
        )),
    ))
    made = EntityWrite.of(view, fqn="svc.db.s.v", kind="table", database="db", schema_name="s")
    # The same write as it arrives from elsewhere (JSON only): the edges come from parsing the body.
    parsed = EntityWrite.model_validate_json(made.model_dump_json())
    assert parsed._upstreams is None
    assert made.upstream_edges() == parsed.upstream_edges() == [
        ("db.s.t", [{"upstream_columns": ["a"], "downstream_column": "a"}]),
        ("db.s.u", [{"upstream_columns": ["a", "k"], "downstream_column": "a"},
                    {"upstream_columns": ["b"], "downstream_column": "b"}]),
    ]


def test_a_table_without_upstreams_has_no_edges_either_way() -> None:
    made = EntityWrite.of(_view(()), fqn="svc.db.s.v", kind="table", database="db", schema_name="s")
    assert made.upstream_edges() == []
    assert EntityWrite.model_validate_json(made.model_dump_json()).upstream_edges() == []
