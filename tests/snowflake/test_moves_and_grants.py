"""Snowflake as its documentation describes it: moved tables (TABLE_ID), grants, errors, timeouts.

Through the real Snowflake connector against fakesnow, with ``ACCOUNT_USAGE.TABLES`` kept by
:class:`~tests.snowflake.account_usage.AccountUsageTables` as Snowflake keeps it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog
from airflow_provider_omingest.config import Filters, IngestionSettings
from airflow_provider_omingest.engine.runner import run_ingestion
from airflow_provider_omingest.exceptions import SourceError
from airflow_provider_omingest.models.run import RunRequest
from airflow_provider_omingest.models.units import WorkUnit
from airflow_provider_omingest.sources.snowflake.source import SnowflakeConfig, SnowflakeSource
from tests.snowflake.account_usage import AccountUsageTables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "snowflake.md"


def _settings(*databases: str) -> IngestionSettings:
    include = [f"^{d}$" for d in databases]
    return IngestionSettings(service="snow", filters=Filters(database={"include": include}), threads=1,
                             max_delete_fraction=0.5)


# --------------------------------------------------------------------------- 7: moves


@pytest.mark.parametrize("to", ["schema", "database"])
def test_a_moved_table_is_deleted_under_its_old_name(admin, make_source, tmp_path, to):
    db, other = admin.database("moves"), admin.database("target")
    au = AccountUsageTables(admin)
    for database, schema in ((db, "S1"), (db, "S2"), (other, "S1")):
        admin.sql(f'create schema "{database}".{schema}')
    au.create_table(db, "S1", "T", "ID int, NAME varchar")
    for i in range(4):
        au.create_table(db, "S1", f"KEEP{i}", "ID int")
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    settings = _settings(db, other)

    def run(mode: str):
        # The watermark is the catalog's record of the last successful run, as `omingest run` keeps it.
        return run_ingestion(lambda: make_source(include_tags=False), catalog, settings,
                             RunRequest(run_id=f"run-{mode}", requested_mode=mode))

    first = run("full")
    assert first.status == "success" and first.totals["created"] == 5
    target = (db, "S2") if to == "schema" else (other, "S1")
    au.rename(db, "S1", "T", *target, "T")  # ALTER TABLE db.S1.T RENAME TO <target>.T

    second = run("incremental")

    assert second.status == "success" and second.mode == "incremental", second
    live = {t["fqn"] for t in catalog.list_tables("snow")}
    old, new = f"snow.{db}.S1.T", f"snow.{target[0]}.{target[1]}.T"
    assert new in live, "the new name is created"
    assert old not in live, "the old name is deleted: the table moved"
    assert second.totals.get("deleted") == 1
    assert any("moved" in n for n in second.notes)
    # The two names' histories point at each other.
    assert catalog.history(new)[0].changes == {"moved_from": old}
    assert catalog.history(old)[-1].changes == {"moved_to": new}


def test_extraction_reads_table_ids_and_a_replaced_table_gets_the_new_one(admin, make_source, tmp_path):
    db = admin.database("ids")
    au = AccountUsageTables(admin)
    admin.sql(f'create schema "{db}".S')
    first_id = au.create_table(db, "S", "T", "ID int")
    source = make_source(include_tags=False)
    (snap,) = source.extract(WorkUnit(unit_id="u", database=db, schemas=("S",)), Filters())
    assert [(t.name, t.object_id) for t in snap.tables] == [("T", str(first_id))]
    second_id = au.create_table(db, "S", "T", "ID int", replace=True)  # CREATE OR REPLACE: same structure
    (again,) = source.extract(WorkUnit(unit_id="u", database=db, schemas=("S",)), Filters())
    assert [(t.name, t.object_id) for t in again.tables] == [("T", str(second_id))]
    assert again.tables[0].fingerprint() == snap.tables[0].fingerprint(), "the id is not structure"


def test_changes_report_the_table_id_of_the_live_incarnation(admin, make_source):
    from tests.snowflake.conftest import utc

    db = admin.database("chg")
    au = AccountUsageTables(admin)
    admin.sql(f'create schema "{db}".S')
    admin.sql(f'create schema "{db}".R')
    au.create_table(db, "S", "T", "ID int", at=utc(30))
    replaced = au.create_table(db, "S", "T", "ID int", replace=True, at=utc(2))
    au.create_table(db, "S", "M", "ID int", at=utc(30))
    au.rename(db, "S", "M", db, "R", "M", at=utc(1))
    changes = make_source().changes_since(utc(6), [db])
    refs = {k: (v.schema_name, v.table) for k, v in changes.object_ids.items()}
    assert refs == {str(replaced): ("S", "T"), str(au.id_of(db, "R", "M")): ("R", "M")}


# --------------------------------------------------------------------------- 8: grants


@pytest.fixture
def object_viewer_only(admin) -> str:
    """An account usage location a role with only OBJECT_VIEWER sees.

    SNOWFLAKE database roles (https://docs.snowflake.com/en/sql-reference/snowflake-db-roles):
    OBJECT_VIEWER is granted SELECT on TABLES and SCHEMATA, not on TAG_REFERENCES (GOVERNANCE_VIEWER).
    A view the role is not granted answers "Object does not exist or not authorized" (002003).
    """
    location = admin.database("ov_only")
    admin.sql(f'create schema "{location}".ACCOUNT_USAGE')
    for view in ("TABLES", "SCHEMATA"):
        admin.sql(f'create view "{location}".ACCOUNT_USAGE.{view} as select * from SNOWFLAKE.ACCOUNT_USAGE.{view}')
    return f'"{location}".ACCOUNT_USAGE'


def test_tags_need_governance_viewer_and_the_warning_says_so(admin, make_source, object_viewer_only, caplog):
    db = admin.database("grants")
    au = AccountUsageTables(admin)
    admin.sql(f'create schema "{db}".S')
    table_id = au.create_table(db, "S", "T", "ID int")
    source = make_source(account_usage=object_viewer_only)
    with caplog.at_level(logging.WARNING):
        (snap,) = source.extract(WorkUnit(unit_id="u", database=db, schemas=("S",)), Filters())
    assert [(t.name, t.object_id) for t in snap.tables] == [("T", str(table_id))], "OBJECT_VIEWER covers TABLES"
    warning = " ".join(r.getMessage() for r in caplog.records if "Tags are left out" in r.getMessage())
    assert "GOVERNANCE_VIEWER" in warning
    assert source.changes_since(source.now(), [db]).method.endswith(".TABLES"), "changes need OBJECT_VIEWER only"


def _relied_on_rows(path: Path) -> list[str]:
    """Return the rows of the 'What we rely on' table of a warehouse's doc."""
    text = path.read_text()
    assert "## What we rely on" in text, f"{path.name} has a 'What we rely on' section"
    section = text.split("## What we rely on", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_the_docs_name_the_grant_each_view_needs():
    rows = _relied_on_rows(DOCS)
    tags = [r for r in rows if "TAG_REFERENCES" in r.split("|")[1]]
    assert tags and all("GOVERNANCE_VIEWER" in r and "OBJECT_VIEWER" not in r for r in tags), tags
    tables = [r for r in rows if re.search(r"ACCOUNT_USAGE\.TABLES\b", r.split("|")[1])]
    assert tables and all("OBJECT_VIEWER" in r for r in tables), tables


# --------------------------------------------------------------------------- errors, odd tables, timeouts


def test_a_missing_database_is_terminal(make_source):
    with pytest.raises(SourceError) as info:
        list(make_source(include_tags=False).extract(WorkUnit(unit_id="u", database="NO_SUCH_DB", schemas=("S",)),
                                                     Filters()))
    assert info.value.schema == "S" and not info.value.retryable
    assert "2003" in info.value.reason


@pytest.mark.parametrize("errno, sqlstate, transient", [
    (2003, "42S02", False),  # object does not exist or not authorized
    (3001, "42501", False),  # insufficient privileges
    (390100, "08004", False),  # incorrect username or password
    (630, "57014", True),    # statement reached its statement timeout
    (604, "57014", True),    # SQL execution canceled
    (250001, None, True),    # could not connect (network)
])
def test_snowflake_errors_are_classified(errno, sqlstate, transient):
    from snowflake.connector.errors import OperationalError, ProgrammingError

    kind = OperationalError if errno == 250001 else ProgrammingError
    error = kind(msg="boom", errno=errno, sqlstate=sqlstate)
    assert SnowflakeSource(SnowflakeConfig(account="a")).is_transient(error) is transient


def test_an_odd_table_is_unreflectable_and_the_schema_goes_on(admin, make_source, monkeypatch):
    from airflow_provider_omingest.sources.snowflake import source as snowflake_source

    original = snowflake_source.build_table

    def build_table(relation, *args, **kwargs):
        if relation.name == "ODD":
            raise ValueError("a clustering key nobody expected")
        return original(relation, *args, **kwargs)

    monkeypatch.setattr(snowflake_source, "build_table", build_table)
    db = admin.database("odd")
    admin.sql(f'create schema "{db}".S')
    admin.sql(f'create table "{db}".S.FINE (ID int)')
    admin.sql(f'create table "{db}".S.ODD (ID int)')
    (snap,) = make_source(include_tags=False).extract(WorkUnit(unit_id="u", database=db, schemas=("S",)), Filters())
    assert [t.name for t in snap.tables] == ["FINE"] and snap.complete
    assert snap.unreflectable == {"ODD": "ValueError: a clustering key nobody expected"}


def test_statement_timeout_is_a_session_parameter(sf_config):
    assert SnowflakeConfig(account="a").connect_kwargs()["session_parameters"] == {
        "STATEMENT_TIMEOUT_IN_SECONDS": 600}
    mine = SnowflakeConfig(account="a", session_parameters={"statement_timeout_in_seconds": 60, "QUERY_TAG": "x"})
    assert mine.connect_kwargs()["session_parameters"] == {"statement_timeout_in_seconds": 60, "QUERY_TAG": "x"}
    explicit = SnowflakeConfig(account="a", session_parameters={"STATEMENT_TIMEOUT_IN_SECONDS": 60},
                               statement_timeout="30")
    assert explicit.connect_kwargs()["session_parameters"] == {"STATEMENT_TIMEOUT_IN_SECONDS": 30}
    with pytest.raises(Exception, match="statement_timeout"):
        SnowflakeConfig(account="a", statement_timeout="soon")
    # The connector logs in with it.
    config = SnowflakeConfig(**{**sf_config.__dict__, "statement_timeout": 45})
    with SnowflakeSource(config) as source:
        assert source.now().tzinfo is not None
        assert source._conn._session_parameters["STATEMENT_TIMEOUT_IN_SECONDS"] == 45
