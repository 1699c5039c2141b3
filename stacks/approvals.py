"""Human approvals: the link/Slack secret, the request and answer functions, their grants."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import AiosConfig
from stacks.functions import LEDGER_READ, LEDGER_WRITE, AiosFunction
from stacks.ledger import Ledger
from stacks.nag import acknowledge

# Public routes of the approvals function: the link token or Slack's signature authenticates.
PUBLIC_ROUTES = (
    ("GET", "/approvals/{approval_id}"),
    ("POST", "/approvals/{approval_id}"),
    ("POST", "/slack/interactions"),
)


class Approvals(Construct):
    """`approval_request` (invoked by the case machine) and `approvals` (the public routes).

    Neither may sign plans or execute actions: both read and write the ledger (approval records,
    the action they gate, audit events); the request function sends email and Slack messages;
    only the answering function may complete the machine's tasks (see `attach_case_machine`).
    """

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
        # link_key is generated; an operator stores the Slack bot token and signing secret.
        self.secret = secretsmanager.Secret(
            self,
            "ApprovalSecrets",
            description="AIOS approvals: link HMAC key, Slack bot token and signing secret",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                # Empty placeholders filled in after deploy; the link key itself is generated.
                secret_string_template='{"slack_bot_token": "", "slack_signing_secret": ""}',  # noqa: S106
                generate_string_key="link_key",
                exclude_punctuation=True,
                password_length=48,
            ),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.secret,
            id="AwsSolutions-SMG4",
            reason="rotating link_key would void every open approval link; Slack secrets rotate in Slack",
        )
        common = {
            "AIOS_LEDGER_TABLE": ledger.table.table_name,
            "AIOS_APPROVALS_SECRET_ARN": self.secret.secret_arn,
        }
        # The request function (first notices, escalations) and the reminders function both
        # read and write approval records and notify approvers by email and Slack.
        self.request = self._notifier(
            "Request", "approval_request", Duration.seconds(30), config, layers, ledger, common
        )
        self.answer = AiosFunction(
            self,
            "Answer",
            name="approvals",
            config=config,
            layers=layers,
            timeout=Duration.seconds(15),
            environment={**common, "AIOS_SLACK_API_URL": config.slack_api_url},
        )
        ledger.table.grant(self.answer.role, *LEDGER_READ, *LEDGER_WRITE)
        self.secret.grant_read(self.answer.role)
        # Reminders: scan pending approvals, claim each reminder (conditional write), notify.
        self.reminders = self._notifier(
            "Reminders", "approval_reminders", Duration.seconds(60), config, layers, ledger, common
        )
        self.reminder_schedule = events.Rule(
            self,
            "ReminderSchedule",
            description="AIOS: remind approvers of approvals pending past the policy's share",
            schedule=events.Schedule.rate(Duration.minutes(config.approval_reminder_minutes)),
            targets=[targets.LambdaFunction(self.reminders.function, retry_attempts=0)],
        )

    def _notifier(
        self,
        id: str,
        name: str,
        timeout: Duration,
        config: AiosConfig,
        layers: list[lambda_.ILayerVersion],
        ledger: Ledger,
        common: dict[str, str],
    ) -> AiosFunction:
        """A function that writes approval records and emails (SES) and messages (Slack)."""
        function = AiosFunction(
            self,
            id,
            name=name,
            config=config,
            layers=layers,
            timeout=timeout,
            environment={
                **common,
                "AIOS_APPROVALS_SENDER": config.approvals_sender,
                "AIOS_SLACK_API_URL": config.slack_api_url,
            },
        )
        ledger.table.grant(function.role, *LEDGER_READ, *LEDGER_WRITE)
        self.grant_notify(function.role, config)
        return function

    def grant_notify(self, role: iam.IRole, config: AiosConfig) -> None:
        """Notify people as approvals do: email from the approvals sender, Slack with the
        secret's bot token (also used by the handoff function)."""
        self.secret.grant_read(role)
        role.add_to_principal_policy(self._send_approval_email(config))

    def _send_approval_email(self, config: AiosConfig) -> iam.PolicyStatement:
        """ses:SendEmail from the approvals sender identity only."""
        stack = Stack.of(self)
        sender_domain = config.approvals_sender.split("@")[-1]
        return iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[
                stack.format_arn(
                    service="ses",
                    resource="identity",
                    resource_name=name,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
                for name in (config.approvals_sender, sender_domain)
            ],
            conditions={"StringEquals": {"ses:FromAddress": config.approvals_sender}},
        )

    @property
    def all(self) -> list[AiosFunction]:
        return [self.request, self.answer, self.reminders]

    def attach(self, machine: sfn.IStateMachine, rest_api: apigw.IRestApi, stage: str) -> None:
        """Links point at the API; only the answering function completes the machine's tasks.

        The URL is built from the API id, not the stage's URL: the stage depends on the
        approvals routes, whose function depends on the machine, which invokes this function.
        """
        stack = Stack.of(self)
        url = (
            f"https://{rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{stage}/"
        )
        self.request.add_environment("AIOS_PUBLIC_API_URL", url)
        self.reminders.add_environment("AIOS_PUBLIC_API_URL", url)
        machine.grant_task_response(self.answer.role)
