"""Structural diff between two versions of an entity body, for the catalog's history."""

from __future__ import annotations

from typing import Any

__all__ = ["VOLATILE_FIELDS", "diff_bodies"]

#: Top-level fields that change without a structural change; never reported.
VOLATILE_FIELDS: frozenset[str] = frozenset({"row_count", "last_altered"})


def diff_bodies(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Return what changed between two entity bodies.

    Top-level fields are reported as ``{field: {"old": ..., "new": ...}}``. ``columns`` is
    summarised by column name as ``{"added": [...], "removed": [...], "changed": {name: {field:
    {"old": ..., "new": ...}}}}``. Volatile fields (``row_count``, ``last_altered``) are ignored.
    An empty dict means no structural change.

    :param old: The stored body.
    :param new: The incoming body.
    """
    changes: dict[str, Any] = {}
    for field in _ordered_union(old, new):
        if field in VOLATILE_FIELDS:
            continue
        before, after = old.get(field), new.get(field)
        if field == "columns" and _is_column_list(before) and _is_column_list(after):
            column_changes = diff_columns(before or [], after or [])
            if column_changes:
                changes[field] = column_changes
        elif before != after:
            changes[field] = {"old": before, "new": after}
    return changes


def diff_columns(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarise column changes by name; return an empty dict when nothing changed.

    :param old: The stored columns.
    :param new: The incoming columns.
    """
    before = {c["name"]: c for c in old}
    after = {c["name"]: c for c in new}
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    changed: dict[str, Any] = {}
    for name, column in after.items():
        if name in before:
            field_changes = _field_changes(before[name], column)
            if field_changes:
                changed[name] = field_changes
    if not (added or removed or changed):
        return {}
    return {"added": added, "removed": removed, "changed": changed}


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        field: {"old": old.get(field), "new": new.get(field)}
        for field in _ordered_union(old, new)
        if old.get(field) != new.get(field)
    }


def _ordered_union(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return list(old) + [k for k in new if k not in old]


def _is_column_list(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, list) and all(isinstance(c, dict) and "name" in c for c in value)
