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

``OBJECT_DEPENDENCIES`` is kept by :class:`ObjectDependencies`, by the rules of its reference page
(https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies) and of the object
dependencies guide (https://docs.snowflake.com/en/user-guide/object-dependencies), cited next to
each rule below.
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
        verb = "create or replace table" if replace else "create table"
        self.admin.sql(f"{verb} {_q(database, schema, name)} ({columns})")
        return self.record_created(database, schema, name, "BASE TABLE", replace=replace, at=at or _now())

    def record_created(self, database: str, schema: str, name: str, table_type: str, *, replace: bool,
                       at: datetime) -> int:
        """Add the ``TABLES`` row of a new incarnation (a replaced one gets ``DELETED``); return its id."""
        if replace:
            self.admin.sql(
                "update SNOWFLAKE.ACCOUNT_USAGE.TABLES set DELETED = %s, LAST_DDL = %s where TABLE_CATALOG = %s "
                "and TABLE_SCHEMA = %s and TABLE_NAME = %s and DELETED is null", (at, at, database, schema, name))
        table_id = next(_ids)
        self.admin.sql(
            "insert into SNOWFLAKE.ACCOUNT_USAGE.TABLES (TABLE_ID, TABLE_NAME, TABLE_SCHEMA, TABLE_CATALOG, "
            "TABLE_TYPE, IS_TRANSIENT, CREATED, LAST_ALTERED, LAST_DDL) values (%s, %s, %s, %s, %s, 'NO', "
            "%s, %s, %s)", (table_id, name, schema, database, table_type, at, at, at))
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


class ObjectDependencies:
    """Create views on fakesnow and keep ``SNOWFLAKE.ACCOUNT_USAGE.OBJECT_DEPENDENCIES`` as Snowflake keeps it.

    Views get a ``TABLES`` row as tables do (the TABLES view has "a row for each table and view":
    https://docs.snowflake.com/en/sql-reference/account-usage/tables). Their dependencies are
    written late: "Latency for this view may be up to three hours"
    (https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies), so a view's rows
    appear only when the test calls :meth:`catch_up`, and a view created or replaced after that has
    none of its own until the next call.

    :param tables: the ``ACCOUNT_USAGE.TABLES`` keeper (for object ids and domains).
    """

    def __init__(self, tables: AccountUsageTables) -> None:
        self.tables = tables
        self.admin = tables.admin
        self._pending: list[tuple[Any, ...]] = []

    def create_view(self, database: str, schema: str, name: str, select: str,
                    reads: list[tuple[str, str, str]], *, replace: bool = False,
                    at: datetime | None = None) -> int:
        """``CREATE [OR REPLACE] VIEW database.schema.name AS select``; return the view's ``TABLE_ID``.

        :param reads: the (database, schema, name) of each object the view references, as
            Snowflake resolves its definition.
        """
        at = at or _now()
        verb = "create or replace view" if replace else "create view"
        self.admin.sql(f"{verb} {_q(database, schema, name)} as {select}")
        # CREATE OR REPLACE replaces the object, as for tables (CREATE OR REPLACE TABLE:
        # https://docs.snowflake.com/en/sql-reference/sql/create-table): the old incarnation is
        # deleted and the new one has a new id, with no dependency rows of its own yet.
        view_id = self.tables.record_created(database, schema, name, "VIEW", replace=replace, at=at)
        for ref_db, ref_schema, ref_name in reads:
            ref_id = self.tables.id_of(ref_db, ref_schema, ref_name)
            kind = self.admin.sql("select TABLE_TYPE from SNOWFLAKE.ACCOUNT_USAGE.TABLES where TABLE_ID = %s",
                                  (ref_id,))[0]["TABLE_TYPE"]
            # "one row for each object dependency": a view reading two tables has two rows; the
            # domain is e.g. TABLE or VIEW
            # (https://docs.snowflake.com/en/sql-reference/account-usage/object_dependencies).
            domain = "VIEW" if kind == "VIEW" else "TABLE"
            # A view naming a table in its FROM clause is a BY_NAME dependency
            # (https://docs.snowflake.com/en/user-guide/object-dependencies).
            self._pending.append((ref_db, ref_schema, ref_name, ref_id, domain, database, schema, name, view_id,
                                  "VIEW", "BY_NAME"))
        return view_id

    def catch_up(self) -> None:
        """Let the up-to-three-hours latency pass: the rows of every view created so far appear."""
        for row in self._pending:
            self.admin.sql(
                "insert into SNOWFLAKE.ACCOUNT_USAGE.OBJECT_DEPENDENCIES (REFERENCED_DATABASE, REFERENCED_SCHEMA, "
                "REFERENCED_OBJECT_NAME, REFERENCED_OBJECT_ID, REFERENCED_OBJECT_DOMAIN, REFERENCING_DATABASE, "
                "REFERENCING_SCHEMA, REFERENCING_OBJECT_NAME, REFERENCING_OBJECT_ID, REFERENCING_OBJECT_DOMAIN, "
                "DEPENDENCY_TYPE) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
        self._pending.clear()
