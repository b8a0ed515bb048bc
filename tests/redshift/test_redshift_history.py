"""What Redshift documents about its DDL history and clock, against the stand-in, through redshift_connector.

Rows 1–4 of the warehouse-fidelity list: ``#temp`` tables, ``WITH … SELECT INTO``, statements
longer than 4,000 characters (provisioned and Serverless), and the session time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_omingest.exceptions import IncrementalUnsupported, SourceError
from airflow_provider_omingest.models.changes import TableRef
from airflow_provider_omingest.sources.redshift.history import RedshiftChangeReader
from tests.redshift.conftest import RedshiftDatabase


def ref(db: RedshiftDatabase, schema: str, table: str) -> TableRef:
    return TableRef(database=db.name, schema_name=schema, table=table)


# --------------------------------------------------------------------------- 1: #temp tables


def test_temp_tables_of_etl_are_not_changes_and_do_not_stop_the_run(rs_db: RedshiftDatabase) -> None:
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.src (id int)")
    with rs_db.source() as source:
        since = source.now()
        # A typical ETL step, logged as Redshift logs it (plain PostgreSQL has no #names).
        rs_db.record("CREATE TABLE #stage (id int, v varchar(10))")
        rs_db.record("SELECT id INTO #picked FROM app.src WHERE id > 1", query_type="CTAS")
        rs_db.record("insert into app.src select id from #stage", query_type="INSERT")
        rs_db.record("ALTER TABLE #stage ADD COLUMN w int")
        rs_db.record("DROP TABLE #stage, #picked")
        rs_db.sql("CREATE TABLE app.result (id int)")
        changes = source.changes_since(since, [rs_db.name])
    assert changes.changed == [ref(rs_db, "app", "result")]
    assert changes.dropped == []


# --------------------------------------------------------------------------- 2: WITH … SELECT INTO


def test_select_into_after_a_with_clause_is_a_created_table(rs_db: RedshiftDatabase) -> None:
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.src (id int)")
    with rs_db.source() as source:
        since = source.now()
        rs_db.sql("WITH recent AS (SELECT id FROM app.src WHERE id > 0) SELECT id INTO app.snapshot FROM recent",
                  "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT x INTO app.second FROM b")
        changes = source.changes_since(since, [rs_db.name])
    assert changes.changed == [ref(rs_db, "app", "second"), ref(rs_db, "app", "snapshot")]


# --------------------------------------------------------------------------- 3: long statements


@pytest.mark.parametrize("serverless", [False, True], ids=["provisioned", "serverless"])
def test_long_ctas_is_read_from_sys_query_text(make_redshift_db: Callable[..., RedshiftDatabase],
                                                serverless: bool) -> None:
    db = make_redshift_db(serverless=serverless)
    db.sql("CREATE SCHEMA app", "CREATE TABLE app.src (id int)", "CREATE TABLE app.doomed (id int)")
    if serverless:
        assert db.query("select to_regclass('pg_catalog.stl_ddltext')")[0][0] is None
    columns = ", ".join(f"id + {i} AS column_number_{i:04d}" for i in range(250))  # a dbt model
    with db.source() as source:
        since = source.now()
        db.sql(f"CREATE TABLE app.wide AS SELECT {columns} FROM app.src")
        db.sql(f"CREATE TABLE app.model AS SELECT {columns} FROM app.src; DROP TABLE app.doomed")
        assert len(db.query("select query_text from sys_query_history where query_type = 'CTAS'")[0][0]) == 4000
        changes = source.changes_since(since, [db.name])
    assert changes.method == "SYS_QUERY_HISTORY + SYS_QUERY_TEXT"
    assert changes.changed == [ref(db, "app", "model"), ref(db, "app", "wide")]
    assert changes.dropped == [ref(db, "app", "doomed")], "the statement after 4,000 characters is read too"


def test_a_truncated_ctas_without_its_full_text_still_names_its_table() -> None:
    """SYS_QUERY_TEXT answers nothing for the query: the CTAS is read from the history's 4,000 characters."""
    prefix = "create table app.t as select " + ", ".join(f"c{i}" for i in range(2000))
    start = datetime(2026, 1, 1)
    history = [("window", None, None, None, start, start + timedelta(days=1), None, None, None),
               ("ddl", 7, "CTAS", "dev", start + timedelta(hours=1), start + timedelta(hours=1), 1, 1, prefix[:4000]),
               ("ddl", 8, "DDL", "dev", start + timedelta(hours=2), start + timedelta(hours=2), 2, 1,
                "create table app.cut (" + "x int, " * 600)]

    def fetch(database: str, sql: str, params: object) -> list[tuple[object, ...]]:
        if "usesuper" in sql:
            return [(True,)]
        if "sys_query_history" in sql:
            return history
        return []  # sys_query_text

    reader = RedshiftChangeReader(fetch, home="dev", kind="redshift", default_schema="public",
                                  trust_history_visibility=False)
    since = start.replace(tzinfo=timezone.utc) + timedelta(minutes=1)
    with pytest.raises(IncrementalUnsupported, match="query 8"):
        reader.changes_since(since, ["dev"])
    history.pop()
    changes = reader.changes_since(since, ["dev"])
    assert changes.changed == [TableRef(database="dev", schema_name="app", table="t")]
    assert any("query 7 (CTAS)" in n for n in changes.notes)


