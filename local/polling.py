"""The loop every event-source poller of the emulation runs in its own daemon thread."""

from __future__ import annotations

import logging
import threading
from typing import Self

logger = logging.getLogger(__name__)


class PollingLoop:
    """Calls `poll_once` until `stop()`; idles when a poll finds nothing; survives errors."""

    def __init__(self, name: str, idle_wait_s: float) -> None:
        self.idle_wait_s = idle_wait_s
        self._stop = threading.Event()
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(self.idle_wait_s)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("%s failed; retrying", self._thread.name)
                self._stop.wait(1.0)
