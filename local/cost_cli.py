"""`aios cost`: what the cases of a time window cost, per process and per path, priced.

Like `aios kpi`, it works against AWS or the emulation alike (the ledger table and the
endpoint from flags or `AIOS_LEDGER_TABLE` / `AWS_ENDPOINT_URL`). For every case created in
the window (the ledger's `ByProcess` index) it reads the case's records and estimates its
infrastructure usage (`aios.cost.estimate`, the same code as `GET /cases/{id}`); with the
state machine's ARN (`--state-machine` or `AIOS_STATE_MACHINE_ARN`) each case's state
transitions are counted from its execution history instead. Model tokens and dollars come
from each decision's recorded usage. Prices: the price table (`aios/cost/prices.json`) for
`--region` (default $AWS_REGION, else us-east-1), or `--prices FILE`.

    aios cost [--since 24h|ISO] [--until ISO] [--process P] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"
PATHS = ("auto", "approved", "handed_off")


def _library(endpoint_url: str | None) -> None:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url


def _transitions(sfn: Any, machine_arn: str, case_id: str) -> int | None:
    """State transitions of the case's execution, from its history (None: no execution)."""
    arn = machine_arn.replace(":stateMachine:", ":execution:") + f":{case_id}"
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    count = 0
    try:
        while True:
            page = sfn.get_execution_history(**kwargs)
            count += sum(1 for e in page["events"] if e["type"].endswith("StateEntered"))
            if not page.get("nextToken"):
                return count
            kwargs["nextToken"] = page["nextToken"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def collect(
    processes: list[str],
    since: datetime,
    until: datetime,
    *,
    machine_arn: str | None,
    memory_steps: bool,
) -> dict[tuple[str, str], dict[str, Any]]:
    """(process, path) -> {"cases", "meter"}: the window's cases, metered."""
    from aios import aws
    from aios.cases import cost_records
    from aios.cost import Meter
    from aios.cost.estimate import case_meter, case_path
    from aios.ledger import cases_by_process, load_case_items

    sfn = aws.client("stepfunctions") if machine_arn else None
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"cases": 0, "meter": Meter()}
    )
    for process in processes:
        for ref in cases_by_process(process, since, until):
            items = load_case_items(ref.case_id)
            records = cost_records(items)
            meter = case_meter(records, ref.status, memory_steps=memory_steps)
            if sfn is not None and machine_arn:
                counted = _transitions(sfn, machine_arn, ref.case_id)
                if counted is not None:
                    meter.counts["sfn_transitions"] = float(counted)
            for item in items:
                usage = (item.data or {}).get("usage") if item.kind in ("plan", "handoff") else None
                for model_id, tokens in _tokens_by_model(usage or {}).items():
                    meter.add_tokens(model_id, **tokens)
            group = groups[(process, case_path(records))]
            group["cases"] += 1
            group["meter"].merge(meter)
    return groups


def _tokens_by_model(usage: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A decision's tokens by model: each tier's tokens under the model that answered it
    (`by_tier.<tier>.model_id`; older records: the one model the usage names, else the tier)."""
    ids = usage.get("model_ids") or []
    out: dict[str, dict[str, float]] = {}
    for tier, t in (usage.get("by_tier") or {}).items():
        model_id = t.get("model_id") or (ids[0] if len(ids) == 1 else tier)
        entry = out.setdefault(model_id, {"input": 0.0, "output": 0.0})
        entry["input"] += float(t.get("input_tokens") or 0)
        entry["output"] += float(t.get("output_tokens") or 0)
    return out


def run(args: argparse.Namespace) -> int:
    _library(args.endpoint_url)
    from aios.cost import Meter, load_prices, price, render
    from aios.errors import AiosError
    from aios.kpis import parse_window
    from aios.ledger import bind_ledger
    from aios.specs import current_specs, get_spec

    if not args.table:
        print("error: --table (or $AIOS_LEDGER_TABLE) names the ledger table", file=sys.stderr)
        return 2
    bind_ledger(args.table)
    try:
        since, until = parse_window(args.since, args.until, datetime.now(UTC))
        if args.process:
            get_spec(args.process)
    except AiosError as exc:  # a bad window, an unknown process
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    prices = load_prices(args.region or os.environ.get("AWS_REGION"), path=args.prices)
    processes = [args.process] if args.process else sorted(current_specs())
    groups = collect(
        processes, since, until, machine_arn=args.state_machine, memory_steps=args.memory_steps
    )
    out: dict[str, Any] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "region": prices.region,
        "prices_as_of": prices.as_of,
        "groups": [],
    }
    lines = [f"cost of cases created {since.isoformat()} .. {until.isoformat()} ({prices.region})"]
    total = Meter()
    cases = 0
    for (process, path), group in sorted(groups.items()):
        report = price(group["meter"], prices, cases=group["cases"])
        out["groups"].append({"process": process, "path": path, **report.to_dict()})
        lines += ["", render(report, f"== {process} / {path}: {group['cases']} case(s) ==")]
        total.merge(group["meter"])
        cases += group["cases"]
    if cases:
        report = price(total, prices, cases=cases)
        out["all"] = report.to_dict()
        lines += ["", render(report, f"== all: {cases} case(s) ==")]
    else:
        lines.append("no cases in the window")
    print(json.dumps(out, indent=2) if args.json else "\n".join(lines))
    return 0


def add_parser(commands: Any) -> None:
    cost = commands.add_parser("cost", help="priced cost per case, per process and path")
    cost.add_argument("--process", default=None, help="one process (default: every process)")
    cost.add_argument("--since", default=None, help="ISO 8601 time or a duration like 24h, 7d")
    cost.add_argument("--until", default=None, help="ISO 8601 time (default: now)")
    cost.add_argument(
        "--table",
        default=os.environ.get("AIOS_LEDGER_TABLE"),
        help="ledger table name (default $AIOS_LEDGER_TABLE)",
    )
    cost.add_argument(
        "--state-machine",
        default=os.environ.get("AIOS_STATE_MACHINE_ARN"),
        help="the case state machine's ARN: transitions counted from the execution histories",
    )
    cost.add_argument(
        "--memory-steps",
        action="store_true",
        help="the flow has the memory steps (memory_engine is not none)",
    )
    cost.add_argument("--region", default=None, help="prices of this region (default $AWS_REGION)")
    cost.add_argument("--prices", type=Path, default=None, help="a price table of your own")
    cost.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL)",
    )
    cost.add_argument("--json", action="store_true", help="the report as JSON")
    cost.set_defaults(run=run)
