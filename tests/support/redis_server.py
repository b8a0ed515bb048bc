"""Start a throwaway Redis server (Debian's ``redis-server``) on loopback, as the Celery broker of tests.

No persistence, no protected-mode surprises: it listens on 127.0.0.1 only, on a free port, in a
temporary folder, and is stopped by PID.
"""

from __future__ import annotations

import shutil
import socket

from tests.support.local_server import LocalServer

INSTALL_HINT = ("redis-server was not found. Install it with "
                "`apt-get install -y --no-install-recommends redis-server` (Debian/Ubuntu).")


class RedisServer(LocalServer):
    """A ``redis-server`` process listening on 127.0.0.1:<port>."""

    name = "redis-server"
    log_name = "redis.log"

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.binary = binary
        super().__init__()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> RedisServer:
        """Start the server and wait until it answers PING; return self."""
        # Settings as command-line options (redis.io/docs/latest/operate/oss_and_stack/management/config/):
        # no RDB snapshots or AOF, loopback only; the log on standard output (to the log file).
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.root), "--daemonize", "no"]
        self._launch(args, self.ping, timeout, "answer PING")
        return self

    def ping(self) -> bool:
        """Send PING in Redis' inline protocol; True on +PONG."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False
