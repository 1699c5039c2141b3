"""`python -m aios.executor`: the executor process (the container's entry point).

Reads the execute function's environment (AIOS_LEDGER_TABLE, AIOS_IDEMPOTENCY_TABLE, the plan
keys, the capabilities' roles and secrets, ...) plus AIOS_ACTION_QUEUE_URL, and polls until
SIGTERM or SIGINT, finishing the message at hand first (ECS waits `stopTimeout`).
"""

from __future__ import annotations

import signal
import threading

from aios.executor.process import main

if __name__ == "__main__":
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    raise SystemExit(main(stop.is_set))
