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


@pytest.fixture
def decided(ledger, kms, plan_key):
    """A submitted ticket-triage case and its signed decision (http.post action first)."""
    from aios import cases
    from aios.planning import CaseInput, decide_case
    from aios.providers import get_provider
    from aios.specs import get_spec

    started: list[tuple[str, dict[str, Any]]] = []
    submitted = cases.submit_case(
        "ticket-triage",
        json.dumps(get_spec("ticket-triage").example_input),
        tenant="t1",
        idempotency_key=None,
        start_execution=lambda cid, inp: started.append((cid, inp)),
    )
    decision = decide_case(
        CaseInput(**started[0][1]),
        provider=get_provider("offline"),
        kms=kms,
        key_id=plan_key,
        ttl_seconds=600,
    )
    out = decision.model_dump(mode="json", by_alias=True)
    # These tests exercise the outside call: put the sample plan's http.post action first.
    out["actions"].sort(key=lambda a: a["capability"] != "http.post")
    return submitted["case_id"], out
