"""Alarms, the alarm topic and a small dashboard."""

from __future__ import annotations

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

from stacks.functions import AiosFunction

PERIOD = Duration.minutes(5)


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
        alarm_email: str | None,
        removal_policy: RemovalPolicy,
        state_machine: sfn.StateMachine,
        dead_letter_queue: sqs.IQueue,
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
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
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
            alarm(
                "DeadLetters",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "Actions are in the dead-letter queue",
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
