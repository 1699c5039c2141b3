"""`aios audit verify CASE_ID | --all`: check audit chains in the ledger against the signed
checkpoints in the Object Lock bucket.

Works against AWS or the emulation alike: the table comes from `--table` (or
$AIOS_LEDGER_TABLE), the endpoint from `--endpoint-url` (or $AWS_ENDPOINT_URL; unset = AWS),
the checkpoints from `--bucket` ($AIOS_AUDIT_BUCKET), signed by `--key-id` ($AIOS_AUDIT_KEY_ID)
whose public key is `--public-key` (base64 DER, $AIOS_AUDIT_PUBLIC_KEY; pinned, no KMS call) or
else fetched from KMS. The checkpoints are checked first (signatures, each naming its
predecessor's digest), then each chain on its own (`aios.audit.verify_chain`, the code that
serves `GET /cases/{id}/audit`) and against every checkpoint that anchored it
(`aios.anchor.check_events`): events rewritten together with the head, a truncated tail or a
deleted case are named. `--all` checks every chain the checkpoints anchor (cases, the control
chain, orphan rejections). Exit status: 0 valid, 1 broken or tampered, 2 no such case, or no
checkpoint key to trust.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"


def verify(args: argparse.Namespace) -> int:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    from aios.errors import CheckpointInvalid
    from aios.ledger import bind_ledger

    bind_ledger(args.table)
    if args.all and not args.bucket:
        print("--all checks the chains the checkpoints anchor: --bucket or $AIOS_AUDIT_BUCKET")
        return 2
    if args.bucket and not args.key_id:
        print("--key-id (or $AIOS_AUDIT_KEY_ID) names the key checkpoints must be signed with")
        return 2
    try:
        checkpoints = _checkpoints(args) if args.bucket else None
    except CheckpointInvalid as exc:
        print(f"checkpoints INVALID: {exc.message}")
        return 1
    if checkpoints is None:
        print("anchor: not checked (no --bucket or $AIOS_AUDIT_BUCKET): the chain alone")
    elif not checkpoints:
        print(f"anchor: no checkpoint in s3://{args.bucket} yet")
    else:
        print(
            f"checkpoints VALID: {len(checkpoints)} signed and chained, latest "
            f"{checkpoints[0].sequence} ({checkpoints[0].issued_at}, "
            f"{len(checkpoints[0].heads)} chains)"
        )
    if args.all:
        return _verify_all(checkpoints or [])
    return _verify_case(args.case_id, args.table, checkpoints)


def _checkpoints(args: argparse.Namespace) -> list[Any]:
    import boto3
    from aios.anchor import newest_first, verified_checkpoints
    from aios.signing import PublicKeyCache

    keys = (
        PublicKeyCache.from_pinned({args.key_id: args.public_key})
        if args.public_key
        else PublicKeyCache.from_kms(boto3.client("kms"))
    )
    stored = newest_first(boto3.client("s3"), args.bucket)
    return verified_checkpoints(stored, keys, {args.key_id}, limit=args.checkpoints)


def _verify_case(case_id: str, table: str, checkpoints: list[Any] | None) -> int:
    from aios.anchor import check_events
    from aios.audit import verify_chain
    from aios.ledger.chains import load_chain

    pk = f"CASE#{case_id}"
    head, events = load_chain(pk)
    finding = check_events(pk, head, events, checkpoints or [])
    if finding.missing and not finding.anchored_in:
        print(f"no case {case_id} in table {table} or in any checkpoint", file=sys.stderr)
        return 2
    for event in events:
        print(f"#{event.seq:<4} {event.at}  {event.type:<22} {event.hash[:16]}")
    if head is not None:
        verdict = verify_chain(events, head.seq, head.head)
        if verdict.valid:
            print(f"chain VALID: {verdict.length} events, head {verdict.head}")
        else:
            where = f" at seq {verdict.seq}" if verdict.seq is not None else ""
            print(f"chain BROKEN{where}: {verdict.problem}")
    if checkpoints is not None:
        print(_anchor_line(finding))
    return 0 if finding.valid else 1


def _anchor_line(finding: Any) -> str:
    if not finding.valid:
        return f"anchor BROKEN: {finding.problem}"
    if not finding.anchored_in:
        return "anchor: not in a checkpoint yet (the head moved after the latest one)"
    listed = ", ".join(map(str, finding.anchored_in))
    return f"anchor VALID: the chain extends the heads of checkpoints {listed}"


def _verify_all(checkpoints: list[Any]) -> int:
    from aios.anchor import anchored_chains, check_chain

    chains = anchored_chains(checkpoints)
    broken = 0
    for pk in chains:
        finding = check_chain(pk, checkpoints)
        if finding.valid:
            print(f"VALID   {pk}  {finding.length} events")
        else:
            broken += 1
            print(f"BROKEN  {pk}  {finding.problem}")
    print(f"{len(chains) - broken} of {len(chains)} anchored chains VALID, {broken} BROKEN")
    return 1 if broken else 0


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="the tamper-evident audit chain and its anchor")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    check = audit_commands.add_parser(
        "verify", help="verify a case's audit chain (or --all) against the signed checkpoints"
    )
    target = check.add_mutually_exclusive_group(required=True)
    target.add_argument("case_id", nargs="?")
    target.add_argument("--all", action="store_true", help="every chain the checkpoints anchor")
    env = os.environ.get
    check.add_argument(
        "--table",
        default=env("AIOS_LEDGER_TABLE"),
        required=not env("AIOS_LEDGER_TABLE"),
        help="ledger table name (default $AIOS_LEDGER_TABLE)",
    )
    check.add_argument(
        "--endpoint-url",
        default=env("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL)",
    )
    check.add_argument(
        "--bucket",
        default=env("AIOS_AUDIT_BUCKET"),
        help="the checkpoint bucket (stack output AuditBucketName; default $AIOS_AUDIT_BUCKET)",
    )
    check.add_argument(
        "--key-id",
        default=env("AIOS_AUDIT_KEY_ID"),
        help="the checkpoint key (stack output AuditKeyArn; default $AIOS_AUDIT_KEY_ID)",
    )
    check.add_argument(
        "--public-key",
        default=env("AIOS_AUDIT_PUBLIC_KEY"),
        help="its public key, base64 DER, pinned instead of fetched from KMS "
        "(default $AIOS_AUDIT_PUBLIC_KEY)",
    )
    check.add_argument(
        "--checkpoints",
        type=int,
        default=None,
        help="check against the newest N checkpoints only (default: all)",
    )
