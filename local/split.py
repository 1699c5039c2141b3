"""The split layout in the emulation: the decision plane in one account, the execution plane in
another (`Emulation(split=True)`, `aios local up --split`; docs/two-accounts.md).

moto keeps one set of backends per account and serves every request from the account of its
credentials: an access key issued by STS `AssumeRole` belongs to the account of the role it
assumed (`moto.iam.models.get_account_id_from`). So the emulation gives every caller the
credentials it has on AWS, and the account follows:

- each stack is provisioned by a deployer session of its own account (`account_session`);
- each in-process function runs with credentials of its own execution role (the template's
  `Role`), assumed through STS, as Lambda gives a function its role's credentials
  (`function_credentials`); the execute function then assumes the decision account's task
  answer role itself to answer tasks, as on AWS;
- the case machine's SQS integration acts as the case machine's role (`StateMachineClients`).

moto has no cross-account access at all: a request is served from its caller's account only
and a resource policy is never consulted. The one crossing the templates allow, the case
machine sending to the execution account's action queue, is therefore routed by the emulation:
a `SendMessage` from the case machine's role to a queue of the other account is served by that
account (moto's `x-moto-account-id` header) when the queue's resource policy, as synthesized,
has an `Allow` of `sqs:SendMessage` for the caller's account whose `aws:PrincipalArn`
condition names the caller's role; otherwise it stays in the caller's account, where the
queue does not exist, and fails. The policy's `aws:SecureTransport` deny is not evaluated
(the emulation speaks HTTP on loopback). Every other request stays in its caller's account:
no role of the decision account can reach the execution account's tables or queues.

What moto does not enforce here, and the infra tests on the synthesized templates prove
instead (tests/infra/test_split.py): IAM policies (which actions and resources a role may use
within its own account) and trust policies (moto lets any caller assume any role, so the task
answer role's trust in the execute role alone is not checked locally). moto's IAM enforcement
(`INITIAL_NO_AUTH_ACTION_COUNT`, `/moto-api/reset-auth`) is not switched on: it evaluates
identity policies only, against the resource `*` for most services (DynamoDB among them), with
no resource policies and only `StringEquals` conditions, so it would refuse the kit's
resource-scoped grants rather than prove them.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local.assembly import AssemblyError, Deployment, resolve_value
from local.assembly.cloud_assembly import stack_templates

DECISION_ACCOUNT = "111111111111"
EXECUTION_ACCOUNT = "222222222222"
DEPLOYER_ROLE = "aios-local-deployer"
EXECUTION_SUFFIX = "-Execution"  # stacks.boundary.Boundary.execution_stack_name
ACCOUNT_HEADER = "x-moto-account-id"
_CONTEXT_KEY = "aios_queue_account"
QUEUE_POLICY = "AWS::SQS::QueuePolicy"


def synth_context(region: str) -> dict[str, str]:
    """The CDK context of the split layout: both planes in `region`, in the two accounts."""
    return {
        "decision_account": DECISION_ACCOUNT,
        "decision_region": region,
        "execution_account": EXECUTION_ACCOUNT,
        "execution_region": region,
    }


def split_stacks(
    cdk_out: Path, stack_name: str | None = None
) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """(name, template) of the decision stack and of its execution stack (`<name>-Execution`)."""
    stacks = stack_templates(cdk_out)
    names = [stack_name] if stack_name else sorted(stacks)
    for name in names:
        if name in stacks and f"{name}{EXECUTION_SUFFIX}" in stacks:
            execution = f"{name}{EXECUTION_SUFFIX}"
            return (name, stacks[name]), (execution, stacks[execution])
    raise AssemblyError(f"no split layout (<stack> and <stack>{EXECUTION_SUFFIX}) in {cdk_out}")


def _credentials(sts: Any, role_arn: str, session_name: str) -> dict[str, str]:
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }


def _session(creds: Mapping[str, str], region: str) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
        region_name=region,
    )


def account_session(sts: Any, account: str, region: str) -> boto3.session.Session:
    """A deployer session of `account`: the credentials of its role `aios-local-deployer`."""
    creds = _credentials(sts, f"arn:aws:iam::{account}:role/{DEPLOYER_ROLE}", DEPLOYER_ROLE)
    return _session(creds, region)


def function_credentials(sts: Any, role_arn: str, function_name: str) -> dict[str, str]:
    """The variables Lambda sets for a function: credentials of its execution role."""
    if not role_arn.startswith("arn:aws:iam::"):
        raise AssemblyError(f"{function_name}: execution role {role_arn!r} is not a role ARN")
    return _credentials(sts, role_arn, function_name)


def role_session(sts: Any, role_arn: str, region: str, name: str) -> boto3.session.Session:
    """A session acting as `role_arn` (for tests: a role's reach, as a function has it)."""
    return _session(function_credentials(sts, role_arn, name), region)


KEY_PURPOSES = ("plan", "policy", "human")
"""The decision plane's signing keys, by purpose: the functions name them `AIOS_<PURPOSE>_KEY_ID`
(the plan key; with signed attestations, the policy and human keys too)."""


def decision_public_keys(decision: Deployment, kms: Any) -> dict[str, dict[str, str]]:
    """What the operator pins in the execution stack: purpose -> {key ARN: its public key,
    base64 DER}, read from the decision account's KMS (`aws kms get-public-key`)."""
    pinned: dict[str, dict[str, str]] = {}
    for purpose in KEY_PURPOSES:
        variable = f"AIOS_{purpose.upper()}_KEY_ID"
        key_ids = {s.environment.get(variable, "") for s in decision.functions.values()} - {""}
        for key_id in sorted(key_ids):
            public = kms.get_public_key(KeyId=key_id)["PublicKey"]
            pinned.setdefault(purpose, {})[key_id] = base64.b64encode(public).decode()
    return pinned


def pin_keys(
    environment: Mapping[str, str], pinned: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The execution plane's environment with the decision plane's keys pinned where it reads
    them: `AIOS_PLAN_PUBLIC_KEYS` (plan keys) and, when it has one, `AIOS_TRUSTED_KEYS` (every
    purpose)."""
    env = dict(environment)
    if "AIOS_PLAN_PUBLIC_KEYS" in env:
        env["AIOS_PLAN_PUBLIC_KEYS"] = json.dumps(dict(pinned.get("plan", {})), sort_keys=True)
    if "AIOS_TRUSTED_KEYS" in env:
        env["AIOS_TRUSTED_KEYS"] = json.dumps(
            {
                purpose: [{"key_id": k, "public_key": v} for k, v in sorted(keys.items())]
                for purpose, keys in pinned.items()
            },
            sort_keys=True,
        )
    return env


@dataclass(frozen=True)
class QueuePolicy:
    """A queue's resource policy as synthesized, in the account the queue lives in."""

    account: str
    queue_name: str
    document: Mapping[str, Any]

    def allows_send(self, caller_account: str, principal_arn: str) -> bool:
        """True when an `Allow` of `sqs:SendMessage` names the caller's account as principal
        and, if it has an `aws:PrincipalArn` condition, names the caller's role in it, and no
        `Deny` of it applies (one on `aws:SecureTransport` alone is not evaluated locally;
        any other is taken to apply)."""
        statements = _as_list(self.document.get("Statement"))
        if any(_denies(statement) for statement in statements):
            return False
        return any(_allows(statement, caller_account, principal_arn) for statement in statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value is not None else []


def _sends(statement: Mapping[str, Any]) -> bool:
    return bool({"sqs:SendMessage", "sqs:*"} & set(_as_list(statement.get("Action"))))


def _denies(statement: Mapping[str, Any]) -> bool:
    if statement.get("Effect") != "Deny" or not _sends(statement):
        return False
    return statement.get("Condition") != {"Bool": {"aws:SecureTransport": "false"}}


def _allows(statement: Mapping[str, Any], caller_account: str, principal_arn: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if not _sends(statement):
        return False
    principals = _as_list((statement.get("Principal") or {}).get("AWS"))
    if not {caller_account, f"arn:aws:iam::{caller_account}:root"} & set(principals):
        return False
    conditions = statement.get("Condition") or {}
    if set(conditions) - {"ArnEquals"}:
        return False  # a condition the emulation does not evaluate grants nothing
    named = conditions.get("ArnEquals", {})
    if set(named) - {"aws:PrincipalArn"}:
        return False
    return not named or principal_arn in _as_list(named["aws:PrincipalArn"])


def queue_policies(
    template: Mapping[str, Any], deployment: Deployment
) -> dict[tuple[str, str], QueuePolicy]:
    """(account, queue name) -> the resource policy the template gives the queue."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    known: dict[str, tuple[Any, Mapping[str, Any]]] = {}
    for logical_id, url in deployment.queues.items():
        name = url.rsplit("/", 1)[-1]
        arn = f"arn:aws:sqs:{deployment.region}:{deployment.account}:{name}"
        known[logical_id] = (url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
    policies: dict[tuple[str, str], QueuePolicy] = {}
    for resource in resources.values():
        if resource.get("Type") != QUEUE_POLICY:
            continue
        props = resolve_value(
            resource.get("Properties", {}),
            template,
            deployment.stack_name,
            deployment.region,
            deployment.account,
            attributes=known,
        )
        for url in props.get("Queues", []):
            name = str(url).rsplit("/", 1)[-1]
            key = (deployment.account, name)
            policies[key] = QueuePolicy(deployment.account, name, props["PolicyDocument"])
    return policies


def _queue_of(url: str) -> tuple[str, str]:
    """(account, name) of a queue URL, `https://sqs.<region>.<suffix>/<account>/<name>`."""
    parts = url.rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])


class StateMachineClients:
    """The ASL interpreter's SQS clients (`local.moto_patches.apply(service_client=...)`): each
    acts as the state machine's role; a send to another account's queue is served by that
    account when the queue's policy allows the role (see the module docstring)."""

    def __init__(
        self,
        endpoint: str,
        sts: Any,
        policies: Mapping[tuple[str, str], QueuePolicy],
    ) -> None:
        self._endpoint = endpoint
        self._sts = sts
        self._policies = dict(policies)
        self._credentials: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str, service: str, state_credentials: Any) -> Any:
        role_arn = str(getattr(state_credentials, "role_arn", "") or "")
        with self._lock:
            if role_arn not in self._credentials:
                self._credentials[role_arn] = function_credentials(
                    self._sts, role_arn, "aios-state-machine"
                )
            creds = self._credentials[role_arn]
        client = _session(creds, region).client(
            service,
            endpoint_url=self._endpoint,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
            ),
        )
        if service == "sqs":
            caller_account = role_arn.split(":")[4]
            client.meta.events.register(
                "before-parameter-build.sqs.SendMessage",
                lambda params, context, **_: self._route(params, context, caller_account, role_arn),
            )
            client.meta.events.register("before-sign.sqs.SendMessage", _add_account_header)
        return client

    def _route(
        self, params: Mapping[str, Any], context: dict[str, Any], caller: str, role_arn: str
    ) -> None:
        account, name = _queue_of(str(params.get("QueueUrl", "")))
        if account == caller:
            return
        policy = self._policies.get((account, name))
        if policy is not None and policy.allows_send(caller, role_arn):
            context[_CONTEXT_KEY] = account


def _add_account_header(request: Any, **_: Any) -> None:
    account = request.context.get(_CONTEXT_KEY)
    if account:
        request.headers[ACCOUNT_HEADER] = account
