"""The audit anchor: signed checkpoints of the audit chain heads in an S3 Object Lock bucket.

The ledger is mutable by whoever may write it; the anchor is not. ``audit_checkpoint`` runs
every ``audit_checkpoint_minutes``, reads the heads of the chains that moved (the ledger's
sparse ``AuditPeriods`` index and the head items, nothing else), signs them with its own
ECDSA P-256 key and puts the checkpoint under COMPLIANCE retention of
``audit_retention_days``. ``aios audit verify`` checks chains against the checkpoints.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import AiosConfig
from stacks.functions import AiosFunction
from stacks.ledger import Ledger
from stacks.nag import acknowledge

CHECKPOINT_PREFIX = "checkpoints/"


class AuditAnchor(Construct):
    """The Object Lock bucket (with its access log bucket), the checkpoint key and the
    scheduled ``audit_checkpoint`` function over ``ledger``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        layers: list[lambda_.ILayerVersion],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "CheckpointKey",
            description="AIOS audit checkpoint signing key (ECDSA P-256): audit_checkpoint signs",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=removal_policy,
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(config.audit_retention_days))
            ],
            removal_policy=removal_policy,
        )
        acknowledge(
            self.access_logs,
            id="AwsSolutions-S1",
            reason="this is the anchor bucket's access log; logging the log bucket would loop",
        )
        # Locked objects outlive any stack deletion: the bucket is always retained.
        self.bucket = s3.Bucket(
            self,
            "Checkpoints",
            versioned=True,  # Object Lock requires it
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                Duration.days(config.audit_retention_days)
            ),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="checkpoints/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.function = AiosFunction(
            self,
            "Checkpointer",
            name="audit_checkpoint",
            config=config,
            layers=layers,
            timeout=Duration.minutes(5),
            reserved_concurrency=1,  # one writer of the checkpoint chain at a time
            environment={
                "AIOS_LEDGER_TABLE": ledger.table.table_name,
                "AIOS_AUDIT_BUCKET": self.bucket.bucket_name,
                "AIOS_AUDIT_KEY_ID": self.key.key_arn,
                "AIOS_AUDIT_RETENTION_DAYS": str(config.audit_retention_days),
                "AIOS_AUDIT_LOOKBACK_HOURS": str(config.audit_lookback_hours),
            },
        )
        self._grant(ledger)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="AIOS: sign the moved audit chain heads into the Object Lock bucket",
            schedule=events.Schedule.rate(Duration.minutes(config.audit_checkpoint_minutes)),
            targets=[targets.LambdaFunction(self.function.function, retry_attempts=2)],
        )

    def _grant(self, ledger: Ledger) -> None:
        """Read the heads that moved (index Query, head BatchGetItem), read the previous
        checkpoint, put new ones with their retention, sign with (and verify by) the checkpoint
        key: no more."""
        role = self.function.role
        ledger.table.grant(role, "dynamodb:BatchGetItem")
        ledger.grant_audit_period_read(role)
        objects = self.bucket.arn_for_objects(f"{CHECKPOINT_PREFIX}*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:PutObjectRetention", "s3:GetObject"],
                resources=[objects],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [CHECKPOINT_PREFIX]}},
            )
        )
        # GetPublicKey: the previous checkpoint is verified before the next chains on it.
        self.key.grant(role, "kms:Sign", "kms:GetPublicKey")
        bucket_id = Stack.of(self).get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            role,
            id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{CHECKPOINT_PREFIX}*]",
            reason="checkpoints are keyed by sequence number under one prefix of the bucket",
        )
