"""OpenMetadata's fully qualified names, as its server builds them.

``openmetadata-service/.../util/FullyQualifiedName.java`` (``quoteName``, ``add``, ``split``,
``getParentFQN``), mirrored by the SDK's ``metadata/utils/fqn.py`` (``quote_name``, ``split``):

- a name containing ``.`` is wrapped in double quotes; a name wrapped in quotes without a dot
  is unwrapped;
- any other name containing ``"`` is refused: ``IllegalArgumentException("Invalid name …")``,
  which the server answers with 400;
- ``split`` cuts at dots outside quotes and keeps the quotes of quoted parts.
"""

from __future__ import annotations

import re

from tests.openmetadata_standin.rules import ApiError

__all__ = ["add_part", "join", "quote_name", "split", "unquote"]

_QUOTED = re.compile(r'^"([^"]+)"$')


def quote_name(name: str) -> str:
    """FullyQualifiedName.quoteName."""
    match = _QUOTED.match(name)
    if match:
        inner = match.group(1)
        return name if "." in inner else inner
    if '"' in name:
        raise ApiError(400, f"Invalid name {name}")
    return f'"{name}"' if "." in name else name


def add_part(parent_fqn: str | None, name: str) -> str:
    """FullyQualifiedName.add: the parent's FQN plus the quoted name."""
    quoted = quote_name(name)
    return quoted if not parent_fqn else f"{parent_fqn}.{quoted}"


def split(fqn: str) -> list[str]:
    """FullyQualifiedName.split: parts at dots outside quotes, quotes kept."""
    parts, current, quoted = [], [], False
    for char in fqn:
        if char == '"':
            quoted = not quoted
        if char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def join(parts: list[str]) -> str:
    """Join parts that are already quoted."""
    return ".".join(parts)


def unquote(part: str) -> str:
    """The name of a quoted part."""
    return part[1:-1] if len(part) > 1 and part[0] == part[-1] == '"' else part
