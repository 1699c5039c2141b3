"""One IAM role per capability that touches AWS resources, assumable only by execute.

The execute function assumes a capability's role per action with a session policy narrowed to
that action's target (see aios/credentials.py), so its own role needs little more than
`sts:AssumeRole` on these roles. A role's permissions are the most its capability could ever
need; the session policy cuts them down to one action's worth for 15 minutes.

The built-in `email.send` gets its role here; so does every user capability that declares
`iam` statements (their `${AWS::...}` placeholders resolved to this stack's partition, region
and account) or `secrets`: a Secrets Manager secret of its own, created empty, readable only
through that role (the execute role cannot read it). A capability's deploy-time options
(`capability_config` context, checked against its `config_model`) reach execute as
`AIOS_CAPABILITY_CONFIG`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aios.capabilities import Capability
from aws_cdk import Arn, ArnFormat, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from pydantic import ValidationError

from stacks.config import ConfigError
from stacks.functions import AiosFunction
from stacks.nag import acknowledge

_PSEUDO = {
    "${AWS::Partition}": "<AWS::Partition>",
    "${AWS::Region}": "<AWS::Region>",
    "${AWS::AccountId}": "<AWS::AccountId>",
}


def construct_id(name: str) -> str:
    """`crm.update_contact` -> `CrmUpdateContact`."""
    return "".join(part.capitalize() for part in re.split(r"[._]", name))


def capability_config(
    capabilities: dict[str, Capability], given: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The validated options of every capability with a config model; ConfigError naming the
    context key and the capability's field otherwise."""
    unknown = sorted(set(given) - {n for n, c in capabilities.items() if c.config_model})
    if unknown:
        raise ConfigError(
            f"invalid context value for 'capability_config': {unknown[0]!r} is not a "
            "capability with a config_model"
        )
    options: dict[str, dict[str, Any]] = {}
    for name, capability in sorted(capabilities.items()):
        if capability.config_model is None:
            continue
        try:
            parsed = capability.config_model.model_validate(given.get(name, {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                f"invalid context value for 'capability_config': {name}.{where}: {err['msg']}"
            ) from exc
        options[name] = parsed.model_dump(mode="json")
    return options


class CapabilityRoles(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        execute: AiosFunction,
        email_sender: str | None,
        capabilities: dict[str, Capability] | None = None,
        config: dict[str, dict[str, Any]] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self._trust = iam.ArnPrincipal(execute.role.role_arn)
        self.email_send = iam.Role(
            self,
            "EmailSendRole",
            assumed_by=self._trust,
            description="email.send: SES SendEmail from the configured sender, narrowed per action",
        )
        sender_domain = (email_sender or "example.invalid").split("@")[-1]
        identities = [
            Arn.format(
                {
                    "service": "ses",
                    "resource": "identity",
                    "resource_name": name,
                    "arn_format": ArnFormat.SLASH_RESOURCE_NAME,
                },
                stack,
            )
            for name in sorted({email_sender or "example.invalid", sender_domain})
        ]
        self.email_send.add_to_policy(
            iam.PolicyStatement(actions=["ses:SendEmail"], resources=identities)
        )
        self.roles: dict[str, iam.Role] = {"email.send": self.email_send}
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for name, capability in sorted((capabilities or {}).items()):
            if capability.needs_role:
                self._capability_role(name, capability, removal_policy)
        execute.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"], resources=[r.role_arn for r in self.roles.values()]
            )
        )
        execute.add_environment(
            "AIOS_CAPABILITY_ROLES",
            stack.to_json_string({name: role.role_arn for name, role in self.roles.items()}),
        )
        if self.secrets:
            execute.add_environment(
                "AIOS_CAPABILITY_SECRETS",
                stack.to_json_string({n: s.secret_arn for n, s in self.secrets.items()}),
            )
        options = capability_config(capabilities or {}, config or {})
        if options:
            execute.add_environment("AIOS_CAPABILITY_CONFIG", stack.to_json_string(options))
        if email_sender:
            execute.add_environment("AIOS_EMAIL_SENDER", email_sender)

    def allow(self, grantee: iam.Role) -> None:
        """Let another runner of the execution code (the executor's task role) assume every
        capability role, as execute does."""
        for role in self.roles.values():
            assert role.assume_role_policy is not None
            role.assume_role_policy.add_statements(
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"], principals=[iam.ArnPrincipal(grantee.role_arn)]
                )
            )
        grantee.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"], resources=[r.role_arn for r in self.roles.values()]
            )
        )

    def _capability_role(
        self, name: str, capability: Capability, removal_policy: RemovalPolicy
    ) -> None:
        stack = Stack.of(self)
        cid = construct_id(name)
        role = iam.Role(
            self,
            f"{cid}Role",
            assumed_by=self._trust,
            description=f"{name}: the capability's own permissions, assumed per action by execute",
        )
        for statement in capability.iam:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=list(statement.actions),
                    resources=[self._resolve(stack, r) for r in statement.resources],
                )
            )
            for resource in (r for r in statement.resources if "*" in r):
                finding = resource
                for placeholder, shown in _PSEUDO.items():
                    finding = finding.replace(placeholder, shown)
                acknowledge(
                    role,
                    id=f"AwsSolutions-IAM5[Resource::{finding}]",
                    reason=f"{name} (capability author): {statement.reason}",
                )
        if capability.secrets:
            secret = secretsmanager.Secret(
                self,
                f"{cid}Secret",
                description=f"AIOS {name} secret: JSON with keys {', '.join(capability.secrets)}",
                # Its keys with empty values: the operator fills them in after deploy.
                secret_string_value=SecretValue.unsafe_plain_text(
                    json.dumps(dict.fromkeys(capability.secrets, ""))
                ),
                removal_policy=removal_policy,
            )
            acknowledge(
                secret,
                id="AwsSolutions-SMG4",
                reason="issued by the outside system the capability calls; rotated there by hand",
            )
            secret.grant_read(role)
            self.secrets[name] = secret
        self.roles[name] = role

    @staticmethod
    def _resolve(stack: Stack, resource: str) -> str:
        return (
            resource.replace("${AWS::Partition}", stack.partition)
            .replace("${AWS::Region}", stack.region)
            .replace("${AWS::AccountId}", stack.account)
        )
