"""The plan signing key: decide signs plans with it, execute verifies with its public key."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


class SigningKey(Construct):
    """An asymmetric ECC P-256 KMS key for ECDSA plan signatures (SIGN_VERIFY)."""

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "PlanKey",
            description="AIOS plan signing key (ECDSA P-256): decide signs, execute verifies",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=removal_policy,
        )
