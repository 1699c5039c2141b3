"""`aios`: run the local emulation.

aios local up [--port N] [--split]
                           the emulation in the foreground, until Ctrl-C or SIGTERM; with
                           --split, the two-account layout (docs/two-accounts.md)
aios demo [--process P]    start it, run a process's example case end to end (default: the
                           sample ticket-triage), approve what waits for approval as the
                           approvers would, and tell the case's story; exits non-zero unless
                           the case SUCCEEDED
aios audit verify CASE_ID|--all
                           verify audit chains in the ledger table against the signed
                           checkpoints in the Object Lock bucket (AWS or emulation)
aios keys pins             the signing keys' public keys from KMS, as the trusted_keys context
                           value of an execution plane on its own (rotation: docs/key-rotation.md)
aios control revoke|restore capability|process|tenant NAME
                           the kill switch (AWS or emulation); also `control list|audit`
aios kpi                   decision-quality KPIs from the ledger (table, or --json)
aios dlq list|redrive      the action dead-letter queue: inspect, move back
aios webhooks replay       move failed webhook deliveries back to their queue
aios validate              check every process, prompt, example and capability of the workspace
aios new process NAME      scaffold processes/NAME (spec, prompts, example, offline rules, test)
aios new capability NAME   scaffold capabilities/<module>.py and its test
aios eval PROCESS          replay labelled or recorded cases through a candidate, in shadow
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from local import (
    audit_cli,
    control_cli,
    cost_cli,
    eval_cli,
    executor_cli,
    keys_cli,
    signals_cli,
    story,
    workspace_cli,
)
from local.emulation import PROJECT_ROOT, Emulation

CASE_DEADLINE_S = 90.0
CONSOLE = sys.__stdout__ or sys.stdout
DEFAULT_DEMO = "ticket-triage"  # fully automatic: the first demo needs no one


def _http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback emulation only
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def _banner(emu: Emulation) -> str:
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in emu.timings.items())
    sm = next(iter(emu.deployment.state_machines.values()), "<state machine arn>")  # type: ignore[union-attr]
    return "\n".join(
        [
            f"AIOS local emulation up ({timings})",
            f"  API:          {emu.api_url}",
            f"  AWS endpoint: {emu.aws_endpoint}  (region {emu.region}, any credentials)",
            f"  receiver:     {emu.receiver_url}/_requests",
            f"  ledger table: {_ledger_table(emu)}  (aios control ... --table, --endpoint-url)",
            f"  AppConfig:    {emu.appconfig.url}  (aios control deploy --endpoint-url)",
            *_console_lines(emu),
            "  try:",
            f"    curl {emu.api_url}/processes",
            f"    {_credentials(emu)} aws --region {emu.region}"
            f" --endpoint-url {emu.aws_endpoint} stepfunctions list-executions"
            f" --state-machine-arn {sm}",
            *_environment_lines(emu),
        ]
    )


def _credentials(emu: Emulation) -> str:
    """Credentials for the AWS CLI hint: any in one stack; in the split layout the decision
    account's (the account of a request follows its credentials)."""
    if emu.execution is None:
        return "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    creds = emu.session.get_credentials().get_frozen_credentials()
    return (
        f"AWS_ACCESS_KEY_ID={creds.access_key} AWS_SECRET_ACCESS_KEY={creds.secret_key}"
        f" AWS_SESSION_TOKEN={creds.token}"
    )


def _environment_lines(emu: Emulation) -> list[str]:
    if emu.execution is not None:
        # The account of a request follows its credentials (`local.split`).
        return [
            f"  split layout: decision plane {emu.deployment.stack_name} in account"  # type: ignore[union-attr]
            f" {emu.account}, execution plane {emu.execution.stack_name} in account"
            f" {emu.execution.account} (credentials of a role in that account reach it)",
        ]
    return [
        "  for aios audit|kpi|dlq|webhooks in another shell:",
        *(f"    export {k}={v}" for k, v in emu.cli_environment().items()),
    ]


