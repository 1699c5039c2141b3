"""`aios keys pins`: the keys an execution plane on its own trusts, read from KMS, printed as the
`trusted_keys` context value (cdk.json, or `-c trusted_keys='...'`).

The key ids come from the decision stack's outputs (`PlanKeyArn`, `PolicyKeyArn`,
`HumanKeyArn` of `--stack`) and/or `--plan`/`--policy`/`--human ARN` (repeatable: during a
rotation, the new key and the one being retired). `--not-after ARN=TIME` gives a key its cut-off
(ISO 8601 with a zone): from then on the execution plane refuses what it signed (`KEY_RETIRED`).
Works against AWS or the emulation (`--endpoint-url`, or $AWS_ENDPOINT_URL). Each public key is
read once here, at deploy time: the execution plane itself never calls KMS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"
OUTPUTS = {"plan": "PlanKeyArn", "policy": "PolicyKeyArn", "human": "HumanKeyArn"}


def _stack_keys(cloudformation: Any, stack: str) -> dict[str, list[str]]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return {p: [outputs[name]] for p, name in OUTPUTS.items() if name in outputs}


def _cut_offs(values: list[str]) -> dict[str, str]:
    cut_offs: dict[str, str] = {}
    for value in values:
        key_id, sep, moment = value.rpartition("=")
        if not sep or not key_id:
            raise ValueError(f"--not-after {value!r}: expected KEY_ARN=TIME")
        if datetime.fromisoformat(moment).tzinfo is None:
            raise ValueError(f"--not-after {value!r}: the time needs a zone (e.g. +00:00)")
        cut_offs[key_id] = moment
    return cut_offs


def pins_command(args: argparse.Namespace, kms: Any, cloudformation: Any | None) -> dict[str, Any]:
    """The `trusted_keys` structure for the named keys, validated as the execution plane reads
    it (`aios.keyring.TrustedKeys`)."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    from aios.keyring import TrustedKeys, pins

    key_ids: dict[str, list[str]] = {p: [] for p in OUTPUTS}
    if args.stack and cloudformation is not None:
        for purpose, ids in _stack_keys(cloudformation, args.stack).items():
            key_ids[purpose].extend(ids)
    for purpose in OUTPUTS:
        for key_id in getattr(args, purpose) or []:
            if key_id not in key_ids[purpose]:
                key_ids[purpose].append(key_id)
    cut_offs = _cut_offs(args.not_after or [])
    unknown = set(cut_offs) - {k for ids in key_ids.values() for k in ids}
    if unknown:
        raise ValueError(f"--not-after names keys not pinned: {', '.join(sorted(unknown))}")
    pinned = pins(kms, {p: ids for p, ids in key_ids.items() if ids})  # type: ignore[misc]
    for keys in pinned.values():
        for key in keys:
            if key["key_id"] in cut_offs:
                key["not_after"] = cut_offs[key["key_id"]]
    trusted = TrustedKeys.model_validate(pinned)
    return trusted.model_dump(mode="json", exclude_defaults=True)


def run(args: argparse.Namespace) -> int:
    import boto3

    endpoint = args.endpoint_url or None
    kms = boto3.client("kms", endpoint_url=endpoint)
    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint) if args.stack else None
    try:
        trusted = pins_command(args, kms, cloudformation)
    except ValueError as exc:
        print(f"aios keys pins: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(trusted, indent=2, sort_keys=True))
    return 0


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="the signing keys the execution plane trusts")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    pin = keys_commands.add_parser(
        "pins", help="print the trusted_keys context value (key ids and public keys from KMS)"
    )
    pin.add_argument("--stack", default="", help="read the key ARNs from this stack's outputs")
    for purpose in OUTPUTS:
        pin.add_argument(
            f"--{purpose}", action="append", metavar="KEY_ARN", help=f"a {purpose} key to pin"
        )
    pin.add_argument(
        "--not-after",
        action="append",
        metavar="KEY_ARN=TIME",
        help="a key's cut-off (ISO 8601 with a zone), e.g. the plan key being retired",
    )
    pin.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL)",
    )
    pin.set_defaults(run=run)
