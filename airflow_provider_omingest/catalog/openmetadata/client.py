"""HTTP access to an OpenMetadata server: bearer token, bounded concurrency, retries, clear errors.

Requests are retried with exponential backoff (jittered, capped, ``Retry-After`` honoured) on
429, 5xx, timeouts and transport errors. 401 and 403 fail at once with a message that names
the server but never the token; other 4xx answers are not retried. A 404 can be asked to mean
"absent", a 409 "someone else created it first" and a 412 "it changed since it was read".
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

from airflow_provider_omingest.exceptions import CatalogError

__all__ = ["RETRY_STATUSES", "OpenMetadataClient", "Reply"]

log = logging.getLogger(__name__)

#: HTTP statuses retried with backoff.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_DETAIL = 300
#: Content type of a JSON Patch (RFC 6902), as OpenMetadata's PATCH endpoints require.
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class Reply:
    """An answer: its status, JSON body (``{}`` when empty) and ``ETag`` header."""

    status: int
    body: Any
    etag: str | None = None


class _Secret:
    """A string that never shows in reprs, logs or tracebacks' locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class OpenMetadataClient:
    """One server's HTTP client, shared by the threads of a catalog (and re-made after a fork).

    :param server_url: Base URL without ``/api``.
    :param token: The bot's JWT (sent as a bearer token, never logged).
    :param verify_ssl: Verify TLS (or a CA bundle path).
    :param timeout: Seconds per request.
    :param max_concurrency: Requests in flight at once.
    :param retries: Retries after a 429, 5xx, timeout or transport error.
    :param backoff: First retry delay in seconds (doubled each retry, with jitter).
    :param max_backoff: Longest delay between two attempts.
    :param transport: httpx transport (tests).
    """

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        verify_ssl: bool | str = True,
        timeout: float = 30.0,
        max_concurrency: int = 8,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server_url = server_url
        self._token = _Secret(token)
        self.verify_ssl = verify_ssl
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_pid: int | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)

    def __repr__(self) -> str:
        return f"OpenMetadataClient({self.server_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_client=None, _client_pid=None, _lock=None, _slots=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    @property
    def http(self) -> httpx.Client:
        """The httpx client, created on first use (and again after a fork)."""
        with self._lock:
            if self._client is not None and self._client_pid != os.getpid():
                self._client = None
            if self._client is None:
                self._client = httpx.Client(
                    base_url=self.server_url,
                    headers={"Authorization": f"Bearer {self._token.get()}", "Accept": "application/json"},
                    timeout=httpx.Timeout(self.timeout),
                    verify=self.verify_ssl,
                    limits=httpx.Limits(max_connections=self.max_concurrency),
                    transport=self._transport,
                )
                self._client_pid = os.getpid()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        entity: str | None = None,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> Reply:
        """Send one request with retries and return the answer.

        :param action: What the request does, for errors ("write table svc.db.s.t").
        :param entity: The fully qualified name concerned, carried by the error.
        :param accept: Error statuses returned as a :class:`Reply` instead of raised (404, 409, 412).
        :raises CatalogError: naming ``action``, the server and the status, never the token.
        """
        attempt = 0
        while True:
            retry_after: float | None = None
            status: int | None = None
            try:
                with self._slots:
                    response = self.http.request(method, path, params=params, json=json, headers=headers)
            except httpx.TimeoutException as exc:
                problem = f"timed out after {self.timeout:g}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {self._clean(str(exc))}"
            else:
                status = response.status_code
                if status < 300 or status in accept:
                    body = response.json() if response.content else {}
                    return Reply(status, body, response.headers.get("ETag"))
                problem = f"HTTP {status}: {self._detail(response)}"
                if status == 401:
                    raise self._error(action, "the server rejected the token (HTTP 401 Unauthorized); check the "
                                              "bot's JWT in the connection's password",
                                      entity=entity, status=status, retryable=False)
                if status == 403:
                    raise self._error(action, "the token is not allowed to do this (HTTP 403 Forbidden): "
                                              f"{self._detail(response)}; give the bot the needed role",
                                      entity=entity, status=status, retryable=False)
                if status not in RETRY_STATUSES:
                    raise self._error(action, problem, entity=entity, status=status, retryable=False)
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt >= self.retries:
                raise self._error(action, f"{problem} (after {attempt + 1} attempt(s))", entity=entity,
                                  status=status, retryable=True)
            delay = min(self.max_backoff, retry_after if retry_after is not None
                        else self.backoff * (2 ** attempt) * (0.5 + random.random() / 2))
            attempt += 1
            log.warning("OpenMetadata: %s failed (%s); retry %d of %d in %.2fs.", action, problem, attempt,
                        self.retries, delay)
            time.sleep(delay)

    def error(self, action: str, problem: str, *, entity: str | None = None, status: int | None = None,
              retryable: bool = False) -> CatalogError:
        """A :class:`CatalogError` naming the action and the server (the token cleaned out)."""
        return self._error(action, problem, entity=entity, status=status, retryable=retryable)

    def _detail(self, response: httpx.Response) -> str:
        text = response.text
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            text = payload.get("message") or payload.get("error") or text
        return self._clean(" ".join(str(text).split()))[:_MAX_DETAIL]

    def _clean(self, text: str) -> str:
        return text.replace(self._token.get(), "***")

    def _error(self, action: str, problem: str, *, entity: str | None, status: int | None,
               retryable: bool) -> CatalogError:
        return CatalogError(f"Could not {action} in OpenMetadata at {self.server_url}: {self._clean(problem)}",
                            entity=entity, status=status, retryable=retryable)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
