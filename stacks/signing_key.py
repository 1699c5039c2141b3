"""The signing keys: one per purpose, so that no function that signs one kind of statement can
sign another (aios.keyring).

- the plan key: decide signs plans;
- the policy key: decide signs one policy attestation per plan over its auto actions;
- the human key: the approvals function (an approval's decision) and the console (an
  approver deciding there, an operator acting by hand) sign human attestations.

The execution plane verifies with their public keys: fetched once per cold start in one stack
(`kms:GetPublicKey` only), pinned in its configuration when it runs on its own.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class SigningKey(Construct):
    """Asymmetric ECC P-256 KMS keys for ECDSA signatures (SIGN_VERIFY), one per purpose."""

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.key = self._key(
            "PlanKey", "AIOS plan signing key (ECDSA P-256): decide signs, execute verifies",
            removal_policy,
        )  # fmt: skip
        self.policy_key = self._key(
            "PolicyKey",
            "AIOS policy attestation key (ECDSA P-256): decide signs auto actions, execute verifies",
            removal_policy,
        )
        self.human_key = self._key(
            "HumanKey",
            "AIOS human attestation key (ECDSA P-256): approvals and console sign, execute verifies",
            removal_policy,
        )

    def _key(self, id: str, description: str, removal_policy: RemovalPolicy) -> kms.Key:
        return kms.Key(
            self,
            id,
            description=description,
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=removal_policy,
        )

    @property
    def all(self) -> list[kms.Key]:
        return [self.key, self.policy_key, self.human_key]

    def grant_verify(self, role: iam.IGrantable) -> None:
        """The public keys of every purpose (one stack's execution plane): no Sign."""
        for key in self.all:
            key.grant(role, "kms:GetPublicKey")

    def environment(self) -> dict[str, str]:
        """The key ids a verifier trusts per purpose."""
        return {
            "AIOS_PLAN_KEY_ID": self.key.key_arn,
            "AIOS_POLICY_KEY_ID": self.policy_key.key_arn,
            "AIOS_HUMAN_KEY_ID": self.human_key.key_arn,
        }
