"""`aios control`: the operators' runtime switches, against AWS or the emulation alike.

aios control revoke  capability|process|tenant NAME [--tenant T] [--reason R] [--by WHO]
aios control restore capability|process|tenant NAME [--tenant T] [--reason R] [--by WHO]
aios control list                 what is revoked now
aios control audit                the revocations' own audit chain, verified
aios control deploy [--root DIR]  deploy the workspace's processes (specs, prompts, policies)
                                  as a new AppConfig version: no code deploy

The table comes from `--table` (or $AIOS_LEDGER_TABLE), the endpoint from `--endpoint-url`
(or $AWS_ENDPOINT_URL; unset = AWS, with the caller's credentials). A revocation takes effect
at the next check of the planes: Decide before it calls a model and before it signs, Execute
before it applies each action. `--by` defaults to the caller's IAM identity (STS).
Exit status: 0 done, 1 nothing to change (restore of what is not revoked) or a broken chain.

`deploy` validates every process of the workspace first (the planes' own checks: a bad spec
stops it, naming the file and field), uploads the configuration document as a new hosted
configuration version, and starts a deployment with the stack's strategy
(`<application>-rollout`). AppConfig validates the version with the profile's JSON Schema
validator and refuses it when it does not match (the deployed version keeps serving); during
the rollout and bake time an alarm rolls it back. `--endpoint-url` is the AppConfig endpoint
(the emulation prints its own). Exit status: 0 started (or COMPLETE with `--wait`), 1 refused
or rolled back, 2 the workspace does not validate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

LAYER = Path(__file__).resolve().parents[1] / "layers" / "aios" / "python"
KINDS = ("capability", "process", "tenant")


def _bind(table: str, endpoint_url: str | None) -> None:
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    from aios.ledger import bind_ledger

    bind_ledger(table)


def _who() -> str:
    """The operator, as IAM knows them (falls back to the local user name)."""
    from aios import aws

    try:
        return str(aws.client("sts").get_caller_identity()["Arn"])
    except Exception:  # no credentials or no STS: still record someone
        return os.environ.get("USER", "unknown")


def revoke(args: argparse.Namespace) -> int:
    from aios.control import revocations

    started = time.monotonic()
    done = revocations.revoke(
        args.kind, args.name, tenant=args.tenant, reason=args.reason, by=args.by or _who()
    )
    took = (time.monotonic() - started) * 1000
    print(f"revoked: {done.describe()} (at {done.at}, by {done.by}; written in {took:.0f} ms)")
    return 0


def restore(args: argparse.Namespace) -> int:
    from aios.control import revocations

    lifted = revocations.restore(
        args.kind, args.name, tenant=args.tenant, reason=args.reason, by=args.by or _who()
    )
    scope = "" if args.tenant == "*" else f" for tenant {args.tenant}"
    print(f"restored: {args.kind} {args.name}{scope}" if lifted else "nothing to restore")
    return 0 if lifted else 1


def show(args: argparse.Namespace) -> int:
    from aios.control import revocations

    entries = revocations.current().entries
    for entry in sorted(entries.values(), key=lambda e: e.at):
        print(f"{entry.at}  {entry.describe()}  by {entry.by}: {entry.reason}")
    if not entries:
        print("nothing is revoked")
    return 0


def audit(args: argparse.Namespace) -> int:
    from aios.control import revocations

    events, verdict = revocations.audit()
    for event in events:
        data = event["data"]
        print(
            f"#{event['seq']:<4} {event['at']}  {event['type']:<20} {data['kind']} {data['name']}"
        )
    if verdict.valid:
        print(f"chain VALID: {verdict.length} events, head {verdict.head}")
        return 0
    print(f"chain BROKEN at seq {verdict.seq}: {verdict.problem}")
    return 1


COMMANDS = {"revoke": revoke, "restore": restore, "list": show, "audit": audit}
DEPLOY_DEADLINE_S = 3600.0


def _appconfig(endpoint_url: str | None) -> Any:
    import boto3

    return boto3.session.Session().client("appconfig", endpoint_url=endpoint_url or None)


def _named(items: list[dict[str, Any]], name: str, what: str) -> str:
    found = [i["Id"] for i in items if name in (i.get("Name"), i.get("Id"))]
    if not found:
        raise SystemExit(f"no AppConfig {what} named {name!r}")
    return str(found[0])


def deploy(args: argparse.Namespace) -> int:
    """Validate the workspace's processes, upload them, start the deployment."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if args.root:
        os.environ["AIOS_USER_ROOT"] = str(Path(args.root).resolve())
    import json

    from aios.control.config import build_document
    from aios.errors import SpecError
    from botocore.exceptions import ClientError

    try:
        document = build_document()
    except SpecError as exc:
        print(f"not deployed: {exc.message}", file=sys.stderr)
        return 2
    ac = _appconfig(args.endpoint_url)
    app = _named(ac.list_applications()["Items"], args.application, "application")
    env = _named(ac.list_environments(ApplicationId=app)["Items"], args.environment, "environment")
    profiles = ac.list_configuration_profiles(ApplicationId=app)["Items"]
    profile = _named(profiles, args.profile, "configuration profile")
    strategy = _named(
        ac.list_deployment_strategies()["Items"],
        args.strategy or f"{args.application}-rollout",
        "deployment strategy",
    )
    version = ac.create_hosted_configuration_version(
        ApplicationId=app,
        ConfigurationProfileId=profile,
        Content=json.dumps(document, sort_keys=True, separators=(",", ":")).encode(),
        ContentType="application/json",
        Description=args.description[:1024],
    )["VersionNumber"]
    try:
        started = ac.start_deployment(
            ApplicationId=app,
            EnvironmentId=env,
            DeploymentStrategyId=strategy,
            ConfigurationProfileId=profile,
            ConfigurationVersion=str(version),
            Description=args.description[:1024],
        )
    except ClientError as exc:
        print(f"version {version} refused: {exc.response['Error'].get('Message')}")
        return 1
    number = started["DeploymentNumber"]
    processes = ", ".join(sorted(document["processes"]))
    print(f"deployment {number}: version {version} ({processes}) {started['State']}")
    if not args.wait:
        return 0
    deadline = time.monotonic() + DEPLOY_DEADLINE_S
    state = started["State"]
    while state not in ("COMPLETE", "ROLLED_BACK") and time.monotonic() < deadline:
        time.sleep(10)  # a rollout takes minutes: this is the operator's shell, not a test
        state = ac.get_deployment(ApplicationId=app, EnvironmentId=env, DeploymentNumber=number)[
            "State"
        ]
    print(f"deployment {number}: {state}")
    return 0 if state == "COMPLETE" else 1


