"""The task answer role: how an execution plane in another account answers the case machine.

The execute function of the execution stack assumes this role (in the decision account) to
call SendTaskSuccess or SendTaskFailure on the case machine, and nothing else: no heartbeat, no
start, no read of any execution. The trust names the execute role by ARN
(`aws:PrincipalArn`), so no other principal of the execution account can assume it.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.boundary import Boundary

TASK_ANSWERS = ("states:SendTaskSuccess", "states:SendTaskFailure")


class TaskAnswers(Construct):
    """``TaskAnswerRole``: assumable by the execution account's execute role only."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        boundary: Boundary,
        machine: sfn.StateMachine,
        executor: bool = False,
    ) -> None:
        """With ``executor``, the executor's task role (stacks/executor.py) may assume it too."""
        super().__init__(scope, id)
        answerers = [boundary.execute_role_arn]
        if executor:
            answerers.append(boundary.executor_role_arn)
        self.role = iam.Role(
            self,
            "TaskAnswerRole",
            role_name=boundary.task_answer_role_name,
            description="AIOS: the execution plane answers case machine tasks, nothing else",
            assumed_by=iam.AccountPrincipal(boundary.execution_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": answerers}}
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=list(TASK_ANSWERS), resources=[machine.state_machine_arn])
        )
