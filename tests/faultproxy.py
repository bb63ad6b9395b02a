"""A fault-injecting HTTP proxy on 127.0.0.1, to put in front of the real Doccano in tests.

Each client connection carries one request (gunicorn's sync workers close after every response,
and so does the proxy). Queue faults with :meth:`FaultProxy.fail_next`; each matching request
consumes one:

- ``"503"``: answer 503 (optionally with ``Retry-After``) without forwarding: nothing was applied;
- ``"drop"``: read the request, then close the connection without forwarding or answering;
- ``"drop_after_forward"``: forward the request (the server applies it), then close the connection
  before the client sees the answer -- the ambiguous case where a blind retry would duplicate.

``proxy.seen`` records ``(method, path, outcome)`` for every request, in order.

    with FaultProxy(server_url) as proxy:
        proxy.fail_next(2, "503", methods={"GET"})
        api = DoccanoAPI(replace(settings, url=proxy.url))
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class _Fault:
    mode: str
    methods: frozenset[str] | None
    path_contains: str | None
    retry_after: str | None

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and (
            self.path_contains is None or self.path_contains in path
        )


class FaultProxy:
    """A threaded TCP proxy to ``upstream`` (an ``http://127.0.0.1:port`` URL)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str, str]] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="faultproxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopped.set()
        try:
            # Wake up accept().
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._listener.close()

    def fail_next(
        self,
        n: int,
        mode: str = "503",
        *,
        methods: set[str] | None = None,
        path_contains: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        """Make the next ``n`` matching requests fail with ``mode`` (see the module doc)."""
        if mode not in ("503", "drop", "drop_after_forward"):
            raise ValueError(mode)
        fault = _Fault(mode, frozenset(methods) if methods else None, path_contains, retry_after)
        with self._lock:
            self._faults.extend([fault] * n)

    def requests(self, method: str | None = None, path_contains: str = "") -> list[tuple[str, str, str]]:
        """Return the recorded requests, filtered by method and path substring."""
        with self._lock:
            return [s for s in self.seen if (method is None or s[0] == method) and path_contains in s[1]]

    # -- internals -------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self._stopped.is_set():
                conn.close()
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    del self._faults[i]
                    return fault
        return None

    def _record(self, method: str, path: str, outcome: str) -> None:
        with self._lock:
            self.seen.append((method, path, outcome))

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            request = _read_request(conn)
            if request is None:
                return
            head = request.split(b"\r\n", 1)[0].decode("latin-1")
            method, path = (head.split(" ") + ["", ""])[:2]
            fault = self._take_fault(method, path)
            if fault is not None and fault.mode == "503":
                self._record(method, path, "503")
                extra = f"Retry-After: {fault.retry_after}\r\n" if fault.retry_after is not None else ""
                conn.sendall(
                    (
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        f"{extra}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                    ).encode()
                )
                return
            if fault is not None and fault.mode == "drop":
                self._record(method, path, "drop")
                return
            with socket.create_connection(self.upstream, timeout=60) as up:
                up.sendall(request)
                if fault is not None:  # drop_after_forward: let the server finish, then hang up
                    _read_all(up)
                    self._record(method, path, "drop_after_forward")
                    return
                self._record(method, path, "forwarded")
                while chunk := up.recv(65536):
                    conn.sendall(chunk)
        except OSError:
            pass
        finally:
            conn.close()


def _read_request(conn: socket.socket) -> bytes | None:
    """Return one whole HTTP request (head + Content-Length body), or None if the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    # Ask the server to close after answering, so one connection carries one request.
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:"))
    return head + b"\r\nConnection: close\r\n\r\n" + body


def _read_all(sock: socket.socket) -> None:
    while sock.recv(65536):
        pass
