"""The priced cost of a case, per path, from a fresh run in the local emulation.

Runs cases through the emulation with every AWS call and Lambda invocation metered
(`local.metering`: DynamoDB units counted from the calls, SQS in 64 KiB chunks, KMS by key
type, Lambda GB-seconds from the measured handler durations x the template's memory size) and
the state transitions counted from each execution's history, then prices them with the price
table (`aios/cost/prices.json`, us-east-1 unless `--region`):

  auto       ticket-triage's example: two actions, both auto-approved
  approved   refund-request with one action a person approves through the signed link
  handed off ticket-triage with its budget exhausted: handed off, until it waits for a person

Prints, per path, the itemised dollars per case and per 1,000 cases, the transitions and the
requests per case, and for the auto path the design's floor (the least transitions and requests
the design allows, at the measured sizes) and the ratio. The benchmark's own status polls and
the pollers' empty receives (a fixed cost, not per case) are not counted.

    .venv/bin/python bench/cost_per_case.py [--cases 10] [--paths auto,approved,handoff] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.metering import Metering, log_bytes, unmetered  # noqa: E402

METERING = Metering()
METERING.install()  # before any botocore session or function of the run exists

from aios.cost import Meter, load_prices, price, render  # noqa: E402

# The least an auto-approved case with two actions on one entity needs, as the design stands:
# Decide, the route choice, and AutoActions, one Task that sends both actions in one message
# (transitions; the case's SUCCEEDED is recorded by finalize on the execution's status change,
# no closing state); one API request; the api, decide, execute (once, for both actions),
# finalize and one case_events invocation; two KMS Signs (the plan and the policy attestation
# of its auto actions, one for both actions); one SQS send, receive and (batched) delete of
# the one message. Sizes (units, GB-s, bytes) are the measured ones.
FLOOR_COUNTS = {
    "sfn_transitions": 3,
    "api_requests": 1,
    "lambda_requests": 5,
    "kms_asymmetric": 2,
    "sqs_requests": 3,
}
TARGET_USD_PER_1000 = 0.20
LINK = re.compile(r'href="([^"]+/approvals/[^"?]+\?t=[^"]+)"')
TERMINAL = ("SUCCEEDED", "FAILED", "RESOLVED", "CANCELLED")


def _request(url: str, body: dict[str, Any] | None = None, form: bool = False) -> Any:
    data = None
    headers = {}
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = str(uuid.uuid4())
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=60) as resp:
        raw = resp.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


def _poll(probe: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with unmetered():
            found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(what)


def _status(api: str, case_id: str, *statuses: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        case: dict[str, Any] = _request(f"{api}/cases/{case_id}")
        return case if case["status"] in statuses else None

    return dict(_poll(probe, f"{case_id} in {statuses}"))


def _settle(emu: Any) -> None:
    """Wait until no function has run for 3 s: the cases' stream, event and notice tails."""
    last = -1
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = sum(METERING.invocations.values())
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > 3.0:
            return
        time.sleep(0.1)


