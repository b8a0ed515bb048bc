"""How an OpenMetadata 1.x server changes an entity on PUT and PATCH: the rules the stand-in follows.

Every rule names the place in OpenMetadata's server source it comes from (paths below
``openmetadata-service/src/main/java/org/openmetadata/service/``):

- ``jdbi3/EntityRepository.java``, inner class ``EntityUpdater`` (``update``,
  ``updateDescription``, ``updateDisplayName``, ``updateOwner(s)``, ``updateExtension``,
  ``updateTags``, ``updateDeleted``, ``updateVersion``, ``recordListChange``);
- ``jdbi3/TableRepository.java`` (``validateTableConstraints``, ``validateColumn``,
  ``TableUpdater.entitySpecificUpdate``, ``updateTableConstraints``);
- ``jdbi3/ColumnEntityUpdater`` / ``EntityRepository.ColumnEntityUpdater`` (``updateColumns``,
  ``updateColumnDescription``, ``updateColumnDataLength``, ``updateColumnPrecision``,
  ``updateColumnScale``);
- ``util/EntityUtil.java`` (``mergeTags``, ``tagLabelMatch``, ``columnMatch``,
  ``compareTagLabel``), ``jdbi3/TagLabelUtil.java`` (``applyTagCommonFields``: a tag label must
  name an existing tag), ``resources/databases/DatabaseUtil.java`` (``validateColumns``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiError", "Change", "column_fqns", "update_entity", "walk_columns"]

#: Column types that need a dataLength / an arrayDataType (DatabaseUtil.validateColumns).
LENGTH_TYPES = frozenset({"CHAR", "VARCHAR", "BINARY", "VARBINARY"})
#: Bookkeeping fields: never compared as content (EntityUpdater records changes field by field).
BOOKKEEPING = frozenset({"id", "fullyQualifiedName", "version", "updatedAt", "updatedBy", "href",
                         "changeDescription", "incrementalChangeDescription", "deleted", "name",
                         "service", "database", "databaseSchema", "classification", "parent", "serviceType"})


class ApiError(Exception):
    """An error answer of the server: status and OpenMetadata's ``{"code", "message"}`` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Change:
    """What an update changed (EntityUpdater's ChangeDescription, and majorVersionChange)."""

    added: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    major: bool = False

    @property
    def any(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def record(self, name: str, old: Any, new: Any) -> None:
        """EntityUpdater.recordChange: null → value is added, value → null deleted, else updated."""
        if old == new or (_empty(old) and _empty(new)):
            return
        entry = {"name": name, "oldValue": old, "newValue": new}
        if _empty(old):
            self.added.append({"name": name, "newValue": new})
        elif _empty(new):
            self.deleted.append({"name": name, "oldValue": old})
        else:
            self.updated.append(entry)


def update_entity(
    kind: str,
    original: dict[str, Any],
    updated: dict[str, Any],
    *,
    operation: str,
    by_bot: bool,
    tag_lookup: Callable[[str], dict[str, Any] | None],
    table_lookup: Callable[[str], dict[str, Any] | None],
    custom_properties: Callable[[str], dict[str, str]],
) -> Change:
    """Apply the server's update rules to ``updated`` (in place) and return what changed.

    :param kind: Entity type (``table``, ``databaseSchema``, ...).
    :param original: The stored entity.
    :param updated: The entity a PUT request built or a PATCH produced.
    :param operation: ``PUT`` or ``PATCH``.
    :param by_bot: The caller is a bot (``EntityUpdater.updatedByBot``).
    :param tag_lookup: Tag FQN -> live tag entity (or None).
    :param table_lookup: Table FQN -> table entity including soft-deleted ones (or None).
    :param custom_properties: Entity type -> {custom property name: property type name}.
    :raises ApiError: 400/404 for what the server refuses.
    """
    put = operation == "PUT"
    change = Change()
    # EntityUpdater.updateDeleted: PUT or PATCH cannot set deleted=true (readOnlyAttribute).
    if updated.get("deleted") and not original.get("deleted"):
        raise ApiError(400, f"Entity type {kind} field deleted is read-only")
    updated["deleted"] = False
    # EntityUpdater.updateDescription / updateDisplayName: "Revert change to non-empty description
    # if it is being updated by a bot [...] Description need to be updated with a PATCH request".
    for name in ("description", "displayName"):
        if put and by_bot and not _empty(original.get(name)):
            updated[name] = original.get(name)
        change.record(name, original.get(name), updated.get(name))
    # EntityUpdater.updateOwners: for PUT, ownership is not removed (owners absent → kept).
    if put and not updated.get("owners") and original.get("owners"):
        updated["owners"] = copy.deepcopy(original["owners"])
    change.record("owners", original.get("owners") or None, updated.get("owners") or None)
    # EntityUpdater.updateExtension: a bot's PUT keeps the stored extension; validateExtension
    # (EntityRepository) refuses keys that are no custom property of the type.
    if put and by_bot:
        if "extension" in original:
            updated["extension"] = copy.deepcopy(original["extension"])
        else:
            updated.pop("extension", None)
    _validate_extension(kind, updated.get("extension"), custom_properties(kind))
    change.record("extension", original.get("extension"), updated.get("extension"))
    # EntityUpdater.updateTags: "PUT operation merges tags in the request with what already
    # exists"; PATCH replaces. Tags must exist (TagLabelUtil.applyTagCommonFields).
    updated["tags"] = _tags(original.get("tags"), updated.get("tags"), put, tag_lookup)
    _record_list(change, "tags", original.get("tags") or [], updated["tags"], _tag_key)
    if kind == "table":
        _update_table(original, updated, change, put=put, by_bot=by_bot, tag_lookup=tag_lookup,
                      table_lookup=table_lookup)
    for key in sorted((set(original) | set(updated)) - BOOKKEEPING
                      - {"description", "displayName", "owners", "extension", "tags", "columns",
                         "tableConstraints"}):
        change.record(key, original.get(key), updated.get(key))
    return change


def _update_table(
    original: dict[str, Any],
    updated: dict[str, Any],
    change: Change,
    *,
    put: bool,
    by_bot: bool,
    tag_lookup: Callable[[str], dict[str, Any] | None],
    table_lookup: Callable[[str], dict[str, Any] | None],
) -> None:
    """TableRepository.TableUpdater.entitySpecificUpdate: columns, then constraints."""
    columns = updated.get("columns") or []
    _validate_columns(columns)
    updated["columns"] = _update_columns(change, "columns", original.get("columns") or [], columns,
                                         put=put, by_bot=by_bot, tag_lookup=tag_lookup)
    updated["columns"] = column_fqns(updated["columns"], updated["fullyQualifiedName"])
    validate_constraints(updated, table_lookup)
    _record_list(change, "tableConstraints", original.get("tableConstraints") or [],
                 updated.get("tableConstraints") or [], _constraint_key)
    if not updated.get("tableConstraints"):
        updated.pop("tableConstraints", None)


def validate_constraints(table: dict[str, Any], table_lookup: Callable[[str], dict[str, Any] | None]) -> None:
    """TableRepository.validateTableConstraints, run on create (prepare) and on every update.

    Duplicates are refused; each constraint column must be a column of the table
    (validateColumn: "Invalid column name"); each referred column must be a column of an
    existing table, soft-deleted ones included (findByName(toParent, ALL): "Table not found").
    A table cannot refer to itself before it exists: the lookup does not find it.
    """
    seen: list[Any] = []
    names = {c["name"] for c in table.get("columns") or ()}
    for constraint in table.get("tableConstraints") or ():
        key = _constraint_key(constraint)
        if key in seen:
            raise ApiError(400, f"Duplicate constraint found in request: {constraint}")
        seen.append(key)
        for column in constraint.get("columns") or ():
            if column not in names:
                raise ApiError(400, f"Invalid column name {column}")
        for referred in constraint.get("referredColumns") or ():
            parent, _, column = _split_column_fqn(referred)
            target = table_lookup(parent)
            if target is None:
                raise ApiError(400, f"Table not found: {parent}")
            if column not in {c["name"] for c in target.get("columns") or ()}:
                raise ApiError(400, f"Invalid column name {column}")


def _update_columns(
    change: Change,
    prefix: str,
    stored: list[dict[str, Any]],
    incoming: list[dict[str, Any]],
    *,
    put: bool,
    by_bot: bool,
    tag_lookup: Callable[[str], dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """ColumnEntityUpdater.updateColumns.

    Columns match by name (case-insensitive) and dataType (EntityUtil.columnMatch): a changed
    type is a deleted plus an added column, and any deleted column is a major change. A matched
    column keeps a non-empty stored description on a bot's PUT (updateColumnDescription), merges
    tags on PUT (updateTags), and a reduced dataLength, precision or scale is a major change
    (updateColumnDataLength / Precision / Scale). An added column takes the description and
    tags of a deleted column of the same name when it has none ("carry forward").
    """
    out: list[dict[str, Any]] = []

    def match(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return a["name"].lower() == b["name"].lower() and a.get("dataType") == b.get("dataType")

    deleted = [c for c in stored if not any(match(c, u) for u in incoming)]
    added = [c for c in incoming if not any(match(s, c) for s in stored)]
    for column in incoming:
        column = copy.deepcopy(column)
        column["tags"] = _tags(None, column.get("tags"), False, tag_lookup)
        old = next((s for s in stored if match(s, column)), None)
        if old is None:
            same_name = next((d for d in deleted if d["name"] == column["name"]), None)
            if same_name is not None:
                if _empty(column.get("description")) and not _empty(same_name.get("description")):
                    column["description"] = same_name["description"]
                if not column["tags"] and same_name.get("tags"):
                    column["tags"] = copy.deepcopy(same_name["tags"])
            out.append(column)
            continue
        here = f"{prefix}.{column['name']}"
        if put and by_bot and not _empty(old.get("description")):
            column["description"] = old["description"]
        change.record(f"{here}.description", old.get("description"), column.get("description"))
        column["tags"] = _tags(old.get("tags"), column.get("tags"), put, tag_lookup)
        _record_list(change, f"{here}.tags", old.get("tags") or [], column["tags"], _tag_key)
        for name in ("dataLength", "precision", "scale"):
            before, after = old.get(name), column.get(name)
            if before != after:
                change.record(f"{here}.{name}", before, after)
                if before is not None and after is not None and after < before:
                    change.major = True
        for name in ("constraint", "dataTypeDisplay", "arrayDataType", "ordinalPosition", "displayName"):
            change.record(f"{here}.{name}", old.get(name), column.get(name))
        if column.get("children") is not None or old.get("children") is not None:
            column["children"] = _update_columns(change, here, old.get("children") or [],
                                                 column.get("children") or [], put=put, by_bot=by_bot,
                                                 tag_lookup=tag_lookup)
        if not column.get("children"):
            column.pop("children", None)
        out.append(column)
    if added:
        change.added.append({"name": prefix, "newValue": [c["name"] for c in added]})
    if deleted:
        change.deleted.append({"name": prefix, "oldValue": [c["name"] for c in deleted]})
        change.major = True
    return out


def _validate_columns(columns: list[dict[str, Any]]) -> None:
    """DatabaseUtil.validateColumns (and validateColumn of each nested one)."""
    for column in walk_columns(columns):
        if column.get("dataType") == "ARRAY" and not column.get("arrayDataType"):
            raise ApiError(400, "For column data type array, arrayDataType must not be null")
        if column.get("dataType") in LENGTH_TYPES and column.get("dataLength") is None:
            raise ApiError(400, "For column data types char, varchar, binary, varbinary dataLength must not be null")


def _validate_extension(kind: str, extension: Any, properties: dict[str, str]) -> None:
    """EntityRepository.validateExtension: each key a custom property of the type, valid for it."""
    if extension is None:
        return
    if not isinstance(extension, dict):
        raise ApiError(400, "extension must be an object")
    for key, value in extension.items():
        if key not in properties:
            raise ApiError(400, f"Unknown custom field {key}")
        if properties[key] == "string" and not isinstance(value, str):
            raise ApiError(400, f"Custom field {key} has invalid JSON [string expected]")


def _tags(
    stored: list[dict[str, Any]] | None,
    incoming: list[dict[str, Any]] | None,
    merge: bool,
    tag_lookup: Callable[[str], dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """Merged (PUT) or replaced (PATCH) tag labels, each checked and completed from its tag."""
    labels = [copy.deepcopy(t) for t in incoming or ()]
    if merge:
        # EntityUtil.mergeTags: labels already applied are added to the request's labels.
        for old in stored or ():
            if not any(_tag_key(old) == _tag_key(t) for t in labels):
                labels.append(copy.deepcopy(old))
    unique: list[dict[str, Any]] = []
    for label in labels:
        if any(_tag_key(label) == _tag_key(u) for u in unique):
            continue
        if label.get("source", "Classification") == "Classification":
            # TagLabelUtil.applyTagCommonFields -> getTag(tagFQN): EntityNotFoundException (404).
            tag = tag_lookup(label["tagFQN"])
            if tag is None:
                raise ApiError(404, f"tag instance for {label['tagFQN']} not found")
            label["name"] = tag["name"]
            label["description"] = tag.get("description") or ""
        unique.append(label)
    # EntityUpdater.updateTags: updatedTags.sort(compareTagLabel) (by tagFQN).
    return sorted(unique, key=lambda t: t["tagFQN"])


def _record_list(change: Change, name: str, old: list[Any], new: list[Any], key: Callable[[Any], Any]) -> None:
    """EntityUpdater.recordListChange: items matched by key; added and deleted items recorded."""
    old_keys, new_keys = [key(o) for o in old], [key(n) for n in new]
    added = [n for n in new if key(n) not in old_keys]
    deleted = [o for o in old if key(o) not in new_keys]
    if added:
        change.added.append({"name": name, "newValue": added})
    if deleted:
        change.deleted.append({"name": name, "oldValue": deleted})


def _tag_key(label: dict[str, Any]) -> tuple[str, str]:
    """EntityUtil.tagLabelMatch: same tagFQN and source."""
    return label["tagFQN"], label.get("source", "Classification")


def _constraint_key(constraint: dict[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """EntityUtil.tableConstraintMatch: type, columns and referred columns (sorted)."""
    return (constraint.get("constraintType", ""), tuple(sorted(constraint.get("columns") or ())),
            tuple(sorted(constraint.get("referredColumns") or ())))


def walk_columns(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every column, nested ones included."""
    out: list[dict[str, Any]] = []
    for column in columns:
        out.append(column)
        out.extend(walk_columns(column.get("children") or []))
    return out


def column_fqns(columns: list[dict[str, Any]], parent_fqn: str) -> list[dict[str, Any]]:
    """TableRepository.setColumnFQN: a column's FQN is its parent's plus its quoted name."""
    from tests.openmetadata_standin.fqn import add_part

    out = []
    for column in columns:
        column = {**column, "fullyQualifiedName": add_part(parent_fqn, column["name"])}
        if column.get("children"):
            column["children"] = column_fqns(column["children"], column["fullyQualifiedName"])
        out.append(column)
    return out


def _split_column_fqn(column_fqn: str) -> tuple[str, str, str]:
    """FullyQualifiedName.getParentFQN / getColumnName of a column FQN."""
    from tests.openmetadata_standin.fqn import join, split

    parts = split(column_fqn)
    if len(parts) < 2:
        raise ApiError(400, f"Invalid fully qualified column name {column_fqn}")
    return join(parts[:-1]), ".", parts[-1]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
