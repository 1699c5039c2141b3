"""Alarms, the alarm topic and a small dashboard.

Two kinds of alarms: on AWS's own metrics (failed or timed-out executions, dead letters,
function errors, API 5xx) and on the kit's own signals (`SIGNALS`: EMF metrics in namespace
AIOS with the single dimension `service`, emitted by the function named there), each with its
threshold from the `alarm_thresholds` context.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import AiosConfig
from stacks.functions import AiosFunction

PERIOD = Duration.minutes(5)
NAMESPACE = "AIOS"


@dataclass(frozen=True)
class Signal:
    """One alarm on a kit metric: what it watches and how."""

    key: str  # its threshold's key in `alarm_thresholds`
    metric: str
    function: str  # the function that emits it (dimension service = aios-<function>)
    statistic: str
    period: str  # "5m", "1h", "1d", or "reconciler" / "kpis": the schedule of that function
    unit: cloudwatch.Unit
    description: str
    below: bool = False


COUNT, NONE = cloudwatch.Unit.COUNT, cloudwatch.Unit.NONE
SIGNALS = (
    Signal("actions_rejected", "ActionsRejected", "execute", "Sum", "5m", COUNT,
           "The execution plane refused an action: a tampering or forgery attempt, or a bug"),
    Signal("handoff_rate", "DecisionHandoffs", "decide", "Average", "1h", COUNT,
           "The share of decisions handed to people is above the threshold"),
    Signal("budget_exhausted", "BudgetExhausted", "decide", "Sum", "5m", COUNT,
           "A tenant's daily model budget for a process is exhausted: cases go to people"),
    Signal("approvals_past_sla", "ApprovalsPastSla", "case_reconciler", "Maximum", "reconciler",
           COUNT, "Approvals are waiting past their SLA"),
    Signal("approval_timeouts", "ApprovalsTimedOut", "approval_request", "Sum", "1h", COUNT,
           "Approvals timed out with nobody deciding"),
    Signal("action_retries", "ActionRetries", "execute", "Sum", "5m", COUNT,
           "Outside systems are failing actions that will be retried"),
    Signal("actions_dead_lettered", "ActionsDeadLettered", "case_reconciler", "Maximum",
           "reconciler", COUNT, "Actions gave up in the dead-letter queue; their cases failed"),
    Signal("memory_drift", "MemoryDrift", "memory_reconciler", "Maximum", "1h", COUNT,
           "The vector index drifted from the canonical memory records"),
    Signal("daily_model_spend_usd", "ModelCostUSD", "decide", "Sum", "1d", NONE,
           "Model spend of the day (USD) is over the limit"),
    Signal("acceptance_rate_floor", "KpiAcceptanceRate", "kpis", "Minimum", "kpis", NONE,
           "A process's approvers accept fewer proposals than the floor", below=True),
    Signal("stuck_cases", "CasesStuck", "case_reconciler", "Maximum", "reconciler", COUNT,
           "Cases without an execution, or whose execution ended while the ledger says running"),
    Signal("handoffs_past_sla", "HandoffsPastSla", "case_reconciler", "Maximum", "reconciler",
           COUNT, "Handed-off cases nobody took within their SLA"),
    Signal("action_drift", "ActionDrift", "case_reconciler", "Maximum", "reconciler", COUNT,
           "An outside system no longer holds what an applied action applied"),
)  # fmt: skip
KPI_WIDGETS = (
    ("Decision quality (rates)", ("KpiAcceptanceRate", "KpiAutoAppliedShare",
                                  "KpiRollbackRate", "KpiHumanInterventionRate",
                                  "KpiHandoffRate", "KpiCacheHitRate")),
    ("Time to human intervention (s)", ("KpiTimeToHumanP50", "KpiTimeToHumanP90")),
    ("Model cost per case (USD)", ("KpiModelCostPerCase",)),
)  # fmt: skip


def kpi_search(metric: str, period_seconds: int) -> str:
    """A dashboard SEARCH for one KPI of every process (the KPI job's per-process metrics)."""
    pattern = f'{{{NAMESPACE},process,service}} MetricName="{metric}"'
    return f"SEARCH('{pattern}', 'Average', {period_seconds})"


class Observability(Construct):
    """Alarms on failed or timed-out cases, dead letters, function errors and API 5xx.

    The alarm topic is encrypted with its own key because CloudWatch cannot publish to a topic
    encrypted with the AWS managed SNS key; the key policy lets CloudWatch use it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        removal_policy: RemovalPolicy,
        state_machine: sfn.StateMachine,
        dead_letter_queues: dict[str, tuple[sqs.IQueue, str]],
        functions: list[AiosFunction],
        rest_api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, id)
        self.topic_key = kms.Key(
            self,
            "AlarmTopicKey",
            description="AIOS alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = sns.Topic(self, "AlarmTopic", master_key=self.topic_key, enforce_ssl=True)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.topic)

        def alarm(id: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
            created = metric.create_alarm(
                self,
                id,
                alarm_description=description,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            return created

        self.alarms = [
            alarm(
                "CasesFailed",
                state_machine.metric_failed(period=PERIOD, statistic="Sum"),
                "A case execution failed",
            ),
            alarm(
                "CasesTimedOut",
                state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                "A case execution timed out",
            ),
            *(
                alarm(
                    id,
                    queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    ),
                    description,
                )
                for id, (queue, description) in dead_letter_queues.items()
            ),
            alarm(
                "Api5xx",
                rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
                "The API answered with a 5xx",
            ),
        ]
        for fn in functions:
            self.alarms.append(
                alarm(
                    f"{fn.node.id}Errors",
                    fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                    f"The {fn.name} function raised errors",
                )
            )

        self.signal_alarms = self._signal_alarms(config, {fn.name for fn in functions}, action)
        self.alarms += self.signal_alarms

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Cases",
                left=[
                    state_machine.metric_started(period=PERIOD, statistic="Sum"),
                    state_machine.metric_succeeded(period=PERIOD, statistic="Sum"),
                    state_machine.metric_failed(period=PERIOD, statistic="Sum"),
                ],
            ),
            cloudwatch.GraphWidget(
                title="API",
                left=[
                    rest_api.metric_count(period=PERIOD, statistic="Sum"),
                    rest_api.metric_client_error(period=PERIOD, statistic="Sum"),
                    rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
                ],
                right=[rest_api.metric_latency(period=PERIOD, statistic="p99")],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[
                    fn.function.metric_errors(period=PERIOD, statistic="Sum") for fn in functions
                ],
            ),
            cloudwatch.GraphWidget(
                title="Function duration p99",
                left=[
                    fn.function.metric_duration(period=PERIOD, statistic="p99") for fn in functions
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms),
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"Kit signal: {signal.metric}",
                    left=[self.signal_metric(signal, config)],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(
                            value=config.alarm_thresholds[signal.key], label="threshold"
                        )
                    ],
                    width=6,
                )
                for signal in self.signals
            )
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"KPIs: {title}",
                    left=[
                        cloudwatch.MathExpression(
                            expression=kpi_search(name, config.kpi_minutes * 60),
                            using_metrics={},
                            label=name,
                            period=Duration.minutes(config.kpi_minutes),
                        )
                        for name in names
                    ],
                    width=8,
                )
                for title, names in KPI_WIDGETS
            )
        )

    @staticmethod
    def _period(signal: Signal, config: AiosConfig) -> Duration:
        fixed = {"5m": PERIOD, "1h": Duration.hours(1), "1d": Duration.days(1)}
        if signal.period == "reconciler":
            return Duration.minutes(config.reconciler_minutes)
        if signal.period == "kpis":
            return Duration.minutes(config.kpi_minutes)
        return fixed[signal.period]

    def signal_metric(self, signal: Signal, config: AiosConfig) -> cloudwatch.Metric:
        """The metric an alarm on `signal` watches: exactly what the function's EMF says."""
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=signal.metric,
            dimensions_map={"service": f"aios-{signal.function}"},
            statistic=signal.statistic,
            period=self._period(signal, config),
            unit=signal.unit,
        )

    def _signal_alarms(
        self, config: AiosConfig, deployed: set[str], action: cw_actions.SnsAction
    ) -> list[cloudwatch.Alarm]:
        """One alarm per kit signal whose emitting function is deployed."""
        self.signals = [s for s in SIGNALS if s.function in deployed]
        alarms = []
        for signal in self.signals:
            created = self.signal_metric(signal, config).create_alarm(
                self,
                f"Signal{signal.metric}",
                alarm_description=signal.description,
                threshold=config.alarm_thresholds[signal.key],
                comparison_operator=(
                    cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                    if signal.below
                    else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                ),
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            alarms.append(created)
        return alarms