def _ledger_table(emu: Emulation) -> str:
    return str(emu.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"])  # type: ignore[union-attr]


def _console_lines(emu: Emulation) -> list[str]:
    if not emu.console_url:
        return []
    lines = [f"  console:      {emu.console_url}  (sign in as one of these local users)"]
    lines += [
        f"    {u.role:<9} username {u.username:<9} password {u.password}  ({u.email})"
        for u in emu.console_users
    ]
    return lines


def local_up(port: int | None, split: bool = False) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("synthesizing and starting the emulation...", flush=True)
    with Emulation(api_port=port, split=split) as emu:
        print(_banner(emu), flush=True)
        print("Ctrl-C to stop.", flush=True)
        stop.wait()
        print("\nstopping...", flush=True)
    print("stopped.", flush=True)
    return 0


def _say(*parts: Any) -> None:
    """Print to the console the CLI started with: the in-process Lambda runtime swaps
    `sys.stdout` for a function's log while it runs, which may be at any moment."""
    print(*parts, file=CONSOLE, flush=True)


def _section(title: str) -> None:
    _say(f"\n== {title}")


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


APPROVAL_LINK = re.compile(r'href="([^"]+/approvals/[^"?]+\?t=[^"]+)"')
DEMO_END = frozenset({"SUCCEEDED", "FAILED", "HANDED_OFF", "RESOLVED", "CANCELLED"})


def _approve_pending(emu: Emulation, case_id: str, used: set[str]) -> list[str]:
    """Approve every approval link of the case mailed so far, as its approver would (the demo
    runs unattended); returns who approved."""
    approved = []
    for mail in emu.ses_outbox():
        match = APPROVAL_LINK.search(mail["body"])
        if not match or f"/approvals/{case_id}." not in match.group(1):
            continue
        link = match.group(1).replace("&amp;", "&")
        if link in used:
            continue
        used.add(link)
        url, _, token = link.partition("?t=")
        data = urllib.parse.urlencode({"t": token, "decision": "approve"}).encode()
        request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - loopback
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=30).close()  # noqa: S310
        approved.append(", ".join(mail["destinations"]["ToAddresses"]))
    return approved


def _run_case(
    emu: Emulation, process: dict[str, Any], deadline_s: float = CASE_DEADLINE_S
) -> tuple[str, dict[str, Any], float]:
    """Submit the process's example and follow the case to its end (approving what waits)."""
    api = emu.api_url
    started = time.monotonic()
    status, submitted = _http(
        "POST",
        f"{api}/processes/{process['name']}/cases",
        process["example_input"],
        {"Idempotency-Key": f"demo-{int(time.time())}"},
    )
    if status != 202:
        raise RuntimeError(f"submit failed: {status} {submitted}")
    case_id = str(submitted["case_id"])
    used: set[str] = set()
    deadline = time.monotonic() + deadline_s
    case: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, case = _http("GET", f"{api}/cases/{case_id}")
        if case.get("status") in DEMO_END:
            break
        if case.get("status") == "WAITING_APPROVAL":
            for who in _approve_pending(emu, case_id, used):
                _say(f"  (the demo approves as {who}, by the link in their email)")
        time.sleep(0.2)
    return case_id, case, time.monotonic() - started


def _cost_summary(cost: dict[str, Any]) -> None:
    """The case's priced cost, as GET /cases/{id} gives it, item by item."""
    _section(f"cost ({cost.get('region')} list prices of {cost.get('prices_as_of')})")
    for item in cost.get("items") or []:
        quantity = "" if item["quantity"] is None else f"{item['quantity']:g} {item['unit']}"
        _say(f"- {item['item']:<22} {quantity:<28} USD {item['usd']:.8f}")
    _say(
        f"case: USD {cost.get('usd', 0):.6f} (infrastructure {cost.get('infrastructure_usd', 0):.6f},"
        f" model {cost.get('model_usd', 0):.6f}); per 1,000 such cases USD "
        f"{cost.get('usd_per_1000_cases', 0):.2f}; path {cost.get('path')}"
    )


