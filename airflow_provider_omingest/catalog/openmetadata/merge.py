"""What we change of an entity that exists in OpenMetadata: a JSON Patch limited to our fields.

This is the rule OpenMetadata's own ingestion follows (``metadata/ingestion/models/
patch_request.py``: ``build_patch`` with ``RESTRICT_UPDATE_LIST`` and ``overrideMetadata``):
structure is the source's, and what a person curates is kept. We go one step further: the
extras remember what *we* wrote last (a digest of each description, the tags and the
constraints), so a value that is still ours can follow the source, and a value a person set is
never replaced (unless ``override_metadata``) and never removed.

========================  =====================================================================
field                     rule
========================  =====================================================================
columns (structure)       the source's: names, order, types, lengths, precision, scale,
                          nullability, nested children; columns gone at the source are removed
table type, view SQL,     the source's
partitioning, sourceHash
descriptions (table and   empty → ours; still what we wrote → follows the source (also when
each column)              the source drops it); a person's → kept, replaced only with
                          ``override_metadata`` and never by nothing
tags (table and each      ours are added; a tag we added and the source dropped is removed;
column)                   every other tag (a person's, a classifier's) is kept
table constraints         ours are added; one we added and the source dropped is removed;
                          others are kept
our extras property       ours (only this key of ``extension``; other custom properties kept)
owners, domains, display  never touched
names, followers, glossary
========================  =====================================================================

Without a record of what we wrote (extras disabled, or a table written before), nothing is
removed and a non-empty description is kept: the fill-empty-only rule of OpenMetadata's ingestion.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_omingest.catalog.openmetadata.mapping import column_key, constraint_key, text_digest

__all__ = ["Merged", "differences", "extension_operations", "merge_schema", "merge_table", "written_record"]

#: Column fields the source owns (ALLOWED_COLUMN_FIELDS of the ingestion, minus the curated ones).
_COLUMN_STRUCTURE = ("dataType", "arrayDataType", "dataLength", "precision", "scale", "constraint",
                     "ordinalPosition", "dataTypeDisplay")
#: Table fields the source owns outright.
_TABLE_STRUCTURE = ("tableType", "schemaDefinition", "tablePartition", "sourceHash")
#: The fields a write is checked to have landed.
_OWNED = ("description", "tags", "columns", "tableConstraints", "tableType", "schemaDefinition", "tablePartition")


@dataclass
class Merged:
    """The target state of the fields we touch, and the JSON Patch that gets there."""

    target: dict[str, Any]
    operations: list[dict[str, Any]] = field(default_factory=list)
    #: What we wrote of the curated fields (the next run's record).
    written: dict[str, Any] = field(default_factory=dict)


def written_record(request: dict[str, Any]) -> dict[str, Any]:
    """What a create request writes of the curated fields (the record for a new table)."""
    return {
        "description": text_digest(request.get("description")),
        "tags": sorted(t["tagFQN"] for t in request.get("tags") or ()),
        "constraints": sorted(constraint_key(c) for c in request.get("tableConstraints") or ()),
        "columns": _columns_written(request.get("columns") or [], []),
    }


def merge_table(
    stored: dict[str, Any],
    request: dict[str, Any],
    previous: dict[str, Any] | None,
    *,
    override: bool,
) -> Merged:
    """Return the patch that brings a stored table to ``request`` under the rules above.

    :param stored: The table as OpenMetadata holds it (read with every field we touch).
    :param request: The ``CreateTable`` body from the source.
    :param previous: What we wrote last (the ``written`` record of the extras), or None.
    :param override: Replace what a person curated (``override_metadata``); never remove it.
    """
    base = previous or {}
    target: dict[str, Any] = {}
    written: dict[str, Any] = {}
    target["description"], written["description"] = _description(
        stored.get("description"), request.get("description"), base.get("description"), override,
        has_base=previous is not None)
    target["tags"], written["tags"] = _tags(stored.get("tags"), request.get("tags"), base.get("tags"))
    target["columns"], written["columns"] = _columns(
        stored.get("columns") or [], request.get("columns") or [], base.get("columns") or {}, [], override,
        has_base=previous is not None)
    target["tableConstraints"], written["constraints"] = _constraints(
        stored.get("tableConstraints"), request.get("tableConstraints"), base.get("constraints"))
    for name in _TABLE_STRUCTURE:
        target[name] = copy.deepcopy(request.get(name))
    return Merged(target, _operations(stored, target), written)


def extension_operations(stored: dict[str, Any], name: str, value: str) -> list[dict[str, Any]]:
    """Set our custom property ``name`` to ``value``; every other custom property is left as it is."""
    current = stored.get("extension")
    if not isinstance(current, dict) or not current:
        return [{"op": "add", "path": "/extension", "value": {name: value}}]
    if current.get(name) != value:
        return [{"op": "add", "path": f"/extension/{_escape(name)}", "value": value}]
    return []


def merge_schema(stored: dict[str, Any], request: dict[str, Any], *, override: bool) -> Merged:
    """Return the patch of a database or schema: fill-empty descriptions, additive tags, sourceHash."""
    target: dict[str, Any] = {}
    target["description"], _ = _description(stored.get("description"), request.get("description"), None, override,
                                            has_base=False)
    target["tags"], _ = _tags(stored.get("tags"), request.get("tags"), None)
    target["sourceHash"] = request.get("sourceHash")
    return Merged(target, _operations(stored, target))


def _description(
    current: str | None, ours: str | None, previous: str | None, override: bool, *, has_base: bool
) -> tuple[str | None, str | None]:
    """Return (the description to hold, the digest of it if it is ours)."""
    current = current or None
    ours = ours or None
    if current is None or current == ours:
        return ours, text_digest(ours)
    if has_base and previous is not None and text_digest(current) == previous:
        return ours, text_digest(ours)  # still what we wrote: follow the source
    if override and ours is not None:
        return ours, text_digest(ours)
    return current, None  # a person's: kept


def _tags(current: list[dict[str, Any]] | None, ours: list[dict[str, Any]] | None,
          previous: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Return (the labels to hold, the tag FQNs that are ours)."""
    wanted = [t["tagFQN"] for t in ours or ()]
    dropped = set(previous or ()) - set(wanted)
    held = [copy.deepcopy(t) for t in current or () if t["tagFQN"] not in dropped]
    have = {t["tagFQN"] for t in held}
    held.extend(copy.deepcopy(t) for t in ours or () if t["tagFQN"] not in have)
    return sorted(held, key=lambda t: t["tagFQN"]), sorted(wanted)


