"""Trust boundaries of ARCHITECTURE.md, proven on the synthesized IAM policies."""

from __future__ import annotations

import pytest
from infra_iam import actions, as_list, grants, refers_to, resources_for
from infra_synth import Synth

pytestmark = pytest.mark.slow  # uses the synthesized app

SEND_TASK = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
LEDGER_WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}


def role_of(synth: Synth, name: str) -> str:
    return synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]


def machine(synth: Synth) -> tuple[str, dict]:
    return next(iter(synth.of_type("AWS::StepFunctions::StateMachine").items()))


def ids(synth: Synth) -> dict[str, str]:
    def table(pk: str) -> str:
        return next(
            k
            for k, v in synth.of_type("AWS::DynamoDB::Table").items()
            if v["Properties"]["KeySchema"][0]["AttributeName"] == pk
        )

    queues = synth.of_type("AWS::SQS::Queue")
    return {
        "ledger": table("pk"),
        "idempotency": table("id"),
        **{
            f"{purpose}_key": next(
                k
                for k, v in synth.of_type("AWS::KMS::Key").items()
                if v["Properties"].get("KeySpec") == "ECC_NIST_P256" and f"{name}Key" in k
            )
            for purpose, name in (("plan", "Plan"), ("policy", "Policy"), ("human", "Human"))
        },
        "queue": next(k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]),
        "machine": machine(synth)[0],
        "http_keys": next(iter(synth.of_type("AWS::SecretsManager::Secret"))),
    }


def on(synth: Synth, role: str, action: str, target: str) -> bool:
    """Whether ``role`` may do ``action`` on resource ``target`` (logical id)."""
    return any(refers_to(r, target) for r in resources_for(synth.resources, role, action))


def touches(synth: Synth, role: str, target: str) -> set[str]:
    """Every action ``role`` has on resource ``target``."""
    return {g.action for g in grants(synth.resources, role) if refers_to(g.resource, target)}


def test_decide_signs_plans_but_cannot_answer_tasks_or_execute(synth: Synth) -> None:
    r, i = role_of(synth, "decide"), ids(synth)
    assert on(synth, r, "kms:Sign", i["plan_key"])
    granted = actions(synth.resources, r)
    assert not granted & SEND_TASK
    assert not any(a.startswith(("sqs:", "states:", "lambda:")) for a in granted)
    assert touches(synth, r, i["idempotency"]) == set()
    assert touches(synth, r, i["ledger"]) == {"dynamodb:GetItem", "dynamodb:Query"} | LEDGER_WRITE


def test_each_signing_key_signs_only_for_its_purposes_functions(synth: Synth) -> None:
    """Plans and policy attestations: decide. Human attestations: the approvals function (a
    decision by link or Slack) and the console (a decision there, an operator's act-by-hand).
    No other role may Sign with any of them, so no plane can make another's attestation."""
    i = ids(synth)
    roles = [k for k, v in synth.of_type("AWS::IAM::Role").items()]
    signers = {
        purpose: {r for r in roles if on(synth, r, "kms:Sign", i[f"{purpose}_key"])}
        for purpose in ("plan", "policy", "human")
    }
    decide = role_of(synth, "decide")
    assert signers["plan"] == signers["policy"] == {decide}
    assert signers["human"] == {role_of(synth, "approvals"), role_of(synth, "console")}
    for purpose in ("plan", "policy", "human"):
        key = synth.resources[i[f"{purpose}_key"]]["Properties"]
        assert key["KeyUsage"] == "SIGN_VERIFY" and key["KeySpec"] == "ECC_NIST_P256"


def test_execute_verifies_but_cannot_sign_and_answers_its_task(synth: Synth) -> None:
    r, i = role_of(synth, "execute"), ids(synth)
    for purpose in ("plan", "policy", "human"):  # public keys, fetched once per cold start
        assert touches(synth, r, i[f"{purpose}_key"]) == {"kms:GetPublicKey"}
    assert "kms:Sign" not in actions(synth.resources, r)
    for action in SEND_TASK:
        assert on(synth, r, action, i["machine"])
    assert not on(synth, r, "states:StartExecution", i["machine"])
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= touches(synth, r, i["queue"])
    assert "sqs:SendMessage" not in actions(synth.resources, r)
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= touches(synth, r, i["idempotency"])
    assert touches(synth, r, i["ledger"]) == {"dynamodb:GetItem", "dynamodb:Query"} | LEDGER_WRITE
    assert "secretsmanager:GetSecretValue" in touches(synth, r, i["http_keys"])


def test_only_execute_reads_connector_secrets(synth: Synth) -> None:
    for name in ("api", "decide", "finalize"):
        granted = actions(synth.resources, role_of(synth, name))
        assert not any(a.startswith("secretsmanager:") for a in granted), name


def test_api_starts_and_reads_cases_but_cannot_sign_execute_or_answer(synth: Synth) -> None:
    r, i = role_of(synth, "api"), ids(synth)
    assert on(synth, r, "states:StartExecution", i["machine"])
    assert any(
        refers_to(resource, i["machine"])
        for resource in resources_for(synth.resources, r, "states:DescribeExecution")
    )
    granted = actions(synth.resources, r)
    assert not any(a.startswith(("kms:", "sqs:", "lambda:")) for a in granted)
    assert not granted & SEND_TASK
    # It writes only the RECEIVED case record and its first audit event: no delete, no batch.
    assert (
        touches(synth, r, i["ledger"])
        == {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
        }
        | LEDGER_WRITE
    )
    assert touches(synth, r, i["idempotency"]) == set()  # the case record is the idempotency record


