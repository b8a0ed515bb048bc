"""The provider's pages in the Airflow UI ("What changed" per run, the catalog browser).

This package's ``__init__`` stays light (every Airflow process loads the plugin): the FastAPI
app is built on the first request the api-server hands it (:class:`LazyApp`).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

__all__ = ["URL_PREFIX", "LazyApp", "base_path"]

#: Where the api-server mounts the pages.
URL_PREFIX = "/omingest"


def base_path() -> str:
    """Return the path Airflow is served under (``[api] base_url``'s path, without a trailing slash)."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


class LazyApp:
    """An ASGI app that imports and builds the real one (``module:factory``) on its first call.

    :param target: ``"package.module:factory"``; the factory returns an ASGI app.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self._app: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Return the real app, built once."""
        if self._app is None:
            with self._lock:
                if self._app is None:
                    module, _, factory = self.target.partition(":")
                    self._app = getattr(importlib.import_module(module), factory)()
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.load()(scope, receive, send)

    def __repr__(self) -> str:
        return f"LazyApp({self.target!r})"
