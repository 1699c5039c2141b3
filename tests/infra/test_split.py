"""The split layout (`-c execution_account=... -c execution_region=...`): the execution plane is
a stack of its own, and only signed actions (the queue's resource policy) and task answers (the
task answer role) cross between the two accounts. Both templates are cdk-nag and cfn-lint clean."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from conftest import (
    DECISION_ACCOUNT,
    EXECUTION_ACCOUNT,
    HUMAN_KEY,
    PINNED_KEY,
    POLICY_KEY,
    RETIRING_KEY,
)
from infra_iam import actions, as_list, grants, role_statements
from infra_policy import allowed, ledger_write
from infra_synth import Synth, nag_violations

pytestmark = pytest.mark.slow  # uses the synthesized app

ACCEPTED_CFN_LINT_WARNINGS = {"W3005"}


def execution(synth: Synth) -> Synth:
    assert synth.execution is not None
    return synth.execution


def role_of(synth: Synth, name: str) -> str:
    return synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]


def text(value: Any) -> str:
    """A CloudFormation expression as one string (Fn::Join parts concatenated, refs named)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(text(p) for p in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value, sort_keys=True)


def functions(synth: Synth) -> set[str]:
    return {
        v["Metadata"]["aios:function"]
        for v in synth.of_type("AWS::Lambda::Function").values()
        if "aios:function" in v.get("Metadata", {})
    }


def test_both_stacks_are_nag_clean(synth_split: Synth) -> None:
    assert nag_violations(synth_split.outdir) == []