# --------------------------------------------------------------------------- 4: the clock


@pytest.fixture
def tokyo(rs_db: RedshiftDatabase) -> str:
    """A superuser whose sessions are in Tokyo time (ALTER USER … SET timezone: r_timezone_config.html)."""
    name = f"tokyo_{rs_db.name}"  # roles are shared by the server's databases
    rs_db.sql(f"CREATE ROLE {name} LOGIN SUPERUSER", f"ALTER ROLE {name} SET timezone = 'Asia/Tokyo'")
    return name


def test_the_stand_in_clock_follows_the_session_time_zone(rs_db: RedshiftDatabase, tokyo: str) -> None:
    import redshift_connector

    conn = redshift_connector.connect(database=rs_db.name, **rs_db.connect_kwargs(tokyo))
    try:
        cursor = conn.cursor()
        cursor.execute("select getdate(), sysdate")
        getdate, sysdate = cursor.fetchone()
    finally:
        conn.close()
    utc = datetime.now(timezone.utc).replace(tzinfo=None)
    assert abs((getdate - utc) - timedelta(hours=9)) < timedelta(minutes=1)
    assert abs((sysdate - utc) - timedelta(hours=9)) < timedelta(minutes=1)


def test_the_clock_is_utc_in_any_session_time_zone(rs_db: RedshiftDatabase, tokyo: str) -> None:
    rs_db.sql("CREATE SCHEMA app")
    with rs_db.source(user=tokyo) as source:
        now = source.now()
        assert abs(now - datetime.now(timezone.utc)) < timedelta(minutes=1), now
        # A watermark read in Tokyo time would be 9 hours ahead: the change below would be missed.
        rs_db.sql("CREATE TABLE app.after_the_watermark (id int)")
        changes = source.changes_since(now, [rs_db.name])
    assert changes.changed == [ref(rs_db, "app", "after_the_watermark")]
    assert changes.until is not None and changes.until - now < timedelta(minutes=1)


# --------------------------------------------------------------------------- timeouts and errors


def test_every_statement_is_bounded_by_the_statement_timeout(rs_db: RedshiftDatabase) -> None:
    with rs_db.source(statement_timeout=0.5) as source:
        assert source._fetch(rs_db.name, "show statement_timeout") == [("500ms",)]
        assert source._fetch(rs_db.name, "show timezone") == [("UTC",)]
        with pytest.raises(SourceError) as info, source.reading(rs_db.name, None):
            source._fetch(rs_db.name, "select pg_sleep(3)")
    assert "statement timeout" in info.value.reason and info.value.retryable


def test_permission_denied_is_terminal_and_connection_failure_transient(rs_db: RedshiftDatabase) -> None:
    reader = f"reader_{rs_db.name}"
    rs_db.sql(f"CREATE ROLE {reader} LOGIN", f"GRANT CONNECT ON DATABASE {rs_db.name} TO {reader}", "CREATE SCHEMA app",
              "REVOKE SELECT ON pg_catalog.svv_all_columns FROM PUBLIC", "CREATE TABLE app.t (id int)")
    from airflow_provider_omingest.config import Filters
    from airflow_provider_omingest.models.units import WorkUnit

    with rs_db.source(user=reader) as source, pytest.raises(SourceError) as denied:
        list(source.extract(WorkUnit(unit_id="u", database=rs_db.name, schemas=("app",)), Filters()))
    assert denied.value.schema == "app" and not denied.value.retryable
    assert "permission denied" in denied.value.reason and "42501" in denied.value.reason
    with rs_db.source(user="nobody_here") as source, pytest.raises(SourceError) as login:
        source.list_schemas(rs_db.name)
    assert not login.value.retryable, "a role that does not exist will not exist on retry"
    closed = {**rs_db.connect_kwargs(), "port": 1, "timeout": 2}
    from airflow_provider_omingest.sources.redshift import RedshiftSource

    with RedshiftSource(closed, database=rs_db.name) as source, pytest.raises(SourceError) as refused:
        source.list_schemas(rs_db.name)
    assert refused.value.retryable


def test_an_odd_table_is_unreflectable_and_the_schema_goes_on(rs_db: RedshiftDatabase,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_omingest.config import Filters
    from airflow_provider_omingest.models.units import WorkUnit
    from airflow_provider_omingest.sources.redshift import source as redshift_source

    original = redshift_source.build_table

    def build_table(relation, *args, **kwargs):
        if relation.name == "odd":
            raise ValueError("an encoding nobody expected")
        return original(relation, *args, **kwargs)

    monkeypatch.setattr(redshift_source, "build_table", build_table)
    rs_db.sql("CREATE SCHEMA app", "CREATE TABLE app.fine (id int)", "CREATE TABLE app.odd (id int)")
    with rs_db.source() as source:
        (snapshot,) = source.extract(WorkUnit(unit_id="u", database=rs_db.name, schemas=("app",)), Filters())
    assert [t.name for t in snapshot.tables] == ["fine"] and snapshot.complete
    assert snapshot.unreflectable == {"odd": "ValueError: an encoding nobody expected"}
    assert snapshot.tables[0].object_id is not None and snapshot.tables[0].object_id.startswith(f"{rs_db.name}/")
