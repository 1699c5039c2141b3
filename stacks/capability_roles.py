"""One IAM role per capability that touches AWS resources, assumable only by execute.

The execute function assumes a capability's role per action with a session policy narrowed to
that action's target (see aios/credentials.py), so its own role needs little more than
`sts:AssumeRole` on these roles. A role's permissions are the most its capability could ever
need; the session policy cuts them down to one action's worth for 15 minutes.
"""

from __future__ import annotations

from aws_cdk import Arn, ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.functions import AiosFunction


class CapabilityRoles(Construct):
    def __init__(
        self, scope: Construct, id: str, *, execute: AiosFunction, email_sender: str | None
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        trust = iam.ArnPrincipal(execute.role.role_arn)
        self.email_send = iam.Role(
            self,
            "EmailSendRole",
            assumed_by=trust,
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
        self.roles = {"email.send": self.email_send}
        execute.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"], resources=[r.role_arn for r in self.roles.values()]
            )
        )
        execute.add_environment(
            "AIOS_CAPABILITY_ROLES",
            stack.to_json_string({name: role.role_arn for name, role in self.roles.items()}),
        )
        if email_sender:
            execute.add_environment("AIOS_EMAIL_SENDER", email_sender)
