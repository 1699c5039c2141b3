"""The CloudFormation resolver and provisioning, on a template shaped like the kit's stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.assembly import AssemblyError, load_stack, provision, resolve_value
from tests.local.conftest import write_function

ASL = {
    "StartAt": "Decide",
    "States": {
        "Decide": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${DecideFunctionArn}", "Payload.$": "$"},
            "Next": "Send",
        },
        "Send": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "${ActionQueueUrl}", "MessageBody.$": "$"},
            "End": True,
        },
    },
}


def stack_template() -> dict[str, Any]:
    asl = json.dumps(ASL)
    head, tail = asl.split("${DecideFunctionArn}")
    return {
        "Parameters": {"BootstrapVersion": {"Type": "String", "Default": "/cdk-bootstrap/v"}},
        "Conditions": {"IsUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
        "Resources": {
            "Ledger": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "sk", "AttributeType": "S"},
                    ],
                    "BillingMode": "PAY_PER_REQUEST",
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                },
            },
            "Dlq": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"FifoQueue": True, "MessageRetentionPeriod": 1209600},
            },
            "ActionQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "FifoQueue": True,
                    "VisibilityTimeout": 180,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                        "maxReceiveCount": 5,
                    },
                },
            },
            "PlanKey": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeySpec": "ECC_NIST_P256",
                    "KeyUsage": "SIGN_VERIFY",
                    "KeyPolicy": {"Statement": []},
                },
            },
            "DecideRole": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Decide": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"aios:function": "decide", "aws:asset:path": "asset.x"},
                "Properties": {
                    "Handler": "app.handler",
                    "Role": {"Fn::GetAtt": ["DecideRole", "Arn"]},
                    "MemorySize": 512,
                    "Timeout": 30,
                    "Environment": {
                        "Variables": {
                            "AIOS_LEDGER_TABLE": {"Ref": "Ledger"},
                            "AIOS_PLAN_KEY_ID": {"Fn::GetAtt": ["PlanKey", "Arn"]},
                            "AIOS_STATE_MACHINE_ARN": {"Ref": "CaseMachine"},
                            "AIOS_HTTP_TARGETS": '{"helpdesk":"https://helpdesk.example.com"}',
                            "REGION_NOTE": {
                                "Fn::If": ["IsUsEast1", {"Fn::Sub": "in ${AWS::Region}"}, "x"]
                            },
                            "DROPPED": {"Ref": "AWS::NoValue"},
                        }
                    },
                },
            },
            "Execute": {
                "Type": "AWS::Lambda::Function",
                "Metadata": {"aios:function": "execute"},
                "Properties": {"Handler": "app.handler"},
            },
            "Helper": {  # a CDK-internal function without aios metadata: not emulated
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "index.handler"},
            },
            "CaseMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineType": "STANDARD",
                    "RoleArn": {"Fn::GetAtt": ["DecideRole", "Arn"]},
                    "DefinitionString": {
                        "Fn::Join": ["", [head, {"Fn::GetAtt": ["Decide", "Arn"]}, tail]]
                    },
                    "DefinitionSubstitutions": {"ActionQueueUrl": {"Ref": "ActionQueue"}},
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["ActionQueue", "Arn"]},
                    "FunctionName": {"Ref": "Execute"},
                    "BatchSize": 10,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                },
            },
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "aios"}},
            "ApiCases": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "PathPart": "cases",
                    "RestApiId": {"Ref": "Api"},
                },
            },
            "ApiCase": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "ParentId": {"Ref": "ApiCases"},
                    "PathPart": "{case_id}",
                    "RestApiId": {"Ref": "Api"},
                },
            },
            "ApiCaseGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "HttpMethod": "GET",
                    "ResourceId": {"Ref": "ApiCase"},
                    "RestApiId": {"Ref": "Api"},
                    "AuthorizationType": "AWS_IAM",
                    "Integration": {
                        "Type": "AWS_PROXY",
                        "IntegrationHttpMethod": "POST",
                        "Uri": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":apigateway:",
                                    {"Ref": "AWS::Region"},
                                    ":lambda:path/2015-03-31/functions/",
                                    {"Fn::GetAtt": ["Decide", "Arn"]},
                                    "/invocations",
                                ],
                            ]
                        },
                    },
                },
            },
            "ApiCasesOptions": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "HttpMethod": "OPTIONS",
                    "ResourceId": {"Ref": "ApiCases"},
                    "Integration": {"Type": "MOCK"},
                },
            },
            "ApiStage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"StageName": "prod", "RestApiId": {"Ref": "Api"}},
            },
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        },
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("decide", "execute"):
        write_function(tmp_path, name, "def handler(event, context):\n    return event\n")
    return tmp_path


def test_intrinsics_resolve_like_cloudformation() -> None:
    template = stack_template()
    value = {
        "join": {"Fn::Join": ["-", ["a", {"Ref": "AWS::AccountId"}]]},
        "sub": {"Fn::Sub": ["${Name}:${AWS::Region}:${!Literal}", {"Name": "n"}]},
        "select": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]},
        "if": {"Fn::If": ["IsUsEast1", "yes", "no"]},
        "param": {"Ref": "BootstrapVersion"},
        "gone": {"Ref": "AWS::NoValue"},
        "list": ["keep", {"Ref": "AWS::NoValue"}],
        "att": {"Fn::GetAtt": "Queue.Arn"},
        "sub_att": {"Fn::Sub": "${Queue.Arn}/x"},
    }
    resolved = resolve_value(
        value,
        {**template, "Resources": {**template["Resources"], "Queue": {"Type": "AWS::SQS::Queue"}}},
        attributes={"Queue": ("https://q", {"Arn": "arn:q"})},
    )
    assert resolved == {
        "join": "a-123456789012",
        "sub": "n:us-east-1:${Literal}",
        "select": "b",
        "if": "yes",
        "param": "/cdk-bootstrap/v",
        "list": ["keep"],
        "att": "arn:q",
        "sub_att": "arn:q/x",
    }


def test_unknown_reference_and_unsupported_intrinsic_fail_loudly() -> None:
    with pytest.raises(AssemblyError, match="unknown resource"):
        resolve_value({"Ref": "Nope"}, stack_template())
    with pytest.raises(AssemblyError, match="not supported"):
        resolve_value({"Fn::ImportValue": "x"}, stack_template())


def test_provision_creates_resources_as_the_template_declares(
    project: Path, aws_clients: Any
) -> None:
    d = provision(stack_template(), "Fixture1", aws_clients, project)

    ddb = aws_clients("dynamodb")
    table = ddb.describe_table(TableName=d.tables["Ledger"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    ttl = ddb.describe_time_to_live(TableName=d.tables["Ledger"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}

    sqs = aws_clients("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=d.queues["ActionQueue"], AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=d.queues["Dlq"], AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["VisibilityTimeout"] == "180"
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 5,
    }
    assert d.queues["ActionQueue"].endswith(".fifo")

    key = aws_clients("kms").describe_key(KeyId=d.keys["PlanKey"])["KeyMetadata"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")

    decide = d.functions["decide"]
    assert decide.arn == "arn:aws:lambda:us-east-1:123456789012:function:decide"
    assert (decide.memory_mb, decide.timeout_s, decide.folder) == (
        512,
        30,
        project / "functions" / "decide",
    )
    assert decide.environment["AIOS_LEDGER_TABLE"] == d.tables["Ledger"]
    assert decide.environment["AIOS_PLAN_KEY_ID"] == d.keys["PlanKey"]
    assert decide.environment["AIOS_STATE_MACHINE_ARN"] == d.state_machines["CaseMachine"]
    assert decide.environment["REGION_NOTE"] == "in us-east-1"
    assert "DROPPED" not in decide.environment
    assert set(d.functions) == {"decide", "execute"}

    sm = aws_clients("stepfunctions").describe_state_machine(
        stateMachineArn=d.state_machines["CaseMachine"]
    )
    definition = json.loads(sm["definition"])
    assert definition["States"]["Decide"]["Parameters"]["FunctionName"] == decide.arn
    assert definition["States"]["Send"]["Parameters"]["QueueUrl"] == d.queues["ActionQueue"]

    [mapping] = d.event_sources
    assert (mapping.function, mapping.batch_size, mapping.report_batch_item_failures) == (
        "execute",
        10,
        True,
    )
    assert mapping.queue_url == d.queues["ActionQueue"]
    assert [(r.method, r.path, r.function) for r in d.routes] == [
        ("GET", "/cases/{case_id}", "decide")
    ]
    assert d.stage == "prod"


def test_missing_handler_file_fails_provisioning(tmp_path: Path, aws_clients: Any) -> None:
    write_function(tmp_path, "execute", "def handler(e, c):\n    return e\n")
    with pytest.raises(AssemblyError, match=r"handler app\.handler not found"):
        provision(stack_template(), "Fixture2", aws_clients, tmp_path)


def test_load_stack_reads_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "S.template.json").write_text(json.dumps(stack_template()))
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "S": {
                        "type": "aws:cloudformation:stack",
                        "properties": {"templateFile": "S.template.json", "stackName": "Aios"},
                    },
                    "Tree": {"type": "cdk:tree"},
                }
            }
        )
    )
    name, template = load_stack(tmp_path)
    assert name == "Aios"
    assert "Ledger" in template["Resources"]
    with pytest.raises(AssemblyError, match=r"manifest\.json missing"):
        load_stack(tmp_path / "nowhere")


def test_routes_need_no_aws_and_api_resources_with_unknown_parents_fail(project: Path) -> None:
    def no_aws(service: str) -> Any:
        raise AssertionError(f"routes asked for a {service} client")

    template = stack_template()
    api_only = {
        lid: res
        for lid, res in template["Resources"].items()
        if res["Type"].startswith("AWS::ApiGateway::") or lid in ("Decide", "DecideRole")
    }
    api_only["Decide"] = {**api_only["Decide"], "Properties": {"Handler": "app.handler"}}
    d = provision({"Resources": api_only}, "Routes", no_aws, project)
    assert [(r.method, r.path, r.function) for r in d.routes] == [
        ("GET", "/cases/{case_id}", "decide")
    ]
    assert (d.api_id, d.stage) == ("api", "prod")

    orphan = {**api_only["ApiCase"], "Properties": {"ParentId": "Elsewhere", "PathPart": "x"}}
    with pytest.raises(AssemblyError, match=r"API resources with unknown parents: \['Orphan'\]"):
        provision({"Resources": {**api_only, "Orphan": orphan}}, "Routes", no_aws, project)
