"""The ledger: the canonical DynamoDB tables of cases, plans, actions, entities and audit."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

QUEUE_INDEX = "Queues"
BY_PROCESS_INDEX = "ByProcess"
AUDIT_PERIOD_INDEX = "AuditPeriods"

LEDGER_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
CASE_KEYS = ("CASE#*",)
"""The key space of cases and everything on their audit chains (plans, actions, approvals,
handoffs, findings): every plane records its part of a case here."""
EXECUTION_KEYS = ("ENTITY#*", "APPLIED#*", "REJECTION#*")
"""The execution plane's own key spaces: canonical entity state and uniqueness claims,
applied-action records and orphan rejections. No other role may write them."""


class Ledger(Construct):
    """The ``Ledger`` table (pk/sk, TTL ``expires_at``) and the Powertools ``Idempotency`` table.

    Both are on-demand with point-in-time recovery. They are encrypted with the AWS managed
    DynamoDB key: every key use is in CloudTrail, and who may read the data is decided by the
    per-function IAM grants below, so a customer managed key would add cost and a key policy
    without adding a trust boundary.

    The ledger has two sparse indexes. ``Queues`` (``queue``/``queued_at``, keys only) holds
    only what waits for people or was refused (handed-off and failed cases, pending approvals,
    rejections), which the operator console lists without a scan. ``ByProcess``
    (``process``/``created_at``, with ``status`` and ``updated_at``) holds only case items: a
    process's cases in a time window, for the KPIs and the reconciler. Both are declared on the
    CloudFormation table rather than through ``add_global_secondary_index``: with an index
    known to CDK, every ``table.grant`` would also allow ``<table>/index/*`` to every role;
    this way only ``grant_queue_read`` and ``grant_case_index_read`` allow their one index.
    A third, ``AuditPeriods`` (``audit_period``/``pk``, keys only), holds only audit chain
    heads, by the UTC hour they last moved: the chains the audit checkpointer anchors
    (stacks/audit_anchor.py). CloudFormation creates one index per stack update: a ledger
    deployed before an index existed gets each missing one in a deployment of its own.

    The ledger streams every change (NEW_AND_OLD_IMAGES) to the case events publisher.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        removal_policy: RemovalPolicy,
        idempotency: bool = True,
    ) -> None:
        """Without ``idempotency`` (the decision stack of a split deployment: only the
        execution plane keeps idempotency records), there is no ``Idempotency`` table."""
        super().__init__(scope, id)
        retained = removal_policy == RemovalPolicy.RETAIN
        self.table = self._table(
            "Ledger",
            "pk",
            "expires_at",
            removal_policy,
            retained,
            sort_key="sk",
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        self._idempotency_table = (
            self._table("Idempotency", "id", "expiration", removal_policy, retained)
            if idempotency
            else None
        )
        self._add_indexes()

    def _add_indexes(self) -> None:
        table = self.table.node.default_child
        assert isinstance(table, dynamodb.CfnTable)
        table.add_property_override(
            "AttributeDefinitions",
            [
                {"AttributeName": name, "AttributeType": "S"}
                for name in (
                    "pk",
                    "sk",
                    "queue",
                    "queued_at",
                    "process",
                    "created_at",
                    "audit_period",
                )
            ],
        )
        table.add_property_override(
            "GlobalSecondaryIndexes",
            [
                {
                    "IndexName": QUEUE_INDEX,
                    "KeySchema": [
                        {"AttributeName": "queue", "KeyType": "HASH"},
                        {"AttributeName": "queued_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                {
                    "IndexName": BY_PROCESS_INDEX,
                    "KeySchema": [
                        {"AttributeName": "process", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": ["status", "updated_at"],
                    },
                },
                {
                    "IndexName": AUDIT_PERIOD_INDEX,
                    "KeySchema": [
                        {"AttributeName": "audit_period", "KeyType": "HASH"},
                        {"AttributeName": "pk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
            ],
        )

    @property
    def idempotency_table(self) -> dynamodb.Table:
        """The Powertools idempotency table of whoever runs the execution code."""
        if self._idempotency_table is None:
            raise RuntimeError("this ledger has no idempotency table (idempotency=False)")
        return self._idempotency_table

    @property
    def queue_index_arn(self) -> str:
        return f"{self.table.table_arn}/index/{QUEUE_INDEX}"

    def grant_write(self, grantee: iam.IGrantable, key_spaces: tuple[str, ...]) -> None:
        """Write items whose partition key is in ``key_spaces`` only (``dynamodb:LeadingKeys``).

        IAM checks the condition on every item of a transaction, so a role granted ``CASE#*``
        cannot write an entity, an applied record or a rejection, whatever call it makes.
        """
        grant_ledger_write(grantee, self.table.table_arn, key_spaces)

    def grant_queue_read(self, grantee: iam.IGrantable) -> None:
        """Query the operator queues (the keys in them); items are then read by key."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.queue_index_arn])
        )

    def grant_case_index_read(self, grantee: iam.IGrantable) -> None:
        """Query a process's cases by creation time (the KPIs and the reconciler)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{self.table.table_arn}/index/{BY_PROCESS_INDEX}"],
            )
        )

    def grant_audit_period_read(self, grantee: iam.IGrantable) -> None:
        """Query the audit chain heads by the hour they moved (the audit checkpointer)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{self.table.table_arn}/index/{AUDIT_PERIOD_INDEX}"],
            )
        )

    def _table(
        self,
        id: str,
        partition_key: str,
        ttl_attribute: str,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
        sort_key: str | None = None,
        stream: dynamodb.StreamViewType | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            id,
            partition_key=dynamodb.Attribute(
                name=partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=(
                dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING)
                if sort_key
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=ttl_attribute,
            removal_policy=removal_policy,
            deletion_protection=deletion_protection,
            stream=stream,
        )


def grant_ledger_write(
    grantee: iam.IGrantable, table_arn: str, key_spaces: tuple[str, ...]
) -> None:
    """Put, update and condition-check items of ``table_arn`` whose partition key matches one of
    ``key_spaces`` (``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys``)."""
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(LEDGER_WRITE),
            resources=[table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(key_spaces)}},
        )
    )