@pytest.mark.parametrize("which", ["decision", "execution"])
def test_both_templates_are_cfn_lint_clean(synth_split: Synth, which: str) -> None:
    stack = synth_split if which == "decision" else execution(synth_split)
    matches = lint_file(stack.template_path, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    findings = [(m.rule.severity, m.rule.id, m.message) for m in matches]
    assert [f for f in findings if f[0] == "error"] == []
    assert [
        f for f in findings if f[0] == "warning" and f[1] not in ACCEPTED_CFN_LINT_WARNINGS
    ] == []


def test_the_execution_plane_lives_only_in_the_execution_stack(synth_split: Synth) -> None:
    exe = execution(synth_split)
    assert "execute" not in functions(synth_split)
    # and the audit checkpointer of its own table (its rejections are anchored there)
    assert functions(exe) == {"execute", "audit_checkpoint"}
    assert exe.stack.account == EXECUTION_ACCOUNT and exe.stack.region == "eu-west-1"
    queues = {v["Properties"].get("QueueName") for v in exe.of_type("AWS::SQS::Queue").values()}
    assert queues == {"AiosKit-actions.fifo", "AiosKit-actions-dlq.fifo"}
    decision_queues = synth_split.of_type("AWS::SQS::Queue").values()
    assert not any("actions" in str(q["Properties"].get("QueueName", "")) for q in decision_queues)
    assert not any("CapabilityRoles" in k for k in synth_split.of_type("AWS::IAM::Role"))
    assert any("CapabilityRoles" in k for k in exe.of_type("AWS::IAM::Role"))
    # The execution state (entities, applied records, rejections) and idempotency records.
    keys = sorted(
        v["Properties"]["KeySchema"][0]["AttributeName"]
        for v in exe.of_type("AWS::DynamoDB::Table").values()
    )
    assert keys == ["id", "pk"]
    decision_keys = [
        v["Properties"]["KeySchema"][0]["AttributeName"]
        for v in synth_split.of_type("AWS::DynamoDB::Table").values()
    ]
    assert "id" not in decision_keys  # no idempotency table where nothing executes


def test_only_the_case_machine_role_may_send_to_the_action_queue(synth_split: Synth) -> None:
    exe = execution(synth_split)
    [policy] = [
        v
        for v in exe.of_type("AWS::SQS::QueuePolicy").values()
        if any(
            s.get("Sid") == "CaseMachineSendsActions"
            for s in v["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    allows = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    [statement] = allows
    assert statement["Action"] == "sqs:SendMessage"
    assert text(statement["Principal"]["AWS"]) == f"arn:aws:iam::{DECISION_ACCOUNT}:root"
    assert text(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == (
        f"arn:<AWS::Partition>:iam::{DECISION_ACCOUNT}:role/AiosKit-case-machine"
    )


def test_the_case_machine_sends_to_the_execution_accounts_queue(synth_split: Synth) -> None:
    [(_, machine)] = synth_split.of_type("AWS::StepFunctions::StateMachine").items()
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert synth_split.resources[role]["Properties"]["RoleName"] == "AiosKit-case-machine"
    sent = [
        text(g.resource)
        for g in grants(synth_split.resources, role)
        if g.action == "sqs:SendMessage"
    ]
    assert sent == [f"arn:<AWS::Partition>:sqs:eu-west-1:{EXECUTION_ACCOUNT}:AiosKit-actions.fifo"]
    substitutions = json.dumps(machine["Properties"]["DefinitionSubstitutions"])
    assert f"https://sqs.eu-west-1.<AWS::URLSuffix>/{EXECUTION_ACCOUNT}/AiosKit-actions.fifo" in (
        text(machine["Properties"]["DefinitionSubstitutions"]["ActionQueueUrl"])
    ), substitutions


def test_task_answers_cross_through_a_role_that_only_answers_tasks(synth_split: Synth) -> None:
    [(role_id, role)] = [
        (k, v) for k, v in synth_split.of_type("AWS::IAM::Role").items() if "TaskAnswer" in k
    ]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert text(trust["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{EXECUTION_ACCOUNT}:root"
    answerers = {text(a) for a in as_list(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"])}
    assert answerers == {
        f"arn:<AWS::Partition>:iam::{EXECUTION_ACCOUNT}:role/AiosKit-execute",
        f"arn:<AWS::Partition>:iam::{EXECUTION_ACCOUNT}:role/AiosKit-executor",
    }
    [(machine, _)] = synth_split.of_type("AWS::StepFunctions::StateMachine").items()
    assert {(g.action, json.dumps(g.resource)) for g in grants(synth_split.resources, role_id)} == {
        ("states:SendTaskSuccess", json.dumps({"Ref": machine})),
        ("states:SendTaskFailure", json.dumps({"Ref": machine})),
    }


def test_execute_verifies_with_pinned_keys_and_answers_only_through_the_task_answer_role(
    synth_split: Synth,
) -> None:
    exe = execution(synth_split)
    role = role_of(exe, "execute")
    assert exe.resources[role]["Properties"]["RoleName"] == "AiosKit-execute"
    granted = actions(exe.resources, role)
    assert not any(a.startswith(("kms:", "states:", "bedrock:", "lambda:")) for a in granted)
    assumed = {
        text(g.resource) for g in grants(exe.resources, role) if g.action == "sts:AssumeRole"
    }
    answer_role = f"arn:<AWS::Partition>:iam::{DECISION_ACCOUNT}:role/AiosKit-task-answers"
    assert answer_role in assumed
    capability_roles = {k for k in exe.of_type("AWS::IAM::Role") if "CapabilityRoles" in k}
    assert {a for a in assumed if a != answer_role} == {
        text({"Fn::GetAtt": [k, "Arn"]}) for k in capability_roles
    }
    env = exe.function("execute")[1]["Properties"]["Environment"]["Variables"]
    trusted = json.loads(env["AIOS_TRUSTED_KEYS"])
    assert [k["key_id"] for k in trusted["plan"]] == [PINNED_KEY, RETIRING_KEY]
    assert trusted["plan"][1]["not_after"] == "2026-12-31T00:00:00Z"
    assert [k["key_id"] for k in trusted["policy"]] == [POLICY_KEY]
    assert [k["key_id"] for k in trusted["human"]] == [HUMAN_KEY]
    assert all(k["public_key"] for p in trusted.values() for k in p)  # pinned: no KMS call
    assert env["AIOS_DECISION_LEDGER"] == "false"  # verifies from the message alone
    assert env["AIOS_TASK_ANSWER_REGION"] == "us-east-1"
    assert text(env["AIOS_TASK_ANSWER_ROLE_ARN"]) == answer_role


def test_no_decision_role_reaches_the_execution_accounts_state(synth_split: Synth) -> None:
    """Cross-account access to a DynamoDB table needs a resource policy; the execution state
    tables have none, and no decision-side policy names anything of the execution account but
    the action queue (the case machine's SendMessage)."""
    exe = execution(synth_split)
    for table in exe.of_type("AWS::DynamoDB::Table").values():
        assert "ResourcePolicy" not in table["Properties"]
    crossing = set()
    for role_id in synth_split.of_type("AWS::IAM::Role"):
        for statement in role_statements(synth_split.resources, role_id):
            for resource in as_list(statement.get("Resource", [])):
                if EXECUTION_ACCOUNT in text(resource):
                    crossing |= {(role_id, a) for a in as_list(statement["Action"])}
    [(_, machine)] = synth_split.of_type("AWS::StepFunctions::StateMachine").items()
    assert crossing == {(machine["Properties"]["RoleArn"]["Fn::GetAtt"][0], "sqs:SendMessage")}


def test_execute_alone_writes_the_execution_state(synth_split: Synth) -> None:
    exe = execution(synth_split)
    state = next(
        k
        for k, v in exe.of_type("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "pk"
    )
    for key in ("ENTITY#t/e", "APPLIED#a", "REJECTION#m"):
        request = ledger_write("dynamodb:PutItem", state, key)
        writers = {r for r in exe.of_type("AWS::IAM::Role") if allowed(exe.resources, r, request)}
        executor = next(k for k in exe.of_type("AWS::IAM::Role") if "ExecutorTaskRole" in k)
        assert writers == {role_of(exe, "execute"), executor}, key


def test_the_executor_runs_in_private_subnets_with_only_the_executions_permissions(
    synth_split: Synth,
) -> None:
    exe = execution(synth_split)
    [service] = exe.of_type("AWS::ECS::Service").values()
    network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert all("executor" in s["Ref"].lower() for s in network["Subnets"])
    [task] = exe.of_type("AWS::ECS::TaskDefinition").values()
    [container] = task["Properties"]["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert {"AIOS_ACTION_QUEUE_URL", "AIOS_LEDGER_TABLE", "AIOS_TRUSTED_KEYS"} <= set(env)
    assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    assert exe.resources[role]["Properties"]["RoleName"] == "AiosKit-executor"
    assert actions(exe.resources, role) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "sts:AssumeRole",
    }


def test_the_executor_image_context_holds_the_dockerfile_the_library_and_the_workspace(
    synth_split: Synth,
) -> None:
    contexts = [p for p in synth_split.outdir.glob("asset.*") if (p / "Dockerfile").is_file()]
    assert len(contexts) == 1
    context = contexts[0]
    assert (context / "aios" / "executor" / "__main__.py").is_file()
    assert (context / "aios" / "execution" / "verify.py").is_file()
    assert (context / "user" / "processes" / "ticket-triage" / "process.json").is_file()
    assert "aios.executor" in (context / "Dockerfile").read_text()


def test_the_one_stack_layout_stays_one_stack(synth: Synth) -> None:
    assert synth.execution is None
    assert "execute" in functions(synth)
