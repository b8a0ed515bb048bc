"""Base of the throwaway servers the tests start on loopback: a free port, a temporary folder, a log, stop by PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """One server process on 127.0.0.1:``port``, its output in ``root / log_name``; a context manager."""

    #: What the server is called in errors, and the name of its log file in ``root``.
    name: ClassVar[str] = "server"
    log_name: ClassVar[str] = "server.log"

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"omingest-{self.name}-"))
        self.proc: subprocess.Popen | None = None

    def start(self) -> LocalServer:
        """Start the server and wait until it answers; return self."""
        raise NotImplementedError

    def _launch(self, args: list[str], ready: Callable[[], bool], timeout: float, waiting_for: str) -> None:
        """Start ``args`` (output to the log) and poll ``ready`` until it is true or ``timeout`` passes."""
        with open(self.root / self.log_name, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()}")
            if ready():
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} did not {waiting_for} on port {self.port} within {timeout}s: {self.log()}")

    def listening(self) -> bool:
        """Whether something accepts TCP connections on the port."""
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def log(self) -> str:
        """The last 3,000 characters of the server's output."""
        path = self.root / self.log_name
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def stop(self) -> None:
        """Stop the server by PID (SIGTERM, then SIGKILL after 10 s) and remove its folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
