"""RFC 6902 JSON Patch, as OpenMetadata applies it to an entity (``JsonUtils.applyPatch``).

OpenMetadata's ``PATCH /v1/{entity}/{id}`` takes ``application/json-patch+json`` and applies
the operations to the stored entity with ``jakarta.json.JsonPatch``
(``openmetadata-service/.../util/JsonUtils.java``, ``applyPatch``); a failing operation
(missing path, failed ``test``) is a 400. Paths are RFC 6901 JSON Pointers.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PatchError", "apply_patch"]


class PatchError(ValueError):
    """An operation that cannot be applied (the server answers 400)."""


def apply_patch(document: Any, operations: Any) -> Any:
    """Return ``document`` with ``operations`` applied (the input is not changed).

    :raises PatchError: naming the operation that failed.
    """
    if not isinstance(operations, list):
        raise PatchError("A JSON Patch must be an array of operations")
    doc = copy.deepcopy(document)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"Operation {number} needs 'op' and 'path': {op!r}")
        kind, path = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(_value(op)))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(_value(op)))
        elif kind == "move":
            doc, moved = _remove(doc, _pointer(op.get("from", "")))
            doc = _add(doc, path, moved)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, _pointer(op.get("from", "")))))
        elif kind == "test":
            if _get(doc, path) != _value(op):
                raise PatchError(f"test failed at {op['path']}")
        else:
            raise PatchError(f"Unknown patch operation {kind!r}")
    return doc


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise PatchError(f"Operation {op['op']} at {op['path']} needs a value")
    return op["value"]


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise PatchError(f"Invalid JSON Pointer {text!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _parent(doc: Any, path: list[str]) -> Any:
    target = doc
    for part in path[:-1]:
        target = _child(target, part, path)
    return target


def _child(target: Any, part: str, path: list[str]) -> Any:
    if isinstance(target, dict):
        if part not in target:
            raise PatchError(f"Path /{'/'.join(path)} does not exist")
        return target[part]
    if isinstance(target, list):
        return target[_index(target, part, path, allow_end=False)]
    raise PatchError(f"Path /{'/'.join(path)} does not exist")


def _index(target: list[Any], part: str, path: list[str], *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(target)
    if not part.isdigit():
        raise PatchError(f"Invalid array index {part!r} in /{'/'.join(path)}")
    index = int(part)
    if index > len(target) or (index == len(target) and not allow_end):
        raise PatchError(f"Array index {index} out of range in /{'/'.join(path)}")
    return index


def _get(doc: Any, path: list[str]) -> Any:
    target = doc
    for part in path:
        target = _child(target, part, path)
    return target


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _parent(doc, path)
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], path, allow_end=True), value)
    else:
        raise PatchError(f"Path /{'/'.join(path)} does not exist")
    return doc


def _remove(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        raise PatchError("Cannot remove the whole document")
    parent = _parent(doc, path)
    if isinstance(parent, dict):
        if path[-1] not in parent:
            raise PatchError(f"Path /{'/'.join(path)} does not exist")
        return doc, parent.pop(path[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, path[-1], path, allow_end=False))
    raise PatchError(f"Path /{'/'.join(path)} does not exist")
