"""Start moto's S3-compatible server (``moto[server]``) on loopback for tests: a bucket for snapshots.

moto in server mode answers the S3 REST API on ``http://127.0.0.1:<port>``
(docs.getmoto.org/en/latest/docs/server_mode.html); any access key is accepted. Clients reach
it as they reach S3, with ``endpoint_url`` set: boto3 directly, or Airflow's ``ObjectStoragePath``
through an ``aws`` connection whose extra names the endpoint (:meth:`S3Server.aws_connection`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.local_server import LocalServer

ACCESS_KEY = "omingest-test"
SECRET_KEY = "omingest-test-secret"
REGION = "us-east-1"


class S3Server(LocalServer):
    """``moto_server`` in its own process on 127.0.0.1:<port>."""

    name = "moto_server"
    log_name = "moto.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> S3Server:
        """Start the server and wait until it listens; return self."""
        moto_server = Path(sys.executable).parent / "moto_server"
        self._launch([str(moto_server), "-H", "127.0.0.1", "-p", str(self.port)], self.listening, timeout,
                     "listen")
        return self

    def client(self) -> Any:
        """Return a boto3 S3 client for this server (the judge of what is in a bucket)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Return every key under ``prefix`` in ``bucket``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def aws_connection(self) -> dict[str, Any]:
        """Return an ``aws`` connection (as JSON fields) reaching this server.

        Access key and secret in login/password, the endpoint in the extra's ``endpoint_url``
        (airflow.apache.org/docs/apache-airflow-providers-amazon/stable/connections/aws.html).
        """
        return {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION}}

    def aws_connection_json(self) -> str:
        return json.dumps(self.aws_connection())
