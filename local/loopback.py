"""A threaded HTTP server on 127.0.0.1 in a daemon thread: the emulation's API and receiver."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    # The listen backlog: http.server's default of 5 refuses or resets connections as soon as
    # a few clients connect at once (20 clients of bench/emulation_load.py did).
    request_queue_size = 128


class LoopbackServer:
    """Serves `handler` on 127.0.0.1:`port` (0 = any free port) between start() and stop()."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int, name: str) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
