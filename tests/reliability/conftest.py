"""A whole case driven through the domain library on moto (in-process), with a real HTTP peer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Peer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)


@pytest.fixture
def peer() -> Iterator[Peer]:
    state = Peer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {
                    "path": self.path,
                    "key": self.headers.get("Idempotency-Key"),
                    "signature": self.headers.get("X-Aios-Signature"),
                    "timestamp": self.headers.get("X-Aios-Timestamp"),
                    "raw": body,
                    "body": json.loads(body),
                }
            )
            status = state.fail_next.pop(0) if state.fail_next else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
