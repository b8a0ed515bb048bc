"""Paged reads of the embedded catalog for people: name search, one run's changes, an entity's versions.

Every query is a range on an index, in index order, with keyset paging (``after`` the last row
shown, never ``OFFSET``), so that a page costs the same in a 100,000-table catalog as in a small one:

- name search: a prefix range on ``lower(name)`` (index ``<prefix>entity_name_search``);
- a run's changes: ``run_id`` and kind of change, in write order (index ``<prefix>history_run``);
- an entity's versions: by FQN (index ``<prefix>history_fqn``), newest first.

The search folds ASCII letters only, as SQLite's ``lower()`` does: ``orders`` finds ``ORDERS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from airflow_provider_omingest.catalog.sql_engine import as_utc
from airflow_provider_omingest.models.fqn import split_fqn

if TYPE_CHECKING:
    from airflow_provider_omingest.catalog.sql_catalog import SqlCatalog

__all__ = ["MAX_PAGE", "CatalogBrowser", "EntityRow", "HistoryPage", "RunChange", "RunChangePage", "SearchPage",
           "fold"]

#: The largest page any query returns.
MAX_PAGE = 200
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
ChangeKind = Literal["created", "updated", "restored", "deleted"]
#: The kinds of change, in the order a page shows them (the diffs first).
CHANGE_KINDS: tuple[ChangeKind, ...] = ("updated", "restored", "created", "deleted")


def fold(text: str) -> str:
    """Return ``text`` with ASCII letters lower-cased (what SQLite's ``lower()`` does)."""
    return text.translate(_ASCII_FOLD)


class EntityRow(BaseModel):
    """One entity in a list: enough to show and link it."""

    fqn: str
    kind: str
    service: str
    database: str
    schema_name: str | None
    name: str
    deleted: bool
    version: int


class SearchPage(BaseModel):
    """One page of a name search; ``next_after`` continues it (None: last page)."""

    query: str
    items: list[EntityRow]
    next_after: str | None = None


class RunChange(BaseModel):
    """One entity version a run wrote."""

    id: int
    fqn: str
    kind: str
    change: ChangeKind
    version: int
    changed_at: datetime
    changes: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = None


class RunChangePage(BaseModel):
    """One page of the versions a run wrote, of one kind of change; ``next_after`` continues it."""

    run_id: str
    change: ChangeKind
    items: list[RunChange]
    next_after: int | None = None


class HistoryPage(BaseModel):
    """One page of an entity's versions, newest first; ``next_before`` continues it."""

    fqn: str
    items: list[RunChange]
    next_before: int | None = None


class CatalogBrowser:
    """Paged, indexed reads of a :class:`~airflow_provider_omingest.catalog.sql_catalog.SqlCatalog`.

    :param catalog: the embedded catalog.
    """

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog
        self.entity = catalog.tables.entity
        self.history = catalog.tables.history

    def search(self, text: str = "", *, after: str | None = None, limit: int = 50,
               kinds: tuple[str, ...] = ("table",), include_deleted: bool = False) -> SearchPage:
        """Return the entities whose name starts with ``text`` (ASCII case folded), in name order.

        :param text: the name prefix; empty lists everything.
        :param after: the FQN of the last entity of the previous page.
        :param limit: page size (at most :data:`MAX_PAGE`).
        :param kinds: entity kinds to list.
        :param include_deleted: list soft-deleted entities too.
        """
        e = self.entity
        limit = _page_size(limit)
        prefix = fold(text.strip())
        key = sa.func.lower(e.c.name)
        query = sa.select(e.c.fqn, e.c.kind, e.c.service, e.c.database, e.c.schema_name, e.c.name, e.c.deleted,
                          e.c.version).where(e.c.kind.in_(kinds))
        if prefix:
            query = query.where(key >= prefix, key < _prefix_end(prefix))
        if after:
            after_key = fold(split_fqn(after)[-1])
            # The plain lower bound lets the planner start the index range at the last row shown.
            query = query.where(key >= after_key, sa.or_(key > after_key, e.c.fqn > after))
        if not include_deleted:
            query = query.where(~e.c.deleted)
        query = query.order_by(key, e.c.fqn).limit(limit + 1)
        with self.catalog._transaction(f"search the names starting with {text!r}") as conn:
            rows = conn.execute(query).all()
        items = [EntityRow(**row._asdict()) for row in rows[:limit]]
        return SearchPage(query=text, items=items, next_after=items[-1].fqn if len(rows) > limit else None)

    def run_changes(self, run_id: str, change: ChangeKind, *, service: str | None = None,
                    after: int | None = None, limit: int = 50) -> RunChangePage:
        """Return the versions ``run_id`` wrote with one kind of change, in the order it wrote them.

        :param run_id: the run.
        :param change: ``created``, ``updated``, ``restored`` or ``deleted``.
        :param service: only entities of this service (run ids of different DAGs can be equal).
        :param after: the id of the last version of the previous page.
        :param limit: page size (at most :data:`MAX_PAGE`).
        """
        h, e = self.history, self.entity
        limit = _page_size(limit)
        query = (sa.select(h.c.id, h.c.fqn, e.c.kind, h.c.change, h.c.version, h.c.changed_at, h.c.changes)
                 .join(e, e.c.id == h.c.entity_id)
                 .where(h.c.run_id == run_id, h.c.change == change))
        if service is not None:
            query = query.where(e.c.service == service)
        if after is not None:
            query = query.where(h.c.id > after)
        query = query.order_by(h.c.id).limit(limit + 1)
        with self.catalog._transaction(f"read the {change} entities of run {run_id}") as conn:
            rows = conn.execute(query).all()
        items = [_change(row) for row in rows[:limit]]
        return RunChangePage(run_id=run_id, change=change, items=items,
                             next_after=items[-1].id if len(rows) > limit else None)

    def versions(self, fqn: str, *, before: int | None = None, limit: int = 50) -> HistoryPage:
        """Return an entity's versions, newest first.

        :param fqn: the entity.
        :param before: the id of the last (oldest) version of the previous page.
        :param limit: page size (at most :data:`MAX_PAGE`).
        """
        h, e = self.history, self.entity
        limit = _page_size(limit)
        query = (sa.select(h.c.id, h.c.fqn, e.c.kind, h.c.change, h.c.version, h.c.changed_at, h.c.changes,
                           h.c.run_id)
                 .join(e, e.c.id == h.c.entity_id).where(h.c.fqn == fqn))
        if before is not None:
            query = query.where(h.c.id < before)
        query = query.order_by(h.c.id.desc()).limit(limit + 1)
        with self.catalog._transaction(f"read the history of {fqn}") as conn:
            rows = conn.execute(query).all()
        items = [_change(row) for row in rows[:limit]]
        return HistoryPage(fqn=fqn, items=items, next_before=items[-1].id if len(rows) > limit else None)


def _change(row: Any) -> RunChange:
    data = row._asdict()
    data["changed_at"] = as_utc(data["changed_at"])
    data["changes"] = data["changes"] or {}
    return RunChange(**data)


def _prefix_end(prefix: str) -> str:
    """Return the smallest string above every string starting with ``prefix`` (binary order)."""
    return prefix + "\U0010ffff"


def _page_size(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))
