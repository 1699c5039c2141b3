"""`aios executor run`: the execution plane as a long-lived process on this machine.

The process the Fargate container runs (`python -m aios.executor`, stacks/executor.py), for a
host of your own: it polls the action queue and runs each message through the execute
function's code (`aios.execution.run_message`). Its configuration is the execute function's
environment (the ledger and idempotency tables, the plan keys, the capabilities' roles and
secrets) plus `AIOS_ACTION_QUEUE_URL`; AWS credentials and region come from the usual chain and
`--endpoint-url` (or $AWS_ENDPOINT_URL) points it at the emulation. It stops on SIGTERM or
Ctrl-C after the message at hand, or after `--max-messages`. What it may do is in
docs/two-accounts.md ("The executor's permissions").
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"


def run(args: Any) -> int:
    if str(LAYER) not in sys.path:
        sys.path.append(str(LAYER))  # after $PYTHONPATH: a deployed copy of the layer wins
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.queue_url:
        os.environ["AIOS_ACTION_QUEUE_URL"] = args.queue_url
    from aios.executor.process import build_executor
    from aios.settings import load_settings

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        executor = build_executor(
            load_settings(), wait_seconds=args.wait_seconds, message_timeout=args.message_timeout
        )
    except RuntimeError as exc:  # a missing or malformed variable, named
        print(f"aios executor: {exc}", file=sys.stderr)
        return 2
    handled = 0
    while not stop.is_set():
        handled += sum(1 for h in executor.poll_once(stop.is_set) if h.outcome is not None)
        if args.max_messages and handled >= args.max_messages:
            break
    print(f"aios executor: {handled} message(s) handled", file=sys.stderr)
    return 0


def add_parser(commands: Any) -> None:
    executor = commands.add_parser("executor", help="the execution plane as a process")
    executor_commands = executor.add_subparsers(dest="executor_command", required=True)
    run_parser = executor_commands.add_parser("run", help="poll the action queue and execute")
    run_parser.add_argument(
        "--queue-url", default=None, help="the action queue (default $AIOS_ACTION_QUEUE_URL)"
    )
    run_parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint (default $AWS_ENDPOINT_URL; unset = AWS)",
    )
    run_parser.add_argument(
        "--wait-seconds", type=int, default=20, help="long polling per receive (0-20)"
    )
    run_parser.add_argument(
        "--message-timeout", type=float, default=30.0, help="seconds one message may take"
    )
    run_parser.add_argument(
        "--max-messages", type=int, default=0, help="stop after this many (default: never)"
    )
    run_parser.set_defaults(run=run)
