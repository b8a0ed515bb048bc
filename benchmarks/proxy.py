"""A loopback TCP proxy that adds a fixed delay to every round trip, to play a cloud warehouse.

Listens on 127.0.0.1 only, forwards to one target on 127.0.0.1, and sleeps ``delay`` seconds
before forwarding each chunk the client sends (a request): every query then costs one extra
``delay``, as a metadata query to a remote warehouse does. Bounded: at most
``max_connections`` connections at once (more are refused), and the proxy stops itself after
``lifetime`` seconds, when its owner exits (daemon threads), or on :meth:`stop`.

Counts what it forwards: ``accepted`` connections and ``requests`` (chunks a client sent, about
one per statement of a simple-protocol client such as psycopg2), whatever the delay.
"""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["DelayProxy"]


class DelayProxy:
    """``with DelayProxy(target_port, delay=0.005) as proxy: connect to proxy.port``."""

    def __init__(self, target_port: int, delay: float, *, target_host: str = "127.0.0.1",
                 max_connections: int = 64, lifetime: float = 4 * 3600) -> None:
        if target_host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the delay proxy only forwards to loopback")
        self.target = (target_host, target_port)
        self.delay = float(delay)
        self.max_connections = max_connections
        self.deadline = time.monotonic() + lifetime
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(max_connections)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._active: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0
        self.requests = 0
        self._thread = threading.Thread(target=self._accept_loop, name="delay-proxy", daemon=True)

    def start(self) -> DelayProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for s in list(self._active):
                _close(s)
            self._active.clear()
        _close(self._listener)

    def reset_counts(self) -> None:
        with self._lock:
            self.accepted = self.requests = 0

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with self._lock:
                if len(self._active) >= 2 * self.max_connections:
                    self.refused += 1
                    _close(client)
                    continue
                try:
                    server = socket.create_connection(self.target, timeout=10)
                except OSError:
                    _close(client)
                    continue
                server.settimeout(None)
                client.settimeout(None)
                for s in (client, server):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._active.update((client, server))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, server, self.delay, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, 0.0, False), daemon=True).start()
        self._stop.set()

    def _pump(self, src: socket.socket, dst: socket.socket, delay: float, forward: bool) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(1 << 16)
                if not data:
                    break
                if forward:
                    with self._lock:
                        self.requests += 1
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                for s in (src, dst):
                    self._active.discard(s)
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
