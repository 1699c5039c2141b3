"""Handoffs on the synthesized template: the handoff function's narrow role, the case
machine's wait, the operator-queue index, and what `grant_operator_moves` gives the console."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk import aws_iam as iam
from infra_iam import actions, as_list, grants, refers_to, resources_for, role_statements
from infra_synth import SKIP_BUNDLING, Synth

from stacks.application import build_app, cdk_json_context

pytestmark = pytest.mark.slow


def role_of(synth: Synth, name: str) -> str:
    return str(synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def ids(synth: Synth) -> tuple[str, str]:
    ledger = next(
        k
        for k, v in synth.of_type("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "pk"
    )
    return ledger, next(iter(synth.of_type("AWS::StepFunctions::StateMachine")))


def test_the_handoff_role_notifies_and_answers_only_its_own_wait(synth: Synth) -> None:
    role = role_of(synth, "handoff")
    ledger, machine = ids(synth)
    granted = actions(synth.resources, role)
    assert not any(a.startswith(("kms:", "sqs:", "bedrock:", "lambda:", "sts:")) for a in granted)
    assert {a for a in granted if a.startswith("states:")} == {"states:SendTaskSuccess"}
    [resource] = resources_for(synth.resources, role, "states:SendTaskSuccess")
    assert refers_to(resource, machine)
    on_ledger = {g.action for g in grants(synth.resources, role) if refers_to(g.resource, ledger)}
    assert on_ledger == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    }
    [email] = [
        s for s in role_statements(synth.resources, role) if "ses:SendEmail" in as_list(s["Action"])
    ]
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": "approvals@example.com"}}


def test_the_case_machine_waits_for_a_person_with_the_handoff_function(synth: Synth) -> None:
    _, machine = ids(synth)
    substitutions = synth.resources[machine]["Properties"]["DefinitionSubstitutions"]
    handoff_id, _ = synth.function("handoff")
    assert refers_to(substitutions["HandoffFunctionArn"], handoff_id)
    asl = json.loads((Path(__file__).parents[2] / "state_machines" / "case.asl.json").read_text())
    wait = asl["States"]["AwaitOperator"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["TimeoutSecondsPath"] == "$.decision.handoff.sla_seconds"
    assert asl["States"]["RecordHandoff"]["Next"] == "AwaitOperator"


def test_the_queue_index_is_sparse_keys_only_and_only_the_console_may_read_it(
    synth: Synth,
) -> None:
    ledger, _ = ids(synth)
    [index] = [
        i
        for i in synth.resources[ledger]["Properties"]["GlobalSecondaryIndexes"]
        if i["IndexName"] == "Queues"
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["queue", "queued_at"]
    # CDK does not know of the index, so table grants stay on the table: only the console's
    # role, through grant_operator_moves, gets the index.
    console = role_of(synth, "console")
    readers = [
        r for r in synth.resources.values()
        if r["Type"] == "AWS::IAM::Policy" and "/index/Queues" in json.dumps(r)
    ]  # fmt: skip
    assert readers and all(r["Properties"]["Roles"] == [{"Ref": console}] for r in readers)


def test_operator_moves_grant_reading_the_queues_and_answering_tasks_but_no_signing(
    tmp_path: Path,
) -> None:
    app = App(outdir=str(tmp_path), context={**cdk_json_context(), **SKIP_BUNDLING})
    stack = build_app(app)
    console = iam.Role(
        stack, "ConsoleProbe", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    stack.handoffs.grant_operator_moves(console)
    template = json.loads(
        (Path(app.synth().directory) / f"{stack.stack_name}.template.json").read_text()
    )
    resources = template["Resources"]
    role = stack.get_logical_id(console.node.default_child)  # type: ignore[arg-type]
    granted = actions(resources, role)
    assert {"states:SendTaskSuccess", "states:SendTaskFailure", "dynamodb:Query"} <= granted
    assert {"dynamodb:BatchGetItem", "dynamodb:UpdateItem"} <= granted
    assert not any(a.startswith(("kms:", "sqs:", "lambda:", "bedrock:")) for a in granted)
    queries = resources_for(resources, role, "dynamodb:Query")
    assert any("/index/Queues" in json.dumps(r) for r in queries)
