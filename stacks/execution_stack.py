"""The execution plane as a stack of its own, in another account and/or region.

It holds what applies actions and the state only actions change: the action queue and its
dead-letter queue, the execute function, the capabilities' roles and secrets, the connector
secrets, and its own ledger table (`State`: canonical entity state, uniqueness claims,
applied-action records and rejections, and the idempotency table). What crosses from the
decision stack is named, not referenced (stacks/boundary.py):

- signed actions come in through the queue's resource policy, which lets only the case
  machine's role of the decision account send;
- task answers go back through the decision account's task answer role (SendTaskSuccess and
  SendTaskFailure on the case machine, nothing else), which only this stack's execute role
  may assume;
- the plan public keys are pinned in this stack's configuration (`plan_public_keys`), so
  verification needs no call to the decision account's KMS key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aios.keyring import PURPOSES
from aws_cdk import Annotations, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.action_bus import ActionBus
from stacks.audit_anchor import AuditAnchor
from stacks.boundary import Boundary
from stacks.capability_roles import CapabilityRoles
from stacks.config import AiosConfig
from stacks.connector_secrets import ConnectorSecrets
from stacks.executor import Executor
from stacks.functions import aios_layers, execute_function, removal_policy
from stacks.ledger import Ledger
from stacks.workspace import Workspace

PERIOD = Duration.minutes(5)


class ExecutionStack(Stack):
    """Queue, execute function, capability roles, connector secrets and the execution state."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        boundary: Boundary,
        workspace: Workspace,
        user_layer_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        retention = removal_policy(config)
        self.state = Ledger(self, "State", removal_policy=retention)
        self.action_bus = ActionBus(
            self,
            "ActionBus",
            consumer_timeout=Duration.seconds(config.execute_timeout_seconds),
            queue_name=boundary.action_queue_name,
            dead_letter_queue_name=boundary.dead_letter_queue_name,
            high_throughput=config.fifo_high_throughput,
        )
        self.action_bus.allow_sender(boundary.decision_account, boundary.case_machine_role_arn)
        self.connector_secrets = ConnectorSecrets(
            self, "ConnectorSecrets", removal_policy=retention
        )
        self.layers = aios_layers(self, user_layer_dir)
        self.execute = execute_function(
            self,
            config=config,
            layers=self.layers,
            ledger=self.state,
            action_bus=self.action_bus,
            connector_secrets=self.connector_secrets,
            role_name=boundary.execute_role_name,
        )
        self.execute.add_environment("AIOS_TASK_ANSWER_ROLE_ARN", boundary.task_answer_role_arn)
        self.execute.add_environment("AIOS_TASK_ANSWER_REGION", boundary.decision_region)
        self.execute.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"], resources=[boundary.task_answer_role_arn]
            )
        )
        self.capability_roles = CapabilityRoles(
            self,
            "CapabilityRoles",
            execute=self.execute,
            email_sender=config.email_sender,
            capabilities=workspace.user_capabilities,
            config=config.capability_config,
            removal_policy=retention,
        )
        self.executor: Executor | None = None
        if config.executor == "fargate":
            self.executor = Executor(
                self,
                "Executor",
                config=config,
                execute=self.execute,
                ledger=self.state,
                action_bus=self.action_bus,
                connector_secrets=self.connector_secrets,
                capability_roles=self.capability_roles,
                user_layer_dir=user_layer_dir,
                role_name=boundary.executor_role_name,
                task_answer_role_arn=boundary.task_answer_role_arn,
                task_answer_region=boundary.decision_region,
            )
        # Rejections the execution plane records here (all of them orphans: cases live in the
        # decision account) are audit chains of this table, anchored by its own checkpoints.
        self.audit_anchor = AuditAnchor(
            self,
            "AuditAnchor",
            config=config,
            ledger=self.state,
            layers=self.layers,
            removal_policy=retention,
        )
        self.alarms = self._alarms(config, retention)
        pinned = config.pinned_keys
        unpinned = [k.key_id for p in PURPOSES for k in pinned.of(p) if not k.public_key]
        if unpinned:
            raise ValueError(
                f"trusted_keys: {', '.join(unpinned)} without a public key; the execution plane "
                "on its own has no access to the decision account's KMS keys (aios keys pins)"
            )
        missing = [p for p in PURPOSES if not pinned.of(p)]
        if missing:
            Annotations.of(self).add_warning_v2(
                "aios:no-plan-keys",
                f"no {', '.join(missing)} key is pinned: the execution plane refuses every "
                "action that needs one. Pin the decision stack's keys with `aios keys pins` "
                "(docs/two-accounts.md).",
            )

        CfnOutput(self, "ActionQueueUrl", value=self.action_bus.queue.queue_url)
        CfnOutput(
            self, "ActionDeadLetterQueueUrl", value=self.action_bus.dead_letter_queue.queue_url
        )
        CfnOutput(self, "StateTableName", value=self.state.table.table_name)
        CfnOutput(self, "ExecuteRoleArn", value=self.execute.role.role_arn)
        CfnOutput(self, "AuditBucketName", value=self.audit_anchor.bucket.bucket_name)
        CfnOutput(self, "AuditKeyArn", value=self.audit_anchor.key.key_arn)

    def _alarms(self, config: AiosConfig, retention: Any) -> list[cloudwatch.Alarm]:
        """Dead letters and execute errors, to this account's own alarm topic."""
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="AIOS execution alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=retention,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        metrics = {
            "DeadLetters": (
                self.action_bus.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "Actions are in the dead-letter queue",
            ),
            "ExecuteErrors": (
                self.execute.function.metric_errors(period=PERIOD, statistic="Sum"),
                "The execute function raised errors",
            ),
            "AuditCheckpointErrors": (
                self.audit_anchor.function.function.metric_errors(period=PERIOD, statistic="Sum"),
                "The audit_checkpoint function raised errors: audit chains are not anchored",
            ),
        }
        alarms = []
        for id, (metric, description) in metrics.items():
            alarm = metric.create_alarm(
                self,
                id,
                alarm_description=description,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
            alarms.append(alarm)
        return alarms
