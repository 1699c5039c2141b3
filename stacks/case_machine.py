"""The case state machine, deployed from the same ASL file the local emulation executes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.nag import acknowledge

ROOT = Path(__file__).resolve().parents[1]
CASE_ASL = ROOT / "state_machines" / "case.asl.json"
MEMORY_STEPS = ("Recall", "LearnSuccess", "LearnFailure")


def without_states(definition: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The definition with the top-level states `names` left out: whatever went to one of them
    (StartAt, Next, a Choice's Default or rule, a Catch) goes to its Next instead. Only states
    with one way out (a Next) can be left out."""
    states = definition["States"]
    skip = {name: states[name]["Next"] for name in names}

    def to(target: str) -> str:
        while target in skip:
            target = skip[target]
        return target

    def rewire(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: to(v)
                if k in ("Next", "Default", "StartAt") and isinstance(v, str)
                else rewire(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rewire(v) for v in node]
        return node

    kept = {name: state for name, state in states.items() if name not in skip}
    return {**definition, "StartAt": to(definition["StartAt"]), "States": rewire(kept)}


def ending_instead_of_succeed(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition where a Task, Map or Pass whose Next is a Succeed state ends instead
    (`End: true`): the same output, one state transition less. The Succeed state stays for
    the Catches and Choices that go to it; a state machine without it is returned as it is."""

    def fold(states: dict[str, Any]) -> dict[str, Any]:
        done = {name for name, state in states.items() if state["Type"] == "Succeed"}
        folded = {}
        for name, state in states.items():
            state = dict(state)
            for key in ("Iterator", "ItemProcessor"):
                if key in state:
                    state[key] = {**state[key], "States": fold(state[key]["States"])}
            if state["Type"] in ("Task", "Map", "Pass") and state.get("Next") in done:
                del state["Next"]
                state["End"] = True
            folded[name] = state
        return folded

    return {**definition, "States": fold(definition["States"])}


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
        role_name: str | None = None,
        memory_steps: bool = True,
    ) -> None:
        """``role_name`` names the machine's role when the action queue is another account's,
        whose policy lets that role (by name) send."""
        super().__init__(scope, id)
        self.log_group = log_group
        role = (
            iam.Role(
                self,
                "Role",
                assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                role_name=role_name,
                description="AIOS case machine",
            )
            if role_name
            else None
        )
        definition = json.loads(CASE_ASL.read_text(encoding="utf-8"))
        if not memory_steps:
            # memory_engine=none: Recall and Learn would answer empty for two state
            # transitions and two invocations per case; the flow goes without them.
            definition = without_states(definition, MEMORY_STEPS)
        definition = ending_instead_of_succeed(definition)
        functions = [
            decide,
            finalize,
            approval_request,
            handoff,
            *([memory] if memory_steps else []),
        ]
        self.state_machine = sfn.StateMachine(
            self,
            "CaseStateMachine",
            role=role,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition, indent=1)),
            definition_substitutions={
                "DecideFunctionArn": decide.function_arn,
                "FinalizeFunctionArn": finalize.function_arn,
                "ApprovalRequestFunctionArn": approval_request.function_arn,
                "HandoffFunctionArn": handoff.function_arn,
                **({"MemoryFunctionArn": memory.function_arn} if memory_steps else {}),
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
                resources=[f.function_arn for f in functions],
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[action_queue.queue_arn])
        )
        # The case's SUCCEEDED is recorded on the execution's own status change, not by a
        # closing Task (a state transition per case): EventBridge delivers Step Functions'
        # events at least once, retrying for a day; finalize records the outcome once, and
        # the reconciler repairs a case whose execution succeeded while it still runs.
        self.success_rule = events.Rule(
            self,
            "CaseSucceededRule",
            description="Record a case SUCCEEDED when its execution succeeds",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["SUCCEEDED"],
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    finalize,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
        acknowledge(
            self.state_machine.role,
            id="AwsSolutions-IAM5[Resource::*]",
            reason=(
                "X-Ray tracing and CloudWatch Logs delivery (logs:*LogDelivery, "
                "DescribeLogGroups, *ResourcePolic*) support no resource-level permissions"
            ),
        )
