"""The execution reconciler and the KPI job: two scheduled functions over the ledger.

`case_reconciler` (every `reconciler_minutes`) finds cases without an execution, executions
that ended while the ledger says running, approvals and handoffs past their SLA, dead-lettered
actions (whose tasks it fails at once: `states:SendTaskFailure` only, never success), and drift
of recently applied actions. `kpis` (every `kpi_minutes`) emits the decision-quality KPIs of
the trailing `kpi_window_hours` for the dashboard and the acceptance-floor alarm.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import AiosConfig
from stacks.functions import (
    LEDGER_READ,
    LEDGER_WRITE,
    AiosFunction,
    execution_arns,
    execution_arns_finding,
)
from stacks.ledger import Ledger
from stacks.nag import acknowledge


class Reconciler(Construct):
    """`case_reconciler` and `kpis`, each on its own schedule and role."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        action_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        layers: list[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, id)
        self.reconciler = AiosFunction(
            self,
            "CaseReconciler",
            name="case_reconciler",
            config=config,
            layers=layers,
            timeout=Duration.minutes(5),
            environment={
                "AIOS_LEDGER_TABLE": ledger.table.table_name,
                "AIOS_ACTION_QUEUE_URL": action_queue.queue_url,
                "AIOS_ACTION_DLQ_URL": dead_letter_queue.queue_url,
                "AIOS_RECONCILER_LOOKBACK_DAYS": str(config.reconciler_lookback_days),
                "AIOS_DRIFT_WINDOW_HOURS": str(config.drift_window_hours),
            },
        )
        ledger.table.grant(self.reconciler.role, *LEDGER_READ, *LEDGER_WRITE)
        ledger.grant_case_index_read(self.reconciler.role)
        dead_letter_queue.grant_consume_messages(self.reconciler.role)
        self.reconciler_schedule = events.Rule(
            self,
            "ReconcilerSchedule",
            description="AIOS: find stuck and drifting cases, fail dead-lettered actions",
            schedule=events.Schedule.rate(Duration.minutes(config.reconciler_minutes)),
            targets=[targets.LambdaFunction(self.reconciler.function, retry_attempts=0)],
        )

        self.kpis = AiosFunction(
            self,
            "Kpis",
            name="kpis",
            config=config,
            layers=layers,
            timeout=Duration.minutes(5),
            environment={
                "AIOS_LEDGER_TABLE": ledger.table.table_name,
                "AIOS_KPI_WINDOW_HOURS": str(config.kpi_window_hours),
            },
        )
        ledger.table.grant(self.kpis.role, *LEDGER_READ)
        ledger.grant_case_index_read(self.kpis.role)
        self.kpi_schedule = events.Rule(
            self,
            "KpiSchedule",
            description="AIOS: decision-quality KPIs of the trailing window as metrics",
            schedule=events.Schedule.rate(Duration.minutes(config.kpi_minutes)),
            targets=[targets.LambdaFunction(self.kpis.function, retry_attempts=0)],
        )

    @property
    def functions(self) -> list[AiosFunction]:
        return [self.reconciler, self.kpis]

    def attach_case_machine(self, machine: sfn.StateMachine) -> None:
        """The reconciler reads executions, starts a missing one and fails dead-lettered tasks
        (never answers a task with success)."""
        role = self.reconciler.role
        self.reconciler.add_environment("AIOS_STATE_MACHINE_ARN", machine.state_machine_arn)
        machine.grant_start_execution(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"], resources=[execution_arns(machine)]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskFailure"], resources=[machine.state_machine_arn]
            )
        )
        acknowledge(
            role,
            id=f"AwsSolutions-IAM5[Resource::{execution_arns_finding(machine)}]",
            reason="execution ARNs are named per case at runtime; scoped to this machine's ones",
        )
