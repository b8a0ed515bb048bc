"""What a source reports for an incremental run: which tables changed or were dropped.

The engine fetches every table named here by name: a table reported as dropped but found
by that fetch exists (it was re-created), so a lagging or ambiguous change log can make a
run fetch a little more, never delete a table that exists.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChangeSet", "TableRef"]


class TableRef(BaseModel):
    """A table named by database, schema and name (as the source spells them)."""

    model_config = ConfigDict(frozen=True)

    database: str
    schema_name: str
    table: str


class ChangeSet(BaseModel):
    """Structural changes since a point in time, found in as few queries as possible.

    :param method: how they were found, shown in the run summary (e.g. ``"ACCOUNT_USAGE.TABLES"``,
        ``"SYS_QUERY_HISTORY"``, ``"audit log"``, ``"in-database digest"``).
    :param since: the lower bound asked for (watermark minus safety margin).
    :param until: the source's clock when the changes were read.
    :param changed: tables created, altered, commented or re-created in the window.
    :param dropped: tables dropped (or renamed away) in the window; re-created ones may appear
        in both lists, the fetch decides.
    :param created_schemas: schemas created in the window, extracted whole.
    :param dropped_schemas: schemas dropped in the window.
    :param rescan_schemas: schemas whose changes could not be read (a locked table, a timeout):
        extracted whole, so that nothing in them is missed; if that fails too, only their unit fails.
    :param notes: anything the summary should say (fallbacks, permissions).
    """

    method: str
    since: datetime | None = None
    until: datetime | None = None
    changed: list[TableRef] = Field(default_factory=list)
    dropped: list[TableRef] = Field(default_factory=list)
    created_schemas: list[tuple[str, str]] = Field(default_factory=list)
    dropped_schemas: list[tuple[str, str]] = Field(default_factory=list)
    rescan_schemas: list[tuple[str, str]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
