"""``[core] hostname_callable`` of the e2e's Celery workers: both run on one host, each reports its own name.

In docker-compose.yaml each worker is a container with a hostname of its own; here the name
comes from ``OMINGEST_E2E_WORKER_NAME``, set per worker by :mod:`tests.e2e.celery_topology`.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """Return the worker's name, or the machine's name outside the e2e."""
    return os.environ.get("OMINGEST_E2E_WORKER_NAME") or socket.getfqdn()
