"""The decision store: the model-output cache and the daily model budgets of the decide function."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


class DecisionStore(Construct):
    """The ``Decisions`` table (key ``item_key``, TTL ``expires_at``): cache and budget items.

    Ledger-style settings: on-demand, point-in-time recovery, encrypted with the AWS managed
    key (who reads it is decided by IAM: only decide), TTL for expired cache entries and old
    budget days. It is not the ledger: losing it loses cached answers and today's counters,
    never a case, so it has no deletion protection of its own beyond the removal policy.
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self,
            "Decisions",
            partition_key=dynamodb.Attribute(name="item_key", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute="expires_at",
            removal_policy=removal_policy,
        )