class Run:
    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.api = emu.api_url
        self.sfn = emu.client("stepfunctions")
        self.machine = next(
            m["stateMachineArn"] for m in self.sfn.list_state_machines()["stateMachines"]
        )
        self.examples = {
            p["name"]: p["example_input"] for p in _request(f"{self.api}/processes")["processes"]
        }

    def submit(self, process: str, body: dict[str, Any]) -> str:
        return str(_request(f"{self.api}/processes/{process}/cases", body)["case_id"])

    def transitions(self, case_id: str) -> int:
        arn = self.machine.replace(":stateMachine:", ":execution:") + f":{case_id}"
        with unmetered():
            events: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
            while True:
                page = self.sfn.get_execution_history(**kwargs)
                events += page["events"]
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        return METERING.add_execution(events)

    # -- the paths

    def auto(self, n: int) -> list[dict[str, Any]]:
        body = self.examples["ticket-triage"]
        cases = []
        for _ in range(n):
            case_id = self.submit(
                "ticket-triage", {**body, "ticket_id": f"T-{uuid.uuid4().int % 10**8}"}
            )
            case = _status(self.api, case_id, *TERMINAL)
            assert case["status"] == "SUCCEEDED", case
            assert all(a["gate"] == "auto" for a in case["actions"]), case["actions"]
            cases.append(case)
        return cases

    def approved(self, n: int) -> list[dict[str, Any]]:
        cases = []
        for _ in range(n):
            body = {
                "order_id": f"O-{uuid.uuid4().int % 10**6}", "customer_email": "ana@example.com",
                "amount": 120, "currency": "EUR", "reason": "Damaged parcel", "channel": "email",
            }  # fmt: skip
            case_id = self.submit("refund-request", body)
            link = _poll(lambda c=case_id: self._link(c), f"approval email of {case_id}")
            url, _, token = link.partition("?t=")
            _request(url, {"t": token, "decision": "approve", "comment": ""}, form=True)
            case = _status(self.api, case_id, *TERMINAL)
            assert case["status"] == "SUCCEEDED", case
            cases.append(case)
        return cases

    def _link(self, case_id: str) -> str | None:
        for mail in self.emu.ses_outbox():
            match = LINK.search(mail["body"])
            if match and f"/approvals/{case_id}." in match.group(1):
                return match.group(1).replace("&amp;", "&")
        return None

    def handoff(self, n: int) -> list[dict[str, Any]]:
        table = self.emu.deployment.functions["decide"].environment["AIOS_DECISION_TABLE"]
        tenant = self.emu.deployment.functions["api"].environment.get("AIOS_TENANT", "default")
        day = datetime.now(UTC).date().isoformat()
        key = {"item_key": {"S": f"BUDGET#{tenant}#ticket-triage#{day}"}}
        ddb = self.emu.client("dynamodb")
        with unmetered():
            ddb.put_item(
                TableName=table,
                Item={**key, "kind": {"S": "budget"}, "spent_micros": {"N": str(10**12)},
                      "spent_tokens": {"N": "0"}},
            )  # fmt: skip
        try:
            body = self.examples["ticket-triage"]
            cases = []
            for _ in range(n):
                case_id = self.submit(
                    "ticket-triage", {**body, "ticket_id": f"T-{uuid.uuid4().int % 10**8}"}
                )
                cases.append(_status(self.api, case_id, "HANDED_OFF", *TERMINAL))
            return cases
        finally:
            with unmetered():
                ddb.delete_item(TableName=table, Key=key)


def _tokens(cases: list[dict[str, Any]], tiers: dict[str, list[str]]) -> Meter:
    """Model tokens of the cases' decisions, priced as the tier's configured primary model
    (locally the offline stand-in answers; `aios cost` uses the model that answered)."""
    meter = Meter()
    for case in cases:
        usage = case.get("usage") or {}
        for tier, t in (usage.get("by_tier") or {}).items():
            model_id = (tiers.get(tier) or [tier])[0]
            meter.add_tokens(model_id, input=t["input_tokens"], output=t["output_tokens"])
    return meter


def measure(run: Run, path: str, n: int, log_dir: Path) -> dict[str, Any]:
    _settle(run.emu)
    METERING.reset()
    logs_before = log_bytes(log_dir)
    cases = getattr(run, path)(n)
    transitions = [run.transitions(c["case_id"]) for c in cases]
    _settle(run.emu)
    METERING.add_log_bytes(log_bytes(log_dir) - logs_before)
    meter, operations = METERING.snapshot()
    # AppConfig bills per function environment and poll interval (config_max_age_seconds),
    # not per case: kept apart, as the pollers' empty receives are.
    fixed = {k: meter.counts.pop(k, 0.0) / n for k in ("appconfig_requests", "appconfig_received")}
    tiers = json.loads(
        run.emu.deployment.functions["decide"].environment.get("AIOS_MODEL_TIERS", "{}")
    )
    meter.merge(_tokens(cases, tiers))
    return {
        "path": path,
        "cases": n,
        "meter": meter,
        "operations": operations,
        "invocations": dict(METERING.invocations),
        "dynamodb_units": dict(METERING.units),
        "fixed_per_case": fixed,
        "transitions": transitions,
        "actions": sum(len(c["actions"]) for c in cases) / n,
    }


