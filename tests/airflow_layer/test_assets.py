"""Assets: the event a run that changed the catalog emits, and Asset-scheduled ingestions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from airflow_provider_omingest.assets import asset_event_extra, service_asset, service_asset_alias
from airflow_provider_omingest.demo.warehouse import mutate_demo_warehouse
from airflow_provider_omingest.engine.summary import RunSummary
from airflow_provider_omingest.exceptions import ConfigError
from airflow_provider_omingest.models.units import CHANGED_NAMES_LIMIT
from tests.airflow_layer.test_dag_end_to_end import _dag, _run, env  # noqa: F401 - env is a fixture

pytestmark = pytest.mark.airflow


def _summary(**kw) -> RunSummary:
    return RunSummary(service="wh", mode="full", mode_reason="r", status="success", **kw)


def test_the_service_asset_uri_is_percent_encoded_and_matches_a_hand_written_asset():
    from airflow.sdk import Asset

    asset = service_asset("warehouse")
    assert asset == Asset("omingest://warehouse") == Asset(uri="omingest://warehouse")
    assert (asset.name, asset.uri) == ("omingest://warehouse", "omingest://warehouse/")
    assert service_asset("sales eu/prod").uri == "omingest://sales%20eu%2Fprod/"
    assert service_asset_alias("warehouse", "ingest_wh").name == "omingest__warehouse__ingest_wh"


def test_no_extra_when_nothing_changed_or_a_dry_run():
    assert asset_event_extra(_summary(totals={"unchanged": 5}), dag_id="d", run_id="r") is None
    assert asset_event_extra(_summary(totals={"created": 2}, dry_run=True), dag_id="d", run_id="r") is None


def test_the_extra_holds_counts_and_capped_names():
    many = [f"wh.db.s.t{i:04d}" for i in range(CHANGED_NAMES_LIMIT)]
    summary = _summary(totals={"created": 250, "deleted": 1, "unchanged": 3},
                       changed_tables={"created": many, "deleted": ["wh.db.s.gone"]}, restricted_to=["db.s"])
    extra = asset_event_extra(summary, dag_id="ingest", run_id="run1")
    assert extra["counts"] == {"created": 250, "updated": 0, "deleted": 1}
    assert extra["tables"] == {"created": many, "updated": [], "deleted": ["wh.db.s.gone"]}
    assert extra["truncated"] is True and extra["limit"] == CHANGED_NAMES_LIMIT
    assert (extra["service"], extra["dag_id"], extra["run_id"], extra["restricted_to"]) == (
        "wh", "ingest", "run1", ["db.s"])
    small = asset_event_extra(_summary(totals={"updated": 1}, changed_tables={"updated": ["wh.db.s.t"]}),
                              dag_id="d", run_id="r")
    assert small["truncated"] is False


def test_the_summary_task_declares_the_alias_as_its_outlet(airflow_db):
    dag = _dag("assets")
    assert dag.get_task("summary").outlets == [service_asset_alias("demo", dag.dag_id)]
    assert all(not dag.get_task(t).outlets for t in ("plan", "delete"))


def test_two_dags_of_one_service_emit_through_aliases_of_their_own(airflow_db):
    # Airflow ties an alias to its Asset on the alias's first event: one alias shared by two DAGs
    # made their first events race on asset_alias_asset's primary key.
    first, second = _dag("assets"), _dag("changes")
    outlets = [first.get_task("summary").outlets, second.get_task("summary").outlets]
    assert outlets == [[service_asset_alias("demo", "omingest_test_assets")],
                       [service_asset_alias("demo", "omingest_test_changes")]]
    assert first.get_task("summary").inlets == second.get_task("summary").inlets == [service_asset("demo")]


def test_operators_validate_their_asset_arguments_and_the_event_can_be_turned_off():
    from airflow_provider_omingest.operators import OmingestPlanOperator, OmingestSummaryOperator

    settings = {"service": "s"}
    assert OmingestSummaryOperator(task_id="s1", catalog_conn_id="c", settings=settings,
                                   emit_asset_event=False).outlets == []
    with pytest.raises(ConfigError, match="emit_asset_event=1"):
        OmingestSummaryOperator(task_id="s2", catalog_conn_id="c", settings=settings, emit_asset_event=1)
    with pytest.raises(ConfigError, match="scope_from_asset_events='true'"):
        OmingestPlanOperator(task_id="p", source_conn_id="w", catalog_conn_id="c", settings=settings,
                             scope_from_asset_events="true")


def test_the_headline_names_the_restriction():
    assert _summary(restricted_to=["db.a"]).headline().endswith("; restricted to db.a")


def test_scope_from_asset_events_is_validated_at_parse_time():
    from airflow.sdk import Asset, AssetOrTimeSchedule
    from airflow.timetables.trigger import CronTriggerTimetable

    from airflow_provider_omingest import build_ingestion_dag

    base = {"source_conn_id": "wh", "service": "s"}
    with pytest.raises(ConfigError, match="scope_from_asset_events='yes': expected True or False"):
        build_ingestion_dag("t_scope_bad", scope_from_asset_events="yes", schedule=[Asset("dbt://x")], **base)
    with pytest.raises(ConfigError, match="schedule='@daily' names no Asset"):
        build_ingestion_dag("t_scope_cron", scope_from_asset_events=True, schedule="@daily", **base)
    up, other = Asset("dbt://x"), Asset("dbt://y")
    for schedule in ([up], up, up | other, AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"), assets=[up])):
        dag = build_ingestion_dag("t_scope_ok", scope_from_asset_events=True, schedule=schedule, **base)
        assert dag.get_task("plan").scope_from_asset_events is True


def _events_of(dag_id):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(select(AssetModel.uri, AssetEvent.extra, AssetEvent.source_run_id)
                               .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                               .where(AssetEvent.source_dag_id == dag_id)
                               .order_by(AssetEvent.id)).all()
    return [(uri, extra, run_id) for uri, extra, run_id in rows]


def test_a_run_emits_an_event_only_when_the_catalog_changed(env):  # noqa: F811 - the fixture
    dag = _dag("assets")
    dr, summary = _run(dag, mode="full")
    assert dr.state == "success" and summary["totals"]["created"] == 34
    events = _events_of(dag.dag_id)
    assert len(events) == 1
    uri, extra, run_id = events[0]
    assert uri == "omingest://demo/" and run_id == dr.run_id
    assert extra["counts"] == {"created": 34, "updated": 0, "deleted": 0} and extra["truncated"] is False
    assert len(extra["tables"]["created"]) == 34 and "demo.warehouse.sales.orders" in extra["tables"]["created"]

    dr, summary = _run(dag)  # nothing changed: no event
    assert dr.state == "success" and summary["totals"].get("unchanged") == 34
    assert len(_events_of(dag.dag_id)) == 1

    mutate_demo_warehouse(env["warehouse"])
    dr, _ = _run(dag)
    events = _events_of(dag.dag_id)
    assert len(events) == 2 and events[-1][2] == dr.run_id
    extra = events[-1][1]
    assert extra["counts"] == {"created": 1, "updated": 2, "deleted": 1}
    assert extra["tables"] == {
        "created": ["demo.warehouse.marketing.email_sends"],
        "updated": ["demo.warehouse.finance.invoices", "demo.warehouse.sales.customers"],
        "deleted": ["demo.warehouse.staging.tmp_currency_rates"],
    }
