"""Hooks of the end-to-end tests (they start real Airflow processes: minutes, not seconds).

The ``e2e`` and ``slow`` markers are registered in pyproject.toml.
"""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failed test body, so that later phases of a scenario can skip instead of piling up."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.omingest_call_failed = True
