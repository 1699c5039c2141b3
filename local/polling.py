"""The loop every event-source poller of the emulation runs in its own daemon thread."""

from __future__ import annotations

import logging
import threading
from typing import Self

logger = logging.getLogger(__name__)


class PollingLoop:
    """Calls `poll_once` until `stop()`; idles when a poll finds nothing; survives errors.

    `pause()` stops polling (after the poll in flight, which it waits for) until `resume()`:
    a test can then look at a queue the way an event source mapping would leave it.
    """

    def __init__(self, name: str, idle_wait_s: float) -> None:
        self.idle_wait_s = idle_wait_s
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._polling = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def poll_once(self) -> int:
        """Deliver at most one batch; returns how many records were delivered."""
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def pause(self) -> None:
        """Stop polling once the poll in flight is over (this waits for it)."""
        self._paused.set()
        with self._polling:
            pass

    def resume(self) -> None:
        self._paused.clear()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(self.idle_wait_s)
                continue
            try:
                with self._polling:
                    found = self._paused.is_set() or self.poll_once()
                if not found:
                    self._stop.wait(self.idle_wait_s)
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("%s failed; retrying", self._thread.name)
                self._stop.wait(1.0)
