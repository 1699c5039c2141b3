"""`aios`: run the local emulation.

aios local up [--port N]   the emulation in the foreground, until Ctrl-C or SIGTERM
aios demo [--process P]    start it, run a process's example case end to end (default: the
                           sample ticket-triage), print what happened; exits non-zero unless
                           the case SUCCEEDED
aios audit verify CASE_ID  verify a case's audit chain in the ledger table (AWS or emulation)
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
import json
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from local import audit_cli, case_story, control_cli, eval_cli, signals_cli, workspace_cli
from local.emulation import PROJECT_ROOT, Emulation


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
            f"    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --region {emu.region}"
            f" --endpoint-url {emu.aws_endpoint} stepfunctions list-executions"
            f" --state-machine-arn {sm}",
            "  for aios audit|kpi|dlq|webhooks in another shell:",
            *(f"    export {k}={v}" for k, v in emu.cli_environment().items()),
        ]
    )


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


def local_up(port: int | None) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("synthesizing and starting the emulation...", flush=True)
    with Emulation(api_port=port) as emu:
        print(_banner(emu), flush=True)
        print("Ctrl-C to stop.", flush=True)
        stop.wait()
        print("\nstopping...", flush=True)
    print("stopped.", flush=True)
    return 0


def _section(title: str) -> None:
    print(f"\n== {title}")


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _ledger_items(emu: Emulation, case_id: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    table = emu.deployment.functions["api"].environment["AIOS_LEDGER_TABLE"]  # type: ignore[union-attr]
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    pages = (
        emu.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}},
        )
    )
    for page in pages:
        items.extend(
            {k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"]
        )
    return items


def demo(port: int | None, process_name: str | None = None) -> int:
    print("synthesizing and starting the emulation...", flush=True)
    log_dir = PROJECT_ROOT / ".aios" / "logs" / time.strftime("demo-%Y%m%d-%H%M%S")
    with Emulation(api_port=0 if port is None else port, function_log_dir=log_dir) as emu:
        print(_banner(emu), flush=True)
        print(f"  function logs: {log_dir}/<function>.log", flush=True)
        api = emu.api_url
        status, listing = _http("GET", f"{api}/processes")
        if status != 200 or not listing.get("processes"):
            print(f"GET /processes failed: {status} {listing}")
            return 1
        # The demo runs unattended: the fully automatic sample, not one that waits for people.
        processes = listing["processes"]
        wanted = process_name or "ticket-triage"
        found = [p for p in processes if p["name"] == wanted]
        if process_name and not found:
            print(
                f"no process {process_name!r}; the emulation serves {[p['name'] for p in processes]}"
            )
            return 1
        process = found[0] if found else processes[0]
        _section(f"submit a {process['name']} case")
        print(_dump(process["example_input"]))
        status, submitted = _http(
            "POST",
            f"{api}/processes/{process['name']}/cases",
            process["example_input"],
            {"Idempotency-Key": f"demo-{int(time.time())}"},
        )
        print(f"-> {status} {_dump(submitted)}")
        if status != 202:
            return 1
        case_id = submitted["case_id"]
        # Followed to its end; an approval it waits for is given as its reviewer would.
        case, story = case_story.tell(emu, case_id, lambda path: _http("GET", f"{api}{path}")[1])
        _section("the story")
        print("\n".join(story))
        _section(f"case {case_id}: {case.get('status')}")
        if case.get("error"):
            print("error:", _dump(case["error"]))
        _section("plan")
        print(_dump(case.get("plan")))
        _section("actions")
        for action in case.get("actions") or []:
            print(
                f"- {action.get('action_id')} {action.get('capability')} "
                f"gate={action.get('gate')} status={action.get('status')}"
            )
            print("  params:", json.dumps(action.get("params"), sort_keys=True)[:400])
            if action.get("result") is not None:
                print("  result:", json.dumps(action.get("result"), sort_keys=True, default=str))
        _section("ledger records (pk = CASE#<case_id>)")
        for item in _ledger_items(emu, case_id):
            rest = {k: v for k, v in item.items() if k not in ("pk", "sk")}
            print(f"- {item['sk']}: {json.dumps(rest, sort_keys=True, default=str)[:200]}")
        _section("the outside system (receiver) recorded")
        for record in emu.receiver.requests[-20:]:
            print(
                f"- #{record.id} {record.method} {record.path} -> {record.status} "
                f"Idempotency-Key={record.idempotency_key}"
            )
            print(f"  body: {record.body[:300]}")
        _section("audit chain")
        _, audit = _http("GET", f"{api}/cases/{case_id}/audit")
        chain = audit.get("chain", {}) if isinstance(audit, dict) else {}
        for event in audit.get("events", []) if isinstance(audit, dict) else []:
            print(f"- #{event.get('seq')} {event.get('type')} {str(event.get('hash'))[:16]}...")
        verdict = "VALID" if chain.get("valid") else "INVALID"
        print(f"chain: {verdict} (length {chain.get('length')}, head {chain.get('head')})")
        succeeded = case.get("status") == "SUCCEEDED" and bool(chain.get("valid"))
        print(f"\ndemo {'succeeded' if succeeded else 'FAILED'}")
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
    demo_parser = commands.add_parser("demo", help="run the sample case end to end")
    demo_parser.add_argument(
        "--port", type=int, default=None, help="API port (default: a free one)"
    )
    demo_parser.add_argument(
        "--process", default=None, help="the process whose example case runs (ticket-triage)"
    )
    audit_cli.add_parser(commands)
    control_cli.add_parser(commands)
    signals_cli.add_parsers(commands)
    workspace_cli.add_parsers(commands)
    eval_cli.add_parser(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "local":
        return local_up(args.port)
    if args.command == "audit":
        return audit_cli.verify(args.case_id, args.table, args.endpoint_url)
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
    return demo(args.port, args.process)


if __name__ == "__main__":
    sys.exit(main())