def test_finalize_only_records_outcomes(synth: Synth) -> None:
    r, i = role_of(synth, "finalize"), ids(synth)
    assert actions(synth.resources, r) == {"dynamodb:GetItem", "dynamodb:Query"} | (
        LEDGER_WRITE | XRAY | LOGS
    )
    assert touches(synth, r, i["ledger"]) == {"dynamodb:GetItem", "dynamodb:Query"} | LEDGER_WRITE


def test_case_machine_invokes_only_decide_and_finalize_and_sends_only_to_the_queue(
    synth: Synth,
) -> None:
    _, props = machine(synth)
    role = props["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked = resources_for(synth.resources, role, "lambda:InvokeFunction")
    # memory_engine=none (cdk.json): the flow has no memory steps, so no memory invoke either
    assert sorted(r["Fn::GetAtt"][0] for r in invoked) == sorted(
        synth.function(n)[0] for n in ("decide", "finalize", "approval_request", "handoff")
    )
    sent = resources_for(synth.resources, role, "sqs:SendMessage")
    assert sent == [{"Fn::GetAtt": [ids(synth)["queue"], "Arn"]}]
    granted = actions(synth.resources, role)
    assert not any(a.startswith(("dynamodb:", "kms:", "states:")) for a in granted)


@pytest.mark.parametrize("name", ["api", "decide", "execute", "finalize"])
def test_function_roles_use_no_managed_policies_and_log_only_to_their_group(
    synth: Synth, name: str
) -> None:
    role = role_of(synth, name)
    assert "ManagedPolicyArns" not in synth.resources[role]["Properties"]
    log_group = synth.function(name)[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    for action in LOGS:
        assert resources_for(synth.resources, role, action) == [{"Fn::GetAtt": [log_group, "Arn"]}]


# Actions AWS offers no resource-level permissions for; they are the only ones allowed on "*".
UNSCOPED = XRAY | {
    "dynamodb:ListStreams",  # Lambda's stream event source needs it; it takes no resource
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
}


def _allow_statements(synth: Synth):
    for logical_id, resource in synth.resources.items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Policy":
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                if statement["Effect"] == "Allow":
                    yield logical_id, statement


def test_no_identity_policy_allows_a_wildcard_action(synth: Synth) -> None:
    offenders = [
        (logical_id, action)
        for logical_id, statement in _allow_statements(synth)
        for action in as_list(statement["Action"])
        if "*" in action
    ]
    assert offenders == []


def test_only_unscopable_actions_are_allowed_on_every_resource(synth: Synth) -> None:
    offenders = [
        (logical_id, action)
        for logical_id, statement in _allow_statements(synth)
        if "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
        if action not in UNSCOPED
    ]
    assert offenders == []


def test_key_policies_grant_kms_wildcard_only_to_the_account_root(synth: Synth) -> None:
    # The default key policy delegates to IAM (the account root gets kms:*); any other
    # principal, such as CloudWatch on the alarm topic key, gets named actions.
    for logical_id, key in synth.of_type("AWS::KMS::Key").items():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            if any("*" in action for action in as_list(statement["Action"])):
                principal = statement["Principal"]["AWS"]
                assert ":root" in str(principal), logical_id


def test_only_the_api_gateway_account_role_uses_a_managed_policy(synth: Synth) -> None:
    managed = {
        logical_id: role["Properties"]["ManagedPolicyArns"]
        for logical_id, role in synth.of_type("AWS::IAM::Role").items()
        if role["Properties"].get("ManagedPolicyArns")
    }
    assert len(managed) == 1
    (arns,) = managed.values()
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in str(arns)


def capability_roles(synth: Synth) -> dict[str, dict]:
    return {k: v for k, v in synth.of_type("AWS::IAM::Role").items() if "CapabilityRoles" in k}


def test_each_capability_role_trusts_only_the_execute_role(synth: Synth) -> None:
    roles = capability_roles(synth)
    assert roles, "no capability roles synthesized"
    execute_role = role_of(synth, "execute")
    for logical_id, role in roles.items():
        [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole", logical_id
        assert statement["Principal"] == {"AWS": {"Fn::GetAtt": [execute_role, "Arn"]}}, logical_id


def test_execute_may_assume_only_the_capability_roles(synth: Synth) -> None:
    r = role_of(synth, "execute")
    targets = resources_for(synth.resources, r, "sts:AssumeRole")
    roles = capability_roles(synth)
    assert targets and all(any(refers_to(t, role) for role in roles) for t in targets)
    for name in ("api", "decide", "finalize"):
        assert not any(a.startswith("sts:") for a in actions(synth.resources, role_of(synth, name)))


def test_email_role_may_only_send_email_from_the_sender_identity(synth: Synth) -> None:
    [email] = [k for k in capability_roles(synth) if "EmailSend" in k]
    assert actions(synth.resources, email) == {"ses:SendEmail"}
