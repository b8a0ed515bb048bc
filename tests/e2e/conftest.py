"""Markers and hooks of the end-to-end tests (they start real Airflow processes: minutes, not seconds)."""

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: starts real Airflow processes (scheduler, api-server, ...)")
    config.addinivalue_line("markers", "slow: takes minutes; deselect with -m 'not slow'")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failed test body, so that later phases of a scenario can skip instead of piling up."""
    outcome = yield
    if call.when == "call" and outcome.get_result().failed:
        item.omingest_call_failed = True
