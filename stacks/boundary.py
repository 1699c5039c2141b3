"""The names both sides of a split deployment agree on, so neither needs the other's outputs.

The decision and execution stacks may live in different accounts and regions, where CloudFormation
cannot pass references. Each resource that the other side's policy names therefore has a physical
name derived from the app's `stack_name`, and its ARN from the account and region it is deployed
in: the action queue (the decision side sends to it), the execute role (the decision side's task
answer role trusts it), the case machine's role (the queue's policy lets it send) and the task
answer role (execute assumes it).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws

ROLE_NAME_PREFIX_CHARS = 40  # IAM role names hold 64 characters


@dataclass(frozen=True)
class Boundary:
    """Where each side runs, and the names that cross between them."""

    stack_name: str
    decision_account: str
    decision_region: str
    execution_account: str
    execution_region: str

    @property
    def execution_stack_name(self) -> str:
        return f"{self.stack_name}-Execution"

    def _role_name(self, suffix: str) -> str:
        return f"{self.stack_name[:ROLE_NAME_PREFIX_CHARS]}-{suffix}"

    @property
    def action_queue_name(self) -> str:
        return f"{self.stack_name[:60]}-actions.fifo"

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.stack_name[:60]}-actions-dlq.fifo"

    @property
    def execute_role_name(self) -> str:
        return self._role_name("execute")

    @property
    def executor_role_name(self) -> str:
        return self._role_name("executor")

    @property
    def case_machine_role_name(self) -> str:
        return self._role_name("case-machine")

    @property
    def task_answer_role_name(self) -> str:
        return self._role_name("task-answers")

    @property
    def action_queue_arn(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:sqs:{self.execution_region}:{self.execution_account}:"
            f"{self.action_queue_name}"
        )

    @property
    def action_queue_url(self) -> str:
        return (
            f"https://sqs.{self.execution_region}.{Aws.URL_SUFFIX}/{self.execution_account}/"
            f"{self.action_queue_name}"
        )

    def _role_arn(self, account: str, name: str) -> str:
        return f"arn:{Aws.PARTITION}:iam::{account}:role/{name}"

    @property
    def execute_role_arn(self) -> str:
        return self._role_arn(self.execution_account, self.execute_role_name)

    @property
    def executor_role_arn(self) -> str:
        return self._role_arn(self.execution_account, self.executor_role_name)

    @property
    def case_machine_role_arn(self) -> str:
        return self._role_arn(self.decision_account, self.case_machine_role_name)

    @property
    def task_answer_role_arn(self) -> str:
        return self._role_arn(self.decision_account, self.task_answer_role_name)
