"""A small HTTP server on a background thread, shared by the metrics endpoint and the logger."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BackgroundHTTPServer:
    """Serve ``handler`` at ``host:port`` (0 picks a free port) until :meth:`stop`.

    Examples
    --------
    >>> server = BackgroundHTTPServer("127.0.0.1", 0, BaseHTTPRequestHandler, "doc").start()
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
    """

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], name: str):
        self.host, self.port, self.handler, self.name = host, port, handler, name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.name} server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> BackgroundHTTPServer:
        self._server = ThreadingHTTPServer((self.host, self.port), self.handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"driftstream-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
