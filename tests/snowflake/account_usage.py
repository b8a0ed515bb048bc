"""DDL run through fakesnow, with ``SNOWFLAKE.ACCOUNT_USAGE.TABLES`` kept as Snowflake keeps it.

fakesnow has no Account Usage views: the session creates ``TABLES`` (keyed by ``TABLE_ID``) and
this helper writes its rows as each statement would, following Snowflake's reference pages:

- TABLES view (https://docs.snowflake.com/en/sql-reference/account-usage/tables): "a row for each
  table and view in the account"; ``TABLE_ID`` is the "internal, Snowflake-generated identifier for
  the table", one row per incarnation; ``CREATED`` is when it was created; ``LAST_DDL`` the time
  of the last DDL operation on it ("all supported table/view DDL operations update this field");
  ``DELETED`` is when it was dropped (the row stays).
- CREATE OR REPLACE TABLE (https://docs.snowflake.com/en/sql-reference/sql/create-table): drops the
  existing table and creates a new one: the old incarnation is deleted, the new one has a new id.
- ALTER TABLE … RENAME TO (https://docs.snowflake.com/en/sql-reference/sql/alter-table): "you can
  move the object to a different database and/or schema ... specify a qualified new_name ... in the
  form db_name.schema_name.object_name". The table keeps its identity: the row keeps its
  ``TABLE_ID`` and ``CREATED`` and shows the new name; the old name appears nowhere.

The views lag real time (up to 90 minutes for TABLES); tests set the times themselves, so the lag
is modelled by the timestamps a test writes, not by a delay.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

_ids = itertools.count(7_000_000)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _q(*parts: str) -> str:
    return ".".join(f'"{p}"' for p in parts)


class AccountUsageTables:
    """Run table DDL on fakesnow and keep ``SNOWFLAKE.ACCOUNT_USAGE.TABLES`` in step, by ``TABLE_ID``.

    :param admin: the tests' setup connection (``conftest.Admin``).
    """

    def __init__(self, admin: Any) -> None:
        self.admin = admin

    def id_of(self, database: str, schema: str, name: str) -> int:
        """Return the ``TABLE_ID`` of the live table of this name."""
        rows = self.admin.sql(
            "select TABLE_ID from SNOWFLAKE.ACCOUNT_USAGE.TABLES where TABLE_CATALOG = %s and TABLE_SCHEMA = %s "
            "and TABLE_NAME = %s and DELETED is null", (database, schema, name))
        assert len(rows) == 1, rows
        return int(rows[0]["TABLE_ID"])

    def create_table(self, database: str, schema: str, name: str, columns: str, *, replace: bool = False,
                     at: datetime | None = None) -> int:
        """``CREATE [OR REPLACE] TABLE database.schema.name (columns)``; return the new ``TABLE_ID``."""
        at = at or _now()
        verb = "create or replace table" if replace else "create table"
        self.admin.sql(f"{verb} {_q(database, schema, name)} ({columns})")
        if replace:
            self.admin.sql(
                "update SNOWFLAKE.ACCOUNT_USAGE.TABLES set DELETED = %s, LAST_DDL = %s where TABLE_CATALOG = %s "
                "and TABLE_SCHEMA = %s and TABLE_NAME = %s and DELETED is null", (at, at, database, schema, name))
        table_id = next(_ids)
        self.admin.sql(
            "insert into SNOWFLAKE.ACCOUNT_USAGE.TABLES (TABLE_ID, TABLE_NAME, TABLE_SCHEMA, TABLE_CATALOG, "
            "TABLE_TYPE, IS_TRANSIENT, CREATED, LAST_ALTERED, LAST_DDL) values (%s, %s, %s, %s, 'BASE TABLE', 'NO', "
            "%s, %s, %s)", (table_id, name, schema, database, at, at, at))
        return table_id

    def rename(self, database: str, schema: str, name: str, to_database: str, to_schema: str, to_name: str, *,
               at: datetime | None = None) -> None:
        """``ALTER TABLE database.schema.name RENAME TO to_database.to_schema.to_name``.

        fakesnow (DuckDB) renames within a schema only: the table is moved by copying it to its new
        place and dropping the old one, which is what a reader of the catalog sees.
        """
        at = at or _now()
        table_id = self.id_of(database, schema, name)
        self.admin.sql(f"create table {_q(to_database, to_schema, to_name)} as select * from "
                       f"{_q(database, schema, name)}")
        self.admin.sql(f"drop table {_q(database, schema, name)}")
        self.admin.sql(
            "update SNOWFLAKE.ACCOUNT_USAGE.TABLES set TABLE_NAME = %s, TABLE_SCHEMA = %s, TABLE_CATALOG = %s, "
            "LAST_ALTERED = %s, LAST_DDL = %s where TABLE_ID = %s",
            (to_name, to_schema, to_database, at, at, table_id))

    def drop(self, database: str, schema: str, name: str, *, at: datetime | None = None) -> None:
        """``DROP TABLE database.schema.name``: the incarnation's row stays, with ``DELETED`` set."""
        at = at or _now()
        table_id = self.id_of(database, schema, name)
        self.admin.sql(f"drop table {_q(database, schema, name)}")
        self.admin.sql("update SNOWFLAKE.ACCOUNT_USAGE.TABLES set DELETED = %s, LAST_DDL = %s where TABLE_ID = %s",
                       (at, at, table_id))
