"""The loop every event-source poller of the emulation runs in its own daemon thread."""

from __future__ import annotations

import logging
import threading
from typing import Self

logger = logging.getLogger(__name__)

DISABLED_WAIT_S = 0.1  # how often a disabled loop looks whether it was enabled again


class PollingLoop:
    """Calls `poll_once` until `stop()`; idles when a poll finds nothing; survives errors.

    `disable()` / `enable()` do what `UpdateEventSourceMapping(Enabled=...)` does on AWS:
    a disabled loop delivers nothing (its records wait at the source) until enabled again.
    """

    def __init__(self, name: str, idle_wait_s: float) -> None:
        self.idle_wait_s = idle_wait_s
        self._stop = threading.Event()
        self._enabled = threading.Event()
        self._enabled.set()
        self._polling = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def poll_once(self) -> int:
        """Deliver at most one batch; returns how many records were delivered."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def disable(self) -> None:
        """Deliver nothing more; returns once a delivery under way has finished."""
        self._enabled.clear()
        with self._polling:
            pass

    def enable(self) -> None:
        self._enabled.set()

    @property
    def enabled(self) -> bool:
        return self._enabled.is_set()

    # A test pauses a loop to look at a queue the way a disabled mapping would leave it.
    pause = disable
    resume = enable

    def _poll(self) -> int:
        with self._polling:
            return self.poll_once() if self._enabled.is_set() else 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._poll():
                    idle = self.idle_wait_s if self._enabled.is_set() else DISABLED_WAIT_S
                    self._stop.wait(idle)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("%s failed; retrying", self._thread.name)
                self._stop.wait(1.0)
