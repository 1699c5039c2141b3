"""The case state machine, deployed from the same ASL file the local emulation executes."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.nag import acknowledge

ROOT = Path(__file__).resolve().parents[1]
CASE_ASL = ROOT / "state_machines" / "case.asl.json"


class CaseMachine(Construct):
    """A STANDARD state machine from ``state_machines/case.asl.json``.

    Its role may invoke its functions (memory, decide, finalize, approval request, handoff) and
    send to the action queue, nothing else. Logs
    are at level ALL without execution data: inputs carry customer content and task tokens
    (a bearer capability to complete a task), and the ledger already records every step.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        decide: lambda_.IFunction,
        finalize: lambda_.IFunction,
        approval_request: lambda_.IFunction,
        handoff: lambda_.IFunction,
        memory: lambda_.IFunction,
        action_queue: sqs.IQueue,
        log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = log_group
        self.state_machine = sfn.StateMachine(
            self,
            "CaseStateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(CASE_ASL)),
            definition_substitutions={
                "DecideFunctionArn": decide.function_arn,
                "FinalizeFunctionArn": finalize.function_arn,
                "ApprovalRequestFunctionArn": approval_request.function_arn,
                "HandoffFunctionArn": handoff.function_arn,
                "MemoryFunctionArn": memory.function_arn,
                "ActionQueueUrl": action_queue.queue_url,
            },
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            tracing_enabled=True,
        )
        # The ASL names unqualified function ARNs, so no version/alias wildcard is needed.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[
                    decide.function_arn,
                    finalize.function_arn,
                    approval_request.function_arn,
                    handoff.function_arn,
                    memory.function_arn,
                ],
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[action_queue.queue_arn])
        )
        acknowledge(
            self.state_machine.role,
            id="AwsSolutions-IAM5[Resource::*]",
            reason=(
                "X-Ray tracing and CloudWatch Logs delivery (logs:*LogDelivery, "
                "DescribeLogGroups, *ResourcePolic*) support no resource-level permissions"
            ),
        )
