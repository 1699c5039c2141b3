"""`aios kpi`, `aios dlq list|redrive` and `aios webhooks replay`: the signals, from a terminal.

Like `aios audit verify`, they work against AWS or the emulation alike: the ledger table, the
queues and the endpoint come from flags or the environment (`AIOS_LEDGER_TABLE`,
`AIOS_ACTION_QUEUE_URL`, `AIOS_ACTION_DLQ_URL`, `AIOS_WEBHOOK_QUEUE_URL`,
`AIOS_WEBHOOK_DLQ_URL`, `AWS_ENDPOINT_URL`; the stack's outputs name them). They call the
same library code as `GET /kpis` and the reconciler.

aios kpi [--process P] [--since 24h|ISO] [--until ISO] [--json]
aios dlq list                      what is in the action dead-letter queue (nothing consumed)
aios dlq redrive (--all | ID...)   move dead-lettered actions back to the action queue
aios webhooks replay (--all | ID...)  move failed webhook deliveries back to their queue
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"
PERCENT = (
    "acceptance_rate", "auto_applied_share", "rollback_rate", "human_intervention_rate",
    "handoff_rate", "cache_hit_rate",
)  # fmt: skip
COLUMNS = (
    ("process", "process"), ("model_id", "model"), ("prompt_version", "prompt"),
    ("cases", "cases"), ("acceptance_rate", "accept"), ("auto_applied_share", "auto"),
    ("rollback_rate", "rollback"), ("human_intervention_rate", "human"),
    ("time_to_human_p50_s", "to human p50"), ("time_to_human_p90_s", "p90"),
    ("handoff_rate", "handoff"), ("model_cost_per_case_usd", "USD/case"),
    ("cache_hit_rate", "cache hit"),
)  # fmt: skip


def _library(endpoint_url: str | None) -> None:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url


def _cell(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"  # no denominator, or no model proposed (a handoff before any plan)
    if key in PERCENT:
        return f"{100 * value:.1f}%"
    if key == "model_cost_per_case_usd":
        return f"{value:.6f}"
    if isinstance(value, float):
        return f"{value:.1f}s"
    return str(value)


def render_kpis(report: dict[str, Any]) -> str:
    """The KPI report as a text table (one row per process, then per model and prompt)."""
    header = [title for _, title in COLUMNS]
    rows = [[_cell(key, row[key]) for key, _ in COLUMNS] for row in report["rows"]]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"KPIs {report['since']} .. {report['until']}"
        + (" (truncated)" if report["truncated"] else "")
    ]
    for cells in [header, *rows]:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    for row in report["rows"]:
        if row["model_id"] == "*" and row["handoff_rate_by_reason"]:
            reasons = ", ".join(
                f"{r} {100 * v:.1f}%" for r, v in row["handoff_rate_by_reason"].items()
            )
            lines.append(f"handoffs of {row['process']} by reason: {reasons}")
    return "\n".join(lines)


def kpi(args: argparse.Namespace) -> int:
    _library(args.endpoint_url)
    from aios.errors import InvalidInput
    from aios.kpis import kpi_report, parse_window
    from aios.ledger import bind_ledger

    bind_ledger(args.table)
    try:
        since, until = parse_window(args.since, args.until, datetime.now(UTC))
        report = kpi_report(args.process, since, until).model_dump(mode="json")
    except InvalidInput as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else render_kpis(report))
    return 0


def _describe(body: str, table: str | None) -> dict[str, Any]:
    """What a dead-lettered message claims to be, and the ledger's status of that action (for a
    plan's actions in one message: the first not applied, where it stopped, with the ids of all)."""
    from aios.errors import ActionRejected
    from aios.execution.messages import parse_message
    from aios.ledger import bind_ledger, get_action
    from aios.plans import CompensationMessage, PlanActionsMessage
    from aios.reconciler.dead_letters import stopped_at

    try:
        message = parse_message(body)
    except ActionRejected as exc:
        return {"kind": "unparseable", "error": exc.code}
    if isinstance(message, CompensationMessage):
        return {"kind": "compensation", "case_id": message.compensate.case_id}
    each = message.each() if isinstance(message, PlanActionsMessage) else [message]
    if table:
        bind_ledger(table)
    action = (stopped_at(message) if table else each[0]).action
    described: dict[str, Any] = {
        "kind": "action",
        "case_id": action.case_id,
        "action_id": action.action_id,
        "capability": action.capability,
    }
    if len(each) > 1:
        described["in_one_message"] = [one.action.action_id for one in each]
    if table:
        item = get_action(action.case_id, action.index)
        described["ledger_status"] = item.status if item is not None else None
    return described


