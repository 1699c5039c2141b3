"""Loopback services: fakes of your outside systems, with state, served by the receiver.

The emulation points every https URL of a capability's options at `<receiver>/<capability>`
(see `Emulation._with_local_targets`). A `LoopbackService` mounted on the receiver answers the
requests under the capability names it lists in `mounts` (one service can stand behind several
capabilities, as one billing system stands behind refunds, credits and plan changes), instead of
the receiver's generic record-and-merge. The receiver still records every request, with the
status the service gave.

What every service gets from this base, so that a fake behaves like a careful real system:

- **Idempotency keys**: a write (POST, PUT, PATCH, DELETE) with an `Idempotency-Key` seen
  before answers what the first request got, with `"idempotent_replay": true`, and changes
  nothing; the same key with another method, path or body is `422`.
- **Store, then time out** (`delay_after_store`): the next matching write is applied and
  stored, then its answer is held back for longer than the caller waits, as when a response
  is lost after the system committed. A retry with the same key then gets the stored answer.

Where they come from: every module in the workspace's `capabilities/_loopback/` folder that
defines `SERVICE` (never deployed: `_*` modules are not capabilities, and the user layer leaves
the folder out). `emu.service(name)` returns one, for tests to seed state and inject faults.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_FOLDER = Path("capabilities") / "_loopback"


@dataclass(frozen=True)
class Answer:
    status: int
    payload: dict[str, Any]


class LoopbackService:
    """Subclass and implement `route`; set `name` and `mounts`."""

    name: str = "service"
    mounts: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._keys: dict[str, tuple[str, Answer]] = {}
        self._delays: list[tuple[str, float]] = []
        self.writes: list[dict[str, Any]] = []
        """Every write that changed state: method, path, body, key, answer (what it did)."""
        self.reset()

    # -- to implement

    def reset(self) -> None:
        """Forget all state (and seed what the service starts with)."""

    def route(self, method: str, path: str, body: Any) -> Answer:
        """Answer one request; `path` is relative to the mount (`/orders/O-1/refunds`)."""
        raise NotImplementedError

    # -- the base's behaviour

    def delay_after_store(self, path_contains: str, seconds: float, times: int = 1) -> None:
        """Apply and store the next `times` matching writes, then answer only after `seconds`."""
        with self.lock:
            self._delays.extend([(path_contains, seconds)] * times)

    def clear(self) -> None:
        with self.lock:
            self._keys.clear()
            self._delays.clear()
            self.writes.clear()
            self.reset()

    def handle(self, method: str, path: str, body: Any, key: str | None) -> Answer:
        """Idempotent for writes with a key; see the module docstring."""
        delay = 0.0
        with self.lock:
            fingerprint = hashlib.sha256(
                json.dumps([method, path, body], sort_keys=True).encode()
            ).hexdigest()
            if method in WRITES and key:
                seen = self._keys.get(key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        return Answer(
                            422, {"error": "Idempotency-Key reused with a different request"}
                        )
                    return Answer(seen[1].status, {**seen[1].payload, "idempotent_replay": True})
            try:
                answer = self.route(method, path, body)
            except (KeyError, TypeError, ValueError) as exc:
                answer = Answer(400, {"error": f"bad request: {exc}"})
            if method in WRITES:
                if key and answer.status < 500:
                    self._keys[key] = (fingerprint, answer)
                if answer.status < 300:
                    self.writes.append(
                        {"method": method, "path": path, "body": body, "key": key,
                         "answer": answer.payload}
                    )  # fmt: skip
                for i, (match, seconds) in enumerate(self._delays):
                    if match in path:
                        delay = seconds
                        del self._delays[i]
                        break
        if delay:
            time.sleep(delay)  # the caller gave up meanwhile: the answer is lost
        return answer


def discover_services(root: Path) -> list[LoopbackService]:
    """`SERVICE` of every module in `<root>/capabilities/_loopback/` (sorted by file name)."""
    folder = root / LOOPBACK_FOLDER
    found: list[LoopbackService] = []
    for file in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        if file.name.startswith("_"):
            continue
        name = f"aios_loopback_{file.stem}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        service = getattr(module, "SERVICE", None)
        if isinstance(service, LoopbackService):
            found.append(service)
    return found