def _constraints(current: list[dict[str, Any]] | None, ours: list[dict[str, Any]] | None,
                 previous: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
    wanted = {constraint_key(c): c for c in ours or ()}
    dropped = set(previous or ()) - set(wanted)
    held = [copy.deepcopy(c) for c in current or () if constraint_key(c) not in dropped]
    have = {constraint_key(c) for c in held}
    held.extend(copy.deepcopy(c) for key, c in wanted.items() if key not in have)
    return held, sorted(wanted)


def _columns(
    stored: list[dict[str, Any]],
    ours: list[dict[str, Any]],
    previous: dict[str, Any],
    path: list[str],
    override: bool,
    *,
    has_base: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    by_name = {c["name"].lower(): c for c in stored}
    merged: list[dict[str, Any]] = []
    written: dict[str, Any] = {}
    for column in ours:
        here = [*path, column["name"]]
        key = column_key(here)
        old = by_name.get(column["name"].lower()) or {}
        base = previous.get(key) or {}
        # What the server keeps of a column that we do not own (displayName, jsonSchema, ...).
        target = {k: copy.deepcopy(v) for k, v in old.items()
                  if k not in (*_COLUMN_STRUCTURE, "description", "tags", "children", "name")}
        target["name"] = column["name"]
        for name in _COLUMN_STRUCTURE:
            if column.get(name) is not None:
                target[name] = column[name]
        description, description_digest = _description(
            old.get("description"), column.get("description"), base.get("description"), override,
            has_base=has_base and bool(previous.get(key)))
        if description is not None:
            target["description"] = description
        tags, our_tags = _tags(old.get("tags"), column.get("tags"), base.get("tags"))
        target["tags"] = tags
        written[key] = {"description": description_digest, "tags": our_tags}
        if column.get("children"):
            children, child_written = _columns(old.get("children") or [], column["children"], previous, here,
                                               override, has_base=has_base)
            target["children"] = children
            written.update(child_written)
        merged.append(target)
    return merged, written


def _columns_written(columns: list[dict[str, Any]], path: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in columns:
        here = [*path, column["name"]]
        out[column_key(here)] = {"description": text_digest(column.get("description")),
                                 "tags": sorted(t["tagFQN"] for t in column.get("tags") or ())}
        out.update(_columns_written(column.get("children") or [], here))
    return out


def _operations(stored: dict[str, Any], target: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch operations for the top-level fields of ``target`` that differ from ``stored``."""
    operations: list[dict[str, Any]] = []
    for name, value in target.items():
        current = stored.get(name)
        if name == "columns":
            if _comparable_columns(current or []) != _comparable_columns(value or []):
                operations.append({"op": "add", "path": "/columns", "value": value})
            continue
        if name == "tags":
            if sorted(t["tagFQN"] for t in current or ()) != sorted(t["tagFQN"] for t in value or ()):
                operations.append({"op": "add", "path": "/tags", "value": value})
            continue
        if name == "tableConstraints":
            if sorted(map(constraint_key, current or ())) != sorted(map(constraint_key, value or ())):
                if value:
                    operations.append({"op": "add", "path": "/tableConstraints", "value": value})
                elif name in stored:
                    operations.append({"op": "remove", "path": "/tableConstraints"})
            continue
        if _empty(value):
            if not _empty(current) and name in stored:
                operations.append({"op": "remove", "path": f"/{name}"})
        elif current != value:
            operations.append({"op": "add", "path": f"/{name}", "value": value})
    return operations


def differences(stored: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """The fields we own of ``target`` that ``stored`` does not hold (after a write: what did not land)."""
    owned = {k: v for k, v in target.items() if k in _OWNED}
    return sorted({op["path"].split("/")[1] for op in _operations(stored, owned)})


def _comparable_columns(columns: list[dict[str, Any]]) -> list[Any]:
    out = []
    for column in columns:
        out.append((
            column["name"], tuple(column.get(k) for k in _COLUMN_STRUCTURE), column.get("description") or None,
            tuple(sorted(t["tagFQN"] for t in column.get("tags") or ())),
            _comparable_columns(column.get("children") or []),
        ))
    return out


def _escape(name: str) -> str:
    """RFC 6901: ``~`` and ``/`` in a JSON Pointer segment."""
    return name.replace("~", "~0").replace("/", "~1")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