def dlq_list(args: argparse.Namespace) -> int:
    _library(args.endpoint_url)
    from aios import aws
    from aios.deadletters import peek, release

    sqs = aws.client("sqs")
    letters = peek(sqs, args.dlq_url)
    release(sqs, args.dlq_url, letters)
    listed = [
        {
            "message_id": letter.message_id,
            "receives": letter.receive_count,
            "sent_at": datetime.fromtimestamp(letter.sent_at / 1000, UTC).isoformat(
                timespec="seconds"
            ),
            **_describe(letter.body, args.table),
        }
        for letter in letters
    ]
    if args.json:
        print(json.dumps(listed, indent=2))
    else:
        print(f"{len(listed)} message(s) in {args.dlq_url}")
        for entry in listed:
            print("  ".join(f"{k}={v}" for k, v in entry.items()))
    return 0


def _redrive(args: argparse.Namespace, what: str) -> int:
    if not args.all and not args.message_ids:
        print("error: name message ids or pass --all", file=sys.stderr)
        return 2
    _library(args.endpoint_url)
    from aios import aws
    from aios.deadletters import redrive

    moved = redrive(
        aws.client("sqs"), args.dlq_url, args.queue_url, None if args.all else set(args.message_ids)
    )
    print(f"{len(moved)} {what} moved back to {args.queue_url}")
    for letter in moved:
        print(f"  {letter.message_id}")
    missing = set(args.message_ids or ()) - {m.message_id for m in moved}
    if missing:
        print(f"not in the dead-letter queue: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    return 0


def _common(parser: argparse.ArgumentParser, *, table: bool) -> None:
    if table:
        parser.add_argument(
            "--table",
            default=os.environ.get("AIOS_LEDGER_TABLE"),
            help="ledger table name (default $AIOS_LEDGER_TABLE)",
        )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL)",
    )


def _queues(parser: argparse.ArgumentParser, kind: str, *, queue: bool) -> None:
    env = "WEBHOOK" if kind == "webhook" else "ACTION"
    parser.add_argument(
        "--dlq-url",
        default=os.environ.get(f"AIOS_{env}_DLQ_URL"),
        required=not os.environ.get(f"AIOS_{env}_DLQ_URL"),
        help=f"the {kind} dead-letter queue URL (default $AIOS_{env}_DLQ_URL)",
    )
    if queue:
        parser.add_argument(
            "--queue-url",
            default=os.environ.get(f"AIOS_{env}_QUEUE_URL"),
            required=not os.environ.get(f"AIOS_{env}_QUEUE_URL"),
            help=f"the {kind} queue URL (default $AIOS_{env}_QUEUE_URL)",
        )
        parser.add_argument("message_ids", nargs="*", help="dead-letter message ids to move")
        parser.add_argument("--all", action="store_true", help="move every dead letter")


def add_parsers(commands: Any) -> None:
    kpis = commands.add_parser("kpi", help="decision-quality KPIs from the ledger")
    kpis.add_argument("--process", default=None, help="one process (default: every process)")
    kpis.add_argument("--since", default=None, help="ISO 8601 time or a duration like 24h, 7d")
    kpis.add_argument("--until", default=None, help="ISO 8601 time (default: now)")
    kpis.add_argument("--json", action="store_true", help="the report as JSON")
    _common(kpis, table=True)
    kpis.set_defaults(run=kpi)

    dlq = commands.add_parser("dlq", help="the action dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_commands.add_parser("list", help="list dead-lettered messages")
    listing.add_argument("--json", action="store_true")
    _queues(listing, "action", queue=False)
    _common(listing, table=True)
    listing.set_defaults(run=dlq_list)
    again = dlq_commands.add_parser("redrive", help="move dead-lettered actions back")
    _queues(again, "action", queue=True)
    _common(again, table=False)
    again.set_defaults(run=lambda a: _redrive(a, "action message(s)"))

    hooks = commands.add_parser("webhooks", help="webhook deliveries of case events")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", required=True)
    replay = hook_commands.add_parser("replay", help="replay failed webhook deliveries")
    _queues(replay, "webhook", queue=True)
    _common(replay, table=False)
    replay.set_defaults(run=lambda a: _redrive(a, "webhook deliveries"))
