"""Leave the ``peer`` tests out unless they are asked for by name (``-m peer``).

They install DataHub (a large package) into a virtualenv of their own, which a CI run should not
do; deselected rather than skipped, whatever other ``-m`` expression is given.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "peer" in (config.getoption("markexpr") or ""):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("peer") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
