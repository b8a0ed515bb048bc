"""View lineage in OpenMetadata: ``PUT /v1/lineage`` per edge, read back with ``GET /v1/lineage/table/…``.

OpenMetadata's API adds one edge per request (``LineageResource.addLineage``, an upsert of the
UPSTREAM relationship: a repeated PUT is harmless), so a view's edges are sent one by one,
``max_concurrency`` at a time. Edges we write carry ``lineageDetails.source = "ViewLineage"``
(``type/entityLineage.json``), as OpenMetadata's own view lineage does; when a view's upstreams
change, the ``ViewLineage`` edges into it that it no longer reads are deleted
(``DELETE /v1/lineage/table/{fromId}/table/{toId}``); edges someone else added are kept.

Upstream tables OpenMetadata does not hold are skipped (the server needs both ends). Column
lineage names columns by FQN; the server checks each one (``ColumnUtil.validateColumnFQN``), so
an edge it refuses for a column is sent again without column lineage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from airflow_provider_omingest.catalog.base import EntityWrite, StoredEntity
from airflow_provider_omingest.catalog.openmetadata.client import OpenMetadataClient
from airflow_provider_omingest.catalog.openmetadata.names import UnrepresentableName, om_fqn, om_split
from airflow_provider_omingest.catalog.openmetadata.state import StateCache
from airflow_provider_omingest.exceptions import CatalogError
from airflow_provider_omingest.models.fqn import build_fqn, split_fqn
from airflow_provider_omingest.models.lineage import ColumnLineage, LineageEdge, TableLineage

__all__ = ["LINEAGE_PATH", "VIEW_LINEAGE", "LineageWriter", "downstream_views", "read_lineage"]

log = logging.getLogger(__name__)

LINEAGE_PATH = "/api/v1/lineage"
#: ``lineageDetails.source`` of the edges we write (entityLineage.json's ``Source`` enum).
VIEW_LINEAGE = "ViewLineage"

Mapper = Callable[[Callable[[Any], Any], Iterable[Any], list[CatalogError]], list[Any]]


class LineageWriter:
    """Sends the edges of written views.

    :param client: The server's client.
    :param states: The catalog's cache of stored states (the upstream tables' ids).
    :param mapper: Runs calls ``max_concurrency`` at a time, collecting errors.
    """

    def __init__(self, client: OpenMetadataClient, states: StateCache, mapper: Mapper) -> None:
        self.client = client
        self.states = states
        self._map = mapper

    def write(self, views: list[tuple[EntityWrite, dict[str, Any], bool]], errors: list[CatalogError]) -> int:
        """Make OpenMetadata's edges into each view say what its body's ``upstreams`` say.

        :param views: (write, the table entity as written, whether it existed before this batch).
        :return: how many edges were sent.
        """
        jobs = [(w, e, existed) for w, e, existed in views if w.body.get("upstreams") or existed]
        if not jobs:
            return 0
        ids = self._upstream_ids(jobs, errors)
        sent = self._map(lambda job: self._sync(*job, ids), jobs, errors)
        return sum(n or 0 for n in sent)

    def _upstream_ids(self, jobs: list[tuple[EntityWrite, dict[str, Any], bool]],
                      errors: list[CatalogError]) -> dict[str, str]:
        """OpenMetadata FQN -> id of every live upstream table, one paged list per upstream schema (cached)."""
        schemas: set[tuple[str, str, str]] = set()
        for write, _, _ in jobs:
            service = split_fqn(write.fqn)[0]
            for upstream in write.body.get("upstreams") or ():
                parts = split_fqn(upstream["table"])
                if len(parts) == 3:
                    schemas.add((service, parts[0], parts[1]))
        keys = sorted(schemas)
        ids: dict[str, str] = {}
        for key, states in zip(keys, self._map(lambda k: self.states.tables(*k, fresh=False), keys, errors)):
            for name, state in (states or {}).items():
                if not state.deleted:
                    try:
                        ids[om_fqn(*key, name)] = state.id
                    except UnrepresentableName:
                        continue
        return ids

    def _sync(self, write: EntityWrite, entity: dict[str, Any], existed: bool, ids: dict[str, str]) -> int:
        service = split_fqn(write.fqn)[0]
        view_fqn, view_id = entity["fullyQualifiedName"], entity["id"]
        view_columns = {c["name"] for c in entity.get("columns") or ()}
        wanted: dict[str, dict[str, Any]] = {}
        for upstream in write.body.get("upstreams") or ():
            try:
                upstream_fqn = om_fqn(service, *split_fqn(upstream["table"]))
            except (UnrepresentableName, ValueError):
                continue
            upstream_id = ids.get(upstream_fqn)
            if upstream_id is None:
                log.info("OpenMetadata: no edge %s -> %s: the upstream table is not in OpenMetadata", upstream_fqn,
                         view_fqn)
                continue
            columns = [
                {"fromColumns": [om_fqn(*om_split(upstream_fqn), name) for name in c["upstream_columns"]],
                 "toColumn": om_fqn(*om_split(view_fqn), c["downstream_column"])}
                for c in upstream.get("columns") or () if c["downstream_column"] in view_columns
            ]
            wanted[upstream_id] = {"fqn": upstream_fqn, "columns": columns}
        if existed:
            self._remove_stale(view_fqn, view_id, set(wanted))
        for upstream_id, edge in sorted(wanted.items()):
            self._put(upstream_id, view_id, edge["columns"], f"{edge['fqn']} -> {view_fqn}")
        return len(wanted)

    def _put(self, upstream_id: str, view_id: str, columns: list[dict[str, Any]], what: str) -> None:
        details: dict[str, Any] = {"source": VIEW_LINEAGE}
        if columns:
            details["columnsLineage"] = columns
        body = {"edge": {"fromEntity": {"id": upstream_id, "type": "table"},
                         "toEntity": {"id": view_id, "type": "table"}, "lineageDetails": details}}
        reply = self.client.request("PUT", LINEAGE_PATH, json=body, action=f"add lineage {what}", entity=what,
                                    accept=(400,) if columns else ())
        if reply.status == 400:
            log.warning("OpenMetadata refused the column lineage of %s (%s); sending the edge without it", what,
                        reply.body)
            body["edge"]["lineageDetails"] = {"source": VIEW_LINEAGE}
            self.client.request("PUT", LINEAGE_PATH, json=body, action=f"add lineage {what}", entity=what)

    def _remove_stale(self, view_fqn: str, view_id: str, keep: set[str]) -> None:
        reply = self.client.request(
            "GET", f"{LINEAGE_PATH}/table/name/{quote(view_fqn, safe='')}",
            params={"upstreamDepth": "1", "downstreamDepth": "0"}, action=f"read the lineage of {view_fqn}",
            entity=view_fqn, accept=(404,))
        if reply.status == 404:
            return
        for edge in reply.body.get("upstreamEdges") or ():
            source = (edge.get("lineageDetails") or {}).get("source")
            if edge.get("toEntity") != view_id or edge.get("fromEntity") in keep or source != VIEW_LINEAGE:
                continue
            self.client.request("DELETE", f"{LINEAGE_PATH}/table/{edge['fromEntity']}/table/{view_id}",
                                action=f"remove the lineage {edge['fromEntity']} -> {view_fqn}", entity=view_fqn,
                                accept=(404,))


def read_lineage(client: OpenMetadataClient, fqn: str) -> TableLineage:
    """Return the edges into and out of a table, in one ``GET /v1/lineage/table/name/{fqn}``."""
    parts = split_fqn(fqn)
    try:
        om_name = om_fqn(*parts)
    except UnrepresentableName:
        return TableLineage(fqn=fqn)
    reply = client.request("GET", f"{LINEAGE_PATH}/table/name/{quote(om_name, safe='')}",
                           params={"upstreamDepth": "1", "downstreamDepth": "1"},
                           action=f"read the lineage of {fqn}", entity=fqn, accept=(404,))
    if reply.status == 404:
        return TableLineage(fqn=fqn)
    body = reply.body
    me = body["entity"]["id"]
    names = {n["id"]: n["fullyQualifiedName"] for n in body.get("nodes") or ()}
    names[me] = om_name

    def edge(raw: dict[str, Any]) -> LineageEdge | None:
        source, target = names.get(raw["fromEntity"]), names.get(raw["toEntity"])
        if source is None or target is None:
            return None
        columns = [
            ColumnLineage(upstream_columns=[_column_name(c, source) for c in cl.get("fromColumns") or ()],
                          downstream_column=_column_name(cl.get("toColumn") or "", target))
            for cl in (raw.get("lineageDetails") or {}).get("columnsLineage") or ()
        ]
        return LineageEdge(upstream=build_fqn(*om_split(source)), downstream=build_fqn(*om_split(target)),
                           columns=columns)

    upstream = [e for e in map(edge, body.get("upstreamEdges") or ()) if e and e.downstream == fqn]
    downstream = [e for e in map(edge, body.get("downstreamEdges") or ()) if e and e.upstream == fqn]
    return TableLineage(fqn=fqn, upstream=sorted(upstream, key=lambda e: e.upstream),
                        downstream=sorted(downstream, key=lambda e: e.downstream))


def downstream_views(client: OpenMetadataClient, fqns: list[str], mapper: Mapper) -> list[StoredEntity]:
    """Return the live tables that read one of ``fqns``: one lineage read per table (dropped tables are few)."""
    errors: list[CatalogError] = []
    found: dict[str, StoredEntity] = {}
    for lineage in mapper(lambda f: read_lineage(client, f), fqns, errors):
        for e in (lineage.downstream if lineage else ()):
            parts = split_fqn(e.downstream)
            if len(parts) == 4:
                found[e.downstream] = StoredEntity(fqn=e.downstream, kind="table", database=parts[1],
                                                   schema_name=parts[2], name=parts[3], fingerprint="")
    if errors:
        raise errors[0]
    return sorted(found.values(), key=lambda s: s.fqn)


def _column_name(column_fqn: str, table_fqn: str) -> str:
    prefix = table_fqn + "."
    if column_fqn.startswith(prefix):
        return om_split(column_fqn[len(prefix):])[0]
    return om_split(column_fqn)[-1]
