"""Handoffs: the function a handed-off case waits with, and what operators' moves need."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.approvals import Approvals
from stacks.config import AiosConfig
from stacks.functions import LEDGER_READ, LEDGER_WRITE, AiosFunction
from stacks.ledger import Ledger


class Handoffs(Construct):
    """The `handoff` function, invoked by the case machine while a case waits for a person:
    it keeps the task token on the handoff, notifies the process's handlers (email, Slack, like
    approvals), reminds them when the SLA passes and reads the operator's move from the ledger.

    It may not sign plans or execute actions. It answers only one kind of task: its own wait,
    when a person moved before the token was kept (see `aios.handoffs.wait`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AiosConfig,
        ledger: Ledger,
        approvals: Approvals,
        layers: list[lambda_.ILayerVersion],
    ) -> None:
        super().__init__(scope, id)
        self.ledger = ledger
        self.handoff = AiosFunction(
            self,
            "Handoff",
            name="handoff",
            config=config,
            layers=layers,
            timeout=Duration.seconds(30),
            environment={
                "AIOS_LEDGER_TABLE": ledger.table.table_name,
                "AIOS_APPROVALS_SECRET_ARN": approvals.secret.secret_arn,
                "AIOS_APPROVALS_SENDER": config.approvals_sender,
                "AIOS_SLACK_API_URL": config.slack_api_url,
            },
        )
        ledger.table.grant(self.handoff.role, *LEDGER_READ, *LEDGER_WRITE)
        approvals.grant_notify(self.handoff.role, config)
        self._machine: sfn.IStateMachine | None = None

    @property
    def all(self) -> list[AiosFunction]:
        return [self.handoff]

    def attach(self, machine: sfn.IStateMachine, rest_api: apigw.IRestApi, stage: str) -> None:
        """Notices link to the console on the API; the function may answer the machine's tasks.

        The answer permission is a policy of its own, not the role's default policy: the
        machine invokes this function, and the function must not depend on the machine.
        """
        stack = Stack.of(self)
        url = (
            f"https://{rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{stage}/"
        )
        self.handoff.add_environment("AIOS_PUBLIC_API_URL", url)
        iam.Policy(
            self,
            "AnswerOwnWait",
            roles=[self.handoff.role],
            statements=[
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess"], resources=[machine.state_machine_arn]
                )
            ],
        )
        self._machine = machine

    def grant_operator_moves(self, grantee: iam.IGrantable) -> None:
        """What recording operators' moves needs (the console): read the ledger and list its
        queues, write moves (compare-and-set, with their audit events) and answer the case
        machine's waiting tasks. Nothing to sign plans or execute actions."""
        if self._machine is None:
            raise RuntimeError("attach(machine, ...) before granting operator moves")
        self.ledger.table.grant(grantee, *LEDGER_READ, "dynamodb:BatchGetItem", *LEDGER_WRITE)
        self.ledger.grant_queue_read(grantee)
        self._machine.grant_task_response(grantee)