def floor_meter(measured: Meter, cases: int) -> Meter:
    floor = Meter().merge(measured)
    for key, per_case in FLOOR_COUNTS.items():
        floor.counts[key] = per_case * cases
    # The floor's Lambda duration: the measured average per invocation, for its invocations.
    invocations = measured.counts.get("lambda_requests", 0) or 1
    floor.counts["lambda_gb_seconds"] = (
        measured.counts.get("lambda_gb_seconds", 0)
        / invocations
        * FLOOR_COUNTS["lambda_requests"]
        * cases
    )
    floor.tokens = {}
    return floor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--paths", default="auto,approved,handoff")
    parser.add_argument("--region", default=None)
    parser.add_argument("--prices", type=Path, default=None, help="a price table of your own")
    parser.add_argument(
        "--memory", default="none", help="memory_engine to synthesize with (cdk.json: none)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    prices = load_prices(args.region, path=args.prices)
    from local.emulation import Emulation, synth

    log_dir = Path(tempfile.mkdtemp(prefix="aios-cost-"))
    # As deployed by default: memory_engine from --memory, configuration cached 30 s.
    cdk_out = synth(
        ROOT,
        Path(tempfile.mkdtemp(prefix="aios-cost-cdk-")),
        context={"memory_engine": args.memory, "config_max_age_seconds": 30},
    )
    results = []
    with Emulation(api_port=0, function_log_dir=log_dir, cdk_out=cdk_out) as emu:
        METERING.bind(emu.client)
        original = emu._api.invoke  # type: ignore[union-attr]

        def api_invoke(function_name: str, payload: Any = None) -> Any:
            # The benchmark's own GET /cases polls (served on the API server's threads) are not
            # part of running a case; every other request is.
            raw = payload if isinstance(payload, bytes) else str(payload or "").encode()
            if b'"httpMethod": "GET"' in raw and b"/cases/" in raw:
                with unmetered():
                    return original(function_name, payload)
            METERING.api_request()
            return original(function_name, payload)

        emu._api.invoke = api_invoke  # type: ignore[union-attr]
        run = Run(emu)
        paths = [p.strip() for p in args.paths.split(",")]
        with unmetered():  # warm: cold starts, the public key's and the config's first fetch
            for path in sorted(paths, key=lambda p: p == "auto"):  # the handoff's notice first
                getattr(run, path)(1)
        for path in paths:
            results.append(measure(run, path, args.cases, log_dir))
    report(results, prices, args.json)


def _billed(operation: str) -> bool:
    """A request billed per case: not a trigger's stream read, not an idle poll."""
    return not operation.startswith("dynamodb-streams:") and not operation.endswith("(empty)")


def report(results: list[dict[str, Any]], prices: Any, as_json: bool) -> None:
    out: dict[str, Any] = {"region": prices.region, "prices_as_of": prices.as_of, "paths": {}}
    for r in results:
        n = r["cases"]
        priced = price(r["meter"], prices, cases=n)
        requests = sum(v for k, v in r["operations"].items() if _billed(k))
        invocations = r["meter"].counts.get("lambda_requests", 0)
        entry = {
            **priced.to_dict(),
            "transitions_per_case": sum(r["transitions"]) / n,
            "aws_requests_per_case": requests / n,
            "lambda_invocations_per_case": invocations / n,
            "api_requests_per_case": r["meter"].counts.get("api_requests", 0) / n,
            "actions_per_case": r["actions"],
            "operations_per_case": {k: v / n for k, v in sorted(r["operations"].items())},
            "invocations_per_case": {k: v / n for k, v in sorted(r["invocations"].items())},
            "not_per_case": r["fixed_per_case"],
            "dynamodb_units_per_case": {
                k: round(v / n, 2) for k, v in sorted(r["dynamodb_units"].items())
            },
        }
        if r["path"] == "auto":
            floor = price(floor_meter(r["meter"], n), prices, cases=n)
            entry["floor_usd_per_1000_cases"] = round(floor.infrastructure_usd / n * 1000, 6)
            entry["ratio_to_floor"] = round(priced.infrastructure_usd / floor.infrastructure_usd, 3)
            entry["target_usd_per_1000_cases"] = TARGET_USD_PER_1000
        out["paths"][r["path"]] = entry
        if as_json:
            continue
        print(f"\n== {r['path']}: {n} cases, {r['actions']:.0f} actions per case ==")
        print(render(priced))
        print(
            f"per case: {entry['transitions_per_case']:.1f} state transitions, "
            f"{entry['aws_requests_per_case']:.1f} AWS requests, "
            f"{entry['lambda_invocations_per_case']:.1f} Lambda invocations, "
            f"{entry['api_requests_per_case']:.0f} API request(s)"
        )
        print("requests per case: " + ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(entry["operations_per_case"].items(), key=lambda kv: -kv[1])
            if _billed(k) and v
        ))  # fmt: skip
        print(
            "invocations per case: "
            + ", ".join(f"{k} {v:.2f}" for k, v in entry["invocations_per_case"].items())
        )
        print("DynamoDB units per case: " + ", ".join(
            f"{k} {v:.1f}" for k, v in sorted(entry["dynamodb_units_per_case"].items(), key=lambda kv: -kv[1])
        ))  # fmt: skip
        if "floor_usd_per_1000_cases" in entry:
            print(
                f"infrastructure USD per 1,000 cases {entry['infrastructure_usd_per_1000_cases']:.4f}"
                f"  floor {entry['floor_usd_per_1000_cases']:.4f}  ratio {entry['ratio_to_floor']:.2f}"
                f"  target <= {TARGET_USD_PER_1000:.2f}"
            )
    if as_json:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
