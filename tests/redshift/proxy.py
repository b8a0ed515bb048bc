"""A loopback proxy that lets ``redshift_connector`` talk to a plain PostgreSQL server.

Four things stand between the Redshift driver and PostgreSQL (see
``../shared/reference/test-standins.md``): the driver may ask for SSL (the proxy answers ``N``),
it sends Redshift-only startup parameters that PostgreSQL rejects (dropped here), it cannot
parse PostgreSQL's ``server_version`` (reported as ``8.0.2``, as Redshift does), and it fails
SCRAM (the test server uses trust authentication, so no password exchange happens).

It also rewrites the one piece of Redshift SQL the stand-in needs and PostgreSQL cannot define:
``SYSDATE``, written without parentheses, becomes ``localtimestamp`` (the start of the current
transaction in the session time zone, as Redshift documents SYSDATE:
https://docs.aws.amazon.com/redshift/latest/dg/r_SYSDATE.html).

The proxy runs in threads of the test process, listens on 127.0.0.1 only, counts the
statements each client sends (one ``Sync`` or simple ``Query`` message per round trip) and
stops itself, closing every socket, when :meth:`RedshiftProxy.stop` is called or the
``with`` block ends.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterator

__all__ = ["RedshiftProxy"]

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
PROTOCOL_3 = 196608

#: Startup parameters PostgreSQL understands; everything else the driver sends is dropped.
PG_STARTUP_KEYS = frozenset({"user", "database", "application_name", "options", "client_encoding", "DateStyle"})

REDSHIFT_SERVER_VERSION = b"8.0.2"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return bytes(buf)


def _startup_params(body: bytes) -> dict[str, str]:
    parts = body.split(b"\x00")
    params: dict[str, str] = {}
    for key, value in zip(parts[0::2], parts[1::2]):
        if key:
            params[key.decode()] = value.decode()
    return params


def _startup_message(params: dict[str, str]) -> bytes:
    body = struct.pack("!i", PROTOCOL_3)
    for key, value in params.items():
        body += key.encode() + b"\x00" + value.encode() + b"\x00"
    body += b"\x00"
    return struct.pack("!i", len(body) + 4) + body


def _messages(sock: socket.socket) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(type, body)`` of each regular protocol message read from ``sock``."""
    while True:
        header = _recv_exact(sock, 5)
        length = struct.unpack("!i", header[1:])[0]
        yield header[:1], _recv_exact(sock, length - 4)


def _frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


_SYSDATE = re.compile(rb"(?<![\w$])sysdate(?![\w$(])", re.IGNORECASE)


def _rewrite(kind: bytes, body: bytes) -> bytes:
    """Rewrite ``SYSDATE`` in the SQL of a simple Query ('Q') or a Parse ('P') message."""
    if kind == b"Q":
        return _SYSDATE.sub(b"localtimestamp", body)
    if kind == b"P":
        name, _, rest = body.partition(b"\x00")
        query, _, tail = rest.partition(b"\x00")
        return name + b"\x00" + _SYSDATE.sub(b"localtimestamp", query) + b"\x00" + tail
    return body


class RedshiftProxy:
    """Forward 127.0.0.1:<port> to a PostgreSQL server, speaking Redshift to the client.

    :param target_port: the PostgreSQL server's port on 127.0.0.1.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        #: Round trips (``Sync`` and simple ``Query`` messages) sent by clients, in total.
        self.round_trips = 0
        #: Statements executed (``Execute`` and simple ``Query`` messages), in total.
        self.statements = 0
        #: Startup parameters the proxy dropped, for the tests to check.
        self.dropped_params: set[str] = set()
        self.ssl_requests = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> RedshiftProxy:
        """Start accepting connections in a background thread; return self."""
        self._spawn(self._accept_loop, "redshift-proxy-accept")
        return self

    def stop(self) -> None:
        """Close the listener and every proxied connection, and wait for the threads."""
        self._stopped.set()
        self._close(self._listener)
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            self._close(s)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> RedshiftProxy:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_count(self) -> None:
        """Start counting round trips from zero."""
        with self._lock:
            self.round_trips = 0
            self.statements = 0

    # ------------------------------------------------------------------ internals

    def _spawn(self, target, name: str, *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.add(sock)
        return sock

    @staticmethod
    def _close(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._spawn(self._serve, "redshift-proxy-conn", self._track(client))

    def _serve(self, client: socket.socket) -> None:
        server: socket.socket | None = None
        try:
            params = self._read_startup(client)
            if params is None:
                return
            server = self._track(socket.create_connection(("127.0.0.1", self.target_port)))
            kept = {k: v for k, v in params.items() if k in PG_STARTUP_KEYS}
            self.dropped_params.update(set(params) - set(kept))
            server.sendall(_startup_message(kept))
            self._spawn(self._client_to_server, "redshift-proxy-c2s", client, server)
            self._server_to_client(server, client)
        except (ConnectionError, OSError):
            pass
        finally:
            self._close(client)
            if server is not None:
                self._close(server)

    def _read_startup(self, client: socket.socket) -> dict[str, str] | None:
        while True:
            length = struct.unpack("!i", _recv_exact(client, 4))[0]
            body = _recv_exact(client, length - 4)
            code = struct.unpack("!i", body[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                self.ssl_requests += 1
                client.sendall(b"N")
                continue
            if code != PROTOCOL_3:
                return None
            return _startup_params(body[4:])

    def _client_to_server(self, client: socket.socket, server: socket.socket) -> None:
        try:
            for kind, body in _messages(client):
                if kind in (b"S", b"Q", b"E"):
                    with self._lock:
                        self.round_trips += kind != b"E"
                        self.statements += kind != b"S"
                server.sendall(_frame(kind, _rewrite(kind, body)))
        except (ConnectionError, OSError):
            pass
        finally:
            self._close(server)

    def _server_to_client(self, server: socket.socket, client: socket.socket) -> None:
        for kind, body in _messages(server):
            if kind == b"S" and body.startswith(b"server_version\x00"):
                body = b"server_version\x00" + REDSHIFT_SERVER_VERSION + b"\x00"
            client.sendall(_frame(kind, body))
