"""Connector secrets: credentials the execute plane uses to reach outside systems."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks.nag import acknowledge


class ConnectorSecrets(Construct):
    """One JSON secret ``{http target name: HMAC signing key}`` read by ``http.post``.

    Deployed empty (``{}``): an operator stores each target's key after deploy, so no key is
    ever in context, code or the template.
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.http_keys = secretsmanager.Secret(
            self,
            "HttpTargetKeys",
            description="AIOS http.post signing keys: JSON object of target name to key",
            secret_string_value=SecretValue.unsafe_plain_text("{}"),  # an empty object
            removal_policy=removal_policy,
        )
        acknowledge(
            self.http_keys,
            id="AwsSolutions-SMG4",
            reason="keys are shared with each target's owner; rotation is coordinated by hand",
        )
