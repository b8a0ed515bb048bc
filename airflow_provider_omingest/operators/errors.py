"""Map failures to Airflow's task outcomes: retry only what a retry can fix."""

from __future__ import annotations

from typing import NoReturn

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

from airflow_provider_omingest.exceptions import OmingestError

__all__ = ["fail_or_retry", "is_configuration_error"]


def is_configuration_error(error: BaseException) -> bool:
    """Return whether a retry cannot help: a bad setting, a missing connection, file or library."""
    if isinstance(error, OmingestError):
        return not error.retryable
    return isinstance(error, (AirflowNotFoundException, ImportError))


def fail_or_retry(error: Exception, what: str) -> NoReturn:
    """Raise ``error`` as :class:`AirflowFailException` (no retry) or :class:`AirflowException` (retried).

    :param what: what failed, e.g. ``"Planning failed"``; the message is ``"<what>: <error>"``.
    """
    if isinstance(error, AirflowFailException):
        raise error
    if is_configuration_error(error):
        raise AirflowFailException(f"{what}: {error}") from error
    raise AirflowException(f"{what}: {error}") from error