def demo(port: int | None, process_name: str | None = None, raw: bool = False) -> int:
    """Run a process's example case end to end and tell its story; see the module docstring."""
    _say("synthesizing and starting the emulation...")
    log_dir = PROJECT_ROOT / ".aios" / "logs" / time.strftime("demo-%Y%m%d-%H%M%S")
    with Emulation(api_port=0 if port is None else port, function_log_dir=log_dir) as emu:
        _say(_banner(emu))
        _say(f"  function logs: {log_dir}/<function>.log")
        api = emu.api_url
        status, listing = _http("GET", f"{api}/processes")
        if status != 200 or not listing.get("processes"):
            _say(f"GET /processes failed: {status} {listing}")
            return 1
        processes = listing["processes"]
        names = [p["name"] for p in processes]
        wanted = process_name or DEFAULT_DEMO
        found = [p for p in processes if p["name"] == wanted]
        if process_name and not found:
            _say(f"no process {process_name!r}; the emulation serves {names}")
            return 1
        process = found[0] if found else processes[0]
        others = ", ".join(n for n in names if n != process["name"])
        _section(
            f"{process['name']}: its example case (others: {others};"
            " make demo PROCESS=<name> or aios demo --process <name>)"
        )
        _say(_dump(process["example_input"]))
        try:
            case_id, case, elapsed = _run_case(emu, process)
        except RuntimeError as exc:
            _say(exc)
            return 1
        _, audit = _http("GET", f"{api}/cases/{case_id}/audit")
        audit = audit if isinstance(audit, dict) else {}
        requests = [dataclasses.asdict(r) for r in emu.receiver.requests]
        _section("what happened")
        systems = {m: s.name for s in emu.services.values() for m in s.mounts}
        _say(story.render(case, audit, requests, elapsed, systems))
        content = story.content_lines(case)
        if content:
            _section("content: staged versions, publications, model cost by step")
            _say("\n".join(content))
        if raw:
            _section("the case as GET /cases/{id} serves it")
            _say(_dump(case))
        _cost_summary(case.get("cost") or {})
        chain = audit.get("chain") or {}
        succeeded = case.get("status") == "SUCCEEDED" and bool(chain.get("valid"))
        _say(f"\ndemo {'succeeded' if succeeded else 'FAILED'}")
        return 0 if succeeded else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aios", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log the emulation's work")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="the local emulation")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="run the emulation in the foreground")
    up.add_argument(
        "--port", type=int, default=None, help="API port (default $AIOS_LOCAL_PORT or 8787)"
    )
    up.add_argument(
        "--split",
        action="store_true",
        help="the decision and execution planes in two emulated accounts",
    )
    demo_parser = commands.add_parser("demo", help="run the sample case end to end")
    demo_parser.add_argument(
        "--port", type=int, default=None, help="API port (default: a free one)"
    )
    demo_parser.add_argument(
        "--process", default=None, help=f"the process whose example case runs ({DEFAULT_DEMO})"
    )
    demo_parser.add_argument(
        "--raw", action="store_true", help="also print the case as the API serves it"
    )
    audit_cli.add_parser(commands)
    control_cli.add_parser(commands)
    signals_cli.add_parsers(commands)
    workspace_cli.add_parsers(commands)
    eval_cli.add_parser(commands)
    executor_cli.add_parser(commands)
    cost_cli.add_parser(commands)
    keys_cli.add_parser(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "local":
        return local_up(args.port, args.split)
    if args.command == "audit":
        return audit_cli.verify(args)
    if args.command == "control":
        return control_cli.run(args)
    if hasattr(args, "run"):
        return int(args.run(args))
    if args.command == "validate":
        return workspace_cli.validate(args.root)
    if args.command == "new":
        return workspace_cli.new(args.kind, args.name, args.root)
    if args.command == "eval":
        return eval_cli.run(args)
    return demo(args.port, args.process, args.raw)


if __name__ == "__main__":
    sys.exit(main())
