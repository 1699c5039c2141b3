"""The ledger: the canonical DynamoDB tables of cases, plans, actions, entities and audit."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from stacks.nag import acknowledge

BY_PROCESS_INDEX = "ByProcess"


class Ledger(Construct):
    """The ``Ledger`` table (pk/sk, TTL ``expires_at``) and the Powertools ``Idempotency`` table.

    Both are on-demand with point-in-time recovery. They are encrypted with the AWS managed
    DynamoDB key: every key use is in CloudTrail, and who may read the data is decided by the
    per-function IAM grants below, so a customer managed key would add cost and a key policy
    without adding a trust boundary.

    The ledger streams every change (NEW_AND_OLD_IMAGES) to the case events publisher, and has
    one sparse index, `ByProcess` (process, created_at), over case items only: it lists a
    process's cases in a time window for the KPIs and the reconciler without a table scan.
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
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
        self.table.add_global_secondary_index(
            index_name=BY_PROCESS_INDEX,
            partition_key=dynamodb.Attribute(name="process", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=["status", "updated_at"],
        )
        stack = Stack.of(self)
        ledger_id = stack.get_logical_id(self.table.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            stack,
            id=f"AwsSolutions-IAM5[Resource::<{ledger_id}.Arn>/index/*]",
            reason="CDK's Table.grant covers the table's indexes; the ledger's only index is "
            "the sparse ByProcess index of case items",
        )
        self.idempotency_table = self._table(
            "Idempotency", "id", "expiration", removal_policy, retained
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