def run(args: argparse.Namespace) -> int:
    if args.control_command == "deploy":
        return deploy(args)
    _bind(args.table, args.endpoint_url)
    return COMMANDS[args.control_command](args)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table",
        default=os.environ.get("AIOS_LEDGER_TABLE"),
        required=not os.environ.get("AIOS_LEDGER_TABLE"),
        help="ledger table name (default $AIOS_LEDGER_TABLE)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="AWS endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL)",
    )


def add_parser(commands: Any) -> None:
    control = commands.add_parser("control", help="revoke or restore at runtime (kill switch)")
    sub = control.add_subparsers(dest="control_command", required=True)
    for verb in ("revoke", "restore"):
        parser = sub.add_parser(verb, help=f"{verb} a capability, a process or a tenant")
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("name")
        parser.add_argument("--tenant", default="*", help="one tenant only (default: every one)")
        parser.add_argument("--reason", default="", help="why (kept on the audit chain)")
        parser.add_argument("--by", default="", help="who (default: the caller's IAM identity)")
        _common(parser)
    _common(sub.add_parser("list", help="what is revoked now"))
    _common(sub.add_parser("audit", help="verify the revocations' audit chain"))
    ship = sub.add_parser("deploy", help="deploy the workspace's processes as configuration")
    ship.add_argument("--root", default=None, help="the workspace root (default: found as usual)")
    ship.add_argument(
        "--application",
        default=os.environ.get("AIOS_CONFIG_APPLICATION", "AiosKit-processes"),
        help="AppConfig application (the stack output ConfigApplication)",
    )
    ship.add_argument("--environment", default="live")
    ship.add_argument("--profile", default="processes")
    ship.add_argument("--strategy", default=None, help="default: <application>-rollout")
    ship.add_argument("--description", default="aios control deploy")
    ship.add_argument("--wait", action="store_true", help="wait until COMPLETE or ROLLED_BACK")
    ship.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL_APPCONFIG"),
        help="AppConfig endpoint, e.g. the emulation's (default $AWS_ENDPOINT_URL_APPCONFIG)",
    )
