"""The outside system: an HTTP receiver on loopback that records every request.

Capabilities such as `http.post` send their side effects here in the emulation
(`AIOS_HTTP_TARGETS` maps every target name to `<receiver>/<target>`). Each request is
recorded (method, path, target, headers, body, JSON body, `Idempotency-Key`) and answered
`200 {"received": true, "id": n}`.

It also keeps a little state, so that a capability can read back what it changed (as
`crm.update_contact` reads a contact before updating it): a `PUT` or `PATCH` with a JSON object
body merges it into the resource at its path (one level deep: object values are merged too),
and a `GET` of that path answers the resource's fields beside `received` and `id`. A `POST` with
a JSON object body adds an item to the collection at its path (with `id` = the request's id and
`revision` 1) and answers it; like real platforms it never deduplicates. `GET <collection>?k=v`
lists the items whose field `k` is `v` (`{"items": [...]}`); `PUT <collection>/<id>` updates
that item and counts its `revision`.

Control endpoints (not recorded):

- `GET /_requests` lists the records; `DELETE /_requests` clears them;
- `POST /_faults {"status": 503, "times": 2}` makes the next 2 requests answer 503 (they are
  still recorded, with the status they got); with `"path_contains": "T-42"` only requests whose
  path contains that text take the fault, so concurrent cases cannot take each other's faults;
  with `"stall_seconds": 6` (and `"status": 200`) the request is stored and applied as usual
  but answered only after that many seconds: a caller with a shorter timeout gives up on a
  request that took effect (the outside system timing out after it stored the request);
  `"after_store": true` keeps the request's effect before answering the fault (a platform that
  stored a post and then timed out), `"method": "POST"` takes only requests of that method;
  `DELETE /_faults` clears pending faults.

Loopback services (`local.services`) mounted with `mount()` answer the requests under their
mounts (`/<capability>/...`) with their own state and idempotency; the receiver still records
them.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from local.loopback import LoopbackServer
from local.services import LoopbackService


@dataclass(frozen=True)
class ReceivedRequest:
    id: int
    method: str
    path: str
    target: str  # first path segment: the AIOS_HTTP_TARGETS name the request was sent to
    headers: dict[str, str]
    body: str
    json: Any
    idempotency_key: str | None
    status: int  # what the receiver answered


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[ReceivedRequest] = field(default_factory=list)
    # (status, path substring, stall seconds, after store, method or "") for the next matching
    # requests
    faults: list[tuple[int, str, float, bool, str]] = field(default_factory=list)
    next_id: int = 1
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, LoopbackService] = field(default_factory=dict)  # mount -> service
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Receiver(LoopbackServer):
    """A recording HTTP endpoint; `start()` binds 127.0.0.1 on `port` (0 = any free port)."""

    def __init__(self, port: int = 0) -> None:
        self._state = _State()
        state = self._state

        class Handler(_Handler):
            pass

        Handler.state = state
        super().__init__(Handler, port, "receiver")

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._state.lock:
            return list(self._state.records)

    def clear(self) -> None:
        with self._state.lock:
            self._state.records.clear()
            self._state.faults.clear()
            self._state.resources.clear()
            self._state.collections.clear()

    def mount(self, service: LoopbackService) -> None:
        """Let `service` answer every request under `/<mount>/` for each of its mounts."""
        with self._state.lock:
            for name in service.mounts:
                self._state.services[name] = service

    def resource(self, path: str) -> dict[str, Any]:
        """The state kept at `path` (from PUT and PATCH requests); {} when there is none."""
        with self._state.lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._state.resources.get(path, {})))
            return copy

    def collection(self, path: str) -> list[dict[str, Any]]:
        """The items POSTed to `path` (each with its `id` and `revision`), oldest first."""
        with self._state.lock:
            items: list[dict[str, Any]] = json.loads(
                json.dumps(self._state.collections.get(path, []))
            )
            return items

    def inject_faults(
        self,
        status: int,
        times: int = 1,
        path_contains: str = "",
        stall_seconds: float = 0.0,
        after_store: bool = False,
        method: str = "",
    ) -> None:
        """Answer the next `times` requests (whose path contains `path_contains`, of `method` if
        given) with `status`, after `stall_seconds` (a 200 with a stall: stored and applied,
        answered too late); with `after_store`, a faulted request's effect is kept first (a
        platform that stored the post and then timed out at its gateway)."""
        with self._state.lock:
            self._state.faults.extend(
                [(status, path_contains, stall_seconds, after_store, method)] * times
            )


_FAULT_SHAPE = (
    'expected {"status": int, "times": int, "path_contains": str, "stall_seconds": number,'
    ' "after_store": bool, "method": str}'
)


class _Handler(BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the caller gave up (a stalled answer)
            self.close_connection = True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _control(self) -> bool:
        path = self.path.split("?", 1)[0]
        if path == "/_requests":
            if self.command == "GET":
                with self.state.lock:
                    records = [asdict(r) for r in self.state.records]
                self._send(200, {"requests": records})
            elif self.command == "DELETE":
                with self.state.lock:
                    self.state.records.clear()
                self._send(200, {"cleared": True})
            else:
                self._send(405, {"error": "GET or DELETE"})
            return True
        if path == "/_faults":
            if self.command == "POST":
                try:
                    spec = json.loads(self._body() or b"{}")
                    status, times = int(spec["status"]), int(spec.get("times", 1))
                    match = str(spec.get("path_contains", ""))
                    stall = float(spec.get("stall_seconds", 0))
                    after_store = bool(spec.get("after_store", False))
                    method = str(spec.get("method", "")).upper()
                except (ValueError, KeyError, TypeError):
                    self._send(400, {"error": _FAULT_SHAPE})
                    return True
                with self.state.lock:
                    self.state.faults.extend([(status, match, stall, after_store, method)] * times)
                    pending = len(self.state.faults)
                self._send(200, {"pending_faults": pending})
            elif self.command == "DELETE":
                with self.state.lock:
                    self.state.faults.clear()
                self._send(200, {"pending_faults": 0})
            else:
                self._send(405, {"error": "POST or DELETE"})
            return True
        return False

    def _record(self) -> None:
        if self._control():
            return
        raw = self._body()
        text = raw.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = None
        path = self.path.split("?", 1)[0]
        target = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        key = self.headers.get("Idempotency-Key")
        with self.state.lock:
            status, stall, keep = 200, 0.0, True
            for i, (fault, match, seconds, after_store, method) in enumerate(self.state.faults):
                if match in self.path and method in ("", self.command):
                    status, stall, keep = fault, seconds, fault == 200 or after_store
                    del self.state.faults[i]
                    break
            service = self.state.services.get(target)
        payload: dict[str, Any] | None = None
        if service is not None and status == 200:  # outside the lock: a service may stall
            answer = service.handle(self.command, path[len(target) + 1 :] or "/", parsed, key)
            status, payload = answer.status, answer.payload
        with self.state.lock:
            record = ReceivedRequest(
                id=self.state.next_id,
                method=self.command,
                path=self.path,
                target=target,
                headers=dict(self.headers.items()),
                body=text,
                json=parsed,
                idempotency_key=key,
                status=status,
            )
            self.state.next_id += 1
            self.state.records.append(record)
            stored = (
                _keep_state(self.state, self.command, self.path, parsed, record.id)
                if service is None and keep
                else None
            )
        if stall:
            time.sleep(stall)  # the caller has given up by now; the request took effect
            self.close_connection = True
        try:
            if payload is not None:
                self._send(status, {**payload, "id": record.id})
            elif status == 200:
                self._send(200, {**(stored or {}), "received": True, "id": record.id})
            else:
                self._send(status, {"received": False, "id": record.id, "injected_fault": status})
        except OSError:  # the caller hung up (it timed out)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record


def _keep_state(
    state: _State, method: str, target: str, body: Any, record_id: int
) -> dict[str, Any] | None:
    """Keep what a request leaves behind; see the module docstring."""
    path, _, query = target.partition("?")
    parent, _, leaf = path.rpartition("/")
    if method == "POST" and isinstance(body, dict):
        item = {**body, "id": record_id, "revision": 1}
        state.collections.setdefault(path, []).append(item)
        return item
    if method in ("PUT", "PATCH") and isinstance(body, dict) and parent in state.collections:
        for item in state.collections[parent]:
            if str(item["id"]) == leaf:
                item.update(body)
                item["revision"] = int(item["revision"]) + 1
                return dict(item)
    if method in ("PUT", "PATCH") and isinstance(body, dict):
        resource = state.resources.setdefault(path, {})
        for key, value in body.items():
            if isinstance(value, dict) and isinstance(resource.get(key), dict):
                resource[key] = {**resource[key], **value}
            else:
                resource[key] = value
        return None
    if method == "GET" and path in state.collections:
        wanted = dict(parse_qsl(query))
        items = [
            i for i in state.collections[path] if all(str(i.get(k)) == v for k, v in wanted.items())
        ]
        return {"items": items}
    if method == "GET":
        return state.resources.get(path)
    return None
