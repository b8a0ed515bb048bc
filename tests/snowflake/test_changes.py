"""Incremental: ``changes_since`` against a seeded ``SNOWFLAKE.ACCOUNT_USAGE`` stand-in on fakesnow.

Rows are seeded as Snowflake writes them: one row per incarnation (``TABLE_ID``) of a name;
``CREATE OR REPLACE`` leaves the old incarnation with ``DELETED`` set and a ``LAST_DDL`` *later*
than the new one's (OpenMetadata issue #28053); a rename keeps the ``TABLE_ID`` and ``CREATED``
and shows the new name.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from airflow_provider_omingest.exceptions import IncrementalUnsupported
from airflow_provider_omingest.models.changes import TableRef

from .conftest import utc

_ids = itertools.count(1000)


def seed_table(admin, db, schema, name, *, created, last_ddl, deleted=None, table_type="BASE TABLE",
               transient="NO", table_id=None):
    admin.sql(
        "insert into SNOWFLAKE.ACCOUNT_USAGE.TABLES (TABLE_ID, TABLE_NAME, TABLE_SCHEMA, TABLE_CATALOG, TABLE_TYPE,"
        " IS_TRANSIENT, CREATED, LAST_ALTERED, LAST_DDL, DELETED) values (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (table_id or next(_ids), name, schema, db, table_type, transient, created, last_ddl, last_ddl, deleted),
    )


def seed_schema(admin, db, schema, *, created, deleted=None):
    admin.sql(
        "insert into SNOWFLAKE.ACCOUNT_USAGE.SCHEMATA (SCHEMA_ID, SCHEMA_NAME, CATALOG_NAME, CREATED, LAST_ALTERED,"
        " DELETED) values (%s,%s,%s,%s,%s,%s)",
        (next(_ids), schema, db, created, created, deleted),
    )


@pytest.fixture
def history(admin):
    """Two databases with a day of DDL history; the window starts 6 hours ago."""
    db, other = admin.database("hist"), admin.database("other")
    old, recent, later = utc(24 * 30), utc(2), utc(1)
    # untouched for a month: not reported
    seed_table(admin, db, "S", "STABLE", created=old, last_ddl=old)
    # altered in the window (e.g. ALTER TABLE ADD COLUMN)
    seed_table(admin, db, "S", "ALTERED", created=old, last_ddl=recent)
    # created in the window
    seed_table(admin, db, "S", "NEW_TABLE", created=recent, last_ddl=recent)
    # dropped in the window
    seed_table(admin, db, "S", "DROPPED", created=old, last_ddl=recent, deleted=recent)
    # CREATE OR REPLACE: new incarnation created first, old one dropped just after (later LAST_DDL)
    seed_table(admin, db, "S", "REPLACED", created=recent, last_ddl=recent)
    seed_table(admin, db, "S", "REPLACED", created=old, last_ddl=later, deleted=later)
    # DROP then CREATE of the same name
    seed_table(admin, db, "S", "RECREATED", created=old, last_ddl=recent, deleted=recent)
    seed_table(admin, db, "S", "RECREATED", created=later, last_ddl=later)
    # ALTER TABLE OLD_NAME RENAME TO RENAMED: same TABLE_ID and CREATED, new name; old name gone
    seed_table(admin, db, "R", "RENAMED", created=old, last_ddl=recent)
    # transient table and views created in the window
    seed_table(admin, db, "S", "STAGING", created=recent, last_ddl=recent, transient="YES")
    seed_table(admin, db, "V", "REPORT", created=recent, last_ddl=recent, table_type="VIEW")
    seed_table(admin, db, "V", "MV", created=recent, last_ddl=recent, table_type="MATERIALIZED VIEW")
    # a session's temporary table: never reported
    seed_table(admin, db, "S", "TMP", created=recent, last_ddl=recent, table_type="TEMPORARY TABLE")
    # a schema created and one dropped in the window
    seed_schema(admin, db, "V", created=recent)
    seed_schema(admin, db, "GONE", created=old, deleted=recent)
    # another database: only reported when asked for
    seed_table(admin, other, "S", "ELSEWHERE", created=recent, last_ddl=recent)
    return db, other


def _names(refs):
    return sorted(f"{r.schema_name}.{r.table}" for r in refs)


def test_changes_in_one_query(history, make_source):
    db, _other = history
    source = make_source()
    changes = source.changes_since(utc(6), [db])
    assert source.round_trips == 1  # tables, schemata and the clock in one statement for the whole run

    assert changes.method == "SNOWFLAKE.ACCOUNT_USAGE.TABLES"
    assert _names(changes.changed) == [
        "R.RENAMED", "S.ALTERED", "S.NEW_TABLE", "S.RECREATED", "S.REPLACED", "S.STAGING", "V.MV", "V.REPORT",
    ]
    assert _names(changes.dropped) == ["S.DROPPED"]
    assert all(r.database == db for r in changes.changed + changes.dropped)
    assert changes.dropped_schemas == [(db, "GONE")]
    assert (db, "V") in changes.created_schemas
    assert changes.until is not None and changes.since < changes.until
    assert any("3:00:00" in n for n in changes.notes)


def test_recreated_names_are_never_dropped(history, make_source):
    db, _ = history
    changes = make_source().changes_since(utc(6), [db])
    dropped = set(changes.dropped)
    for name in ("REPLACED", "RECREATED"):
        ref = TableRef(database=db, schema_name="S", table=name)
        assert ref in changes.changed and ref not in dropped


def test_altered_or_renamed_tables_rescan_their_schema(history, make_source):
    db, _ = history
    changes = make_source().changes_since(utc(6), [db])
    # RENAMED (schema R) and ALTERED (schema S) existed before the window: only a whole-schema
    # read shows that a renamed table's old name is gone
    assert {(db, "R"), (db, "S")} <= set(changes.created_schemas)
    quiet = make_source(rescan_altered_schemas=False).changes_since(utc(6), [db])
    assert quiet.created_schemas == [(db, "V")]


def test_window_and_databases_bound_the_answer(history, make_source):
    db, other = history
    source = make_source()
    both = source.changes_since(utc(6), [db, other])
    assert TableRef(database=other, schema_name="S", table="ELSEWHERE") in both.changed
    late = source.changes_since(utc(0.5), [db])
    assert late.changed == [] and late.dropped == []
    assert source.changes_since(utc(1), []).changed == []


def test_unreadable_account_usage_means_incremental_unsupported(admin, make_source):
    db = admin.database("nogrant")
    with pytest.raises(IncrementalUnsupported) as err:
        make_source(account_usage="NOT_GRANTED.ACCOUNT_USAGE").changes_since(utc(6), [db])
    assert "IMPORTED PRIVILEGES" in err.value.reason


def test_history_older_than_retention_is_refused(make_source):
    with pytest.raises(IncrementalUnsupported):
        make_source().changes_since(utc(24 * 400), ["ANY"])


def test_naive_since_is_utc(history, make_source):
    db, _ = history
    naive = (utc(6)).replace(tzinfo=None)
    changes = make_source().changes_since(naive, [db])
    assert changes.since.tzinfo is not None and changes.since.utcoffset() == timedelta(0)
    assert _names(changes.dropped) == ["S.DROPPED"]
