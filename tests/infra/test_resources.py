"""Resource settings of the synthesized template: ledger, action bus, key, functions, machine."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_iam import refers_to
from infra_synth import ROOT, Synth

from stacks.case_machine import MEMORY_STEPS, ending_instead_of_succeed, without_states

pytestmark = pytest.mark.slow  # uses the synthesized app

FUNCTIONS = (
    "api", "decide", "execute", "finalize", "approval_request", "approvals", "approval_reminders",
    "handoff", "console", "memory", "case_events", "webhooks", "case_reconciler", "kpis",
    "audit_checkpoint",
)  # fmt: skip


def _table(synth: Synth, partition_key: str) -> tuple[str, dict]:
    tables = [
        (k, v)
        for k, v in synth.of_type("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == partition_key
    ]
    assert len(tables) == 1
    return tables[0]


def test_ledger_table_is_on_demand_with_pitr_sse_and_ttl(synth: Synth) -> None:
    _, table = _table(synth, "pk")
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"
    assert props["DeletionProtectionEnabled"] is True


def test_idempotency_table_matches_powertools_defaults(synth: Synth) -> None:
    _, table = _table(synth, "id")
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_retention_destroy_removes_tables_keys_and_log_groups(synth_variant: Synth) -> None:
    for type_ in (
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::SecretsManager::Secret",
    ):
        for logical_id, resource in synth_variant.of_type(type_).items():
            assert resource["DeletionPolicy"] == "Delete", logical_id
    for resource in synth_variant.of_type("AWS::Logs::LogGroup").values():
        assert resource["Properties"]["RetentionInDays"] == 90


def test_every_log_group_is_retained_with_configured_retention(synth: Synth) -> None:
    log_groups = synth.of_type("AWS::Logs::LogGroup")
    assert len(log_groups) == len(FUNCTIONS) + 2  # the functions, the case machine, API logs
    for resource in log_groups.values():
        assert resource["Properties"]["RetentionInDays"] == 30
        assert resource["DeletionPolicy"] == "Retain"


def _queues(synth: Synth) -> tuple[tuple[str, dict], tuple[str, dict]]:
    """The action queue and its dead-letter queue (the FIFO queues)."""
    queues = {
        k: v
        for k, v in synth.of_type("AWS::SQS::Queue").items()
        if v["Properties"].get("FifoQueue")
    }
    main = [(k, v) for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    dlq = [(k, v) for k, v in queues.items() if "RedrivePolicy" not in v["Properties"]]
    assert len(main) == 1 and len(dlq) == 1
    return main[0], dlq[0]


def test_action_queue_is_fifo_with_fifo_dlq_after_five_receives(synth: Synth) -> None:
    (_, queue), (dlq_id, dlq) = _queues(synth)
    props = queue["Properties"]
    assert props["FifoQueue"] is True
    assert props.get("ContentBasedDeduplication", False) is False
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"]["maxReceiveCount"] >= 5
    assert refers_to(props["RedrivePolicy"]["deadLetterTargetArn"], dlq_id)
    assert dlq["Properties"]["FifoQueue"] is True
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("variant", [False, True])
def test_visibility_timeout_is_six_times_the_execute_timeout(
    synth: Synth, synth_variant: Synth, variant: bool
) -> None:
    s = synth_variant if variant else synth
    (_, queue), _ = _queues(s)
    _, execute = s.function("execute")
    timeout = execute["Properties"]["Timeout"]
    assert timeout == (60 if variant else 30)
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_every_queue_denies_requests_without_tls(synth: Synth) -> None:
    enforced = set()
    for policy in synth.of_type("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                and statement["Principal"] == {"AWS": "*"}
            ):
                for queue in policy["Properties"]["Queues"]:
                    enforced.add(queue["Ref"])
    assert enforced == set(synth.of_type("AWS::SQS::Queue"))


def test_plan_key_is_an_ecc_p256_signing_key(synth: Synth) -> None:
    synth.assertions.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
            "DeletionPolicy": "Retain",
        },
    )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_runs_python313_arm64_traced_with_the_three_layers(
    synth: Synth, name: str
) -> None:
    _, fn = synth.function(name)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Handler"] == "app.handler"
    layers = {layer["Ref"] for layer in props["Layers"]}
    layer_ids = set(synth.of_type("AWS::Lambda::LayerVersion"))
    assert layers == layer_ids and len(layers) == 3  # aios, dependencies, user
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == f"aios-{name}"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "AIOS"
    assert env["LOG_LEVEL"] == "INFO"
    ledger_id, _ = _table(synth, "pk")
    if name != "webhooks":  # it delivers queued events and never reads the ledger
        assert env["AIOS_LEDGER_TABLE"] == {"Ref": ledger_id}


def test_functions_have_their_own_roles_and_log_groups(synth: Synth) -> None:
    roles = {json.dumps(synth.function(n)[1]["Properties"]["Role"]) for n in FUNCTIONS}
    logs = {
        json.dumps(synth.function(n)[1]["Properties"]["LoggingConfig"]["LogGroup"])
        for n in FUNCTIONS
    }
    assert len(roles) == len(logs) == len(FUNCTIONS)


def _files(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_code_is_its_handler_folder(synth: Synth, name: str) -> None:
    _, fn = synth.function(name)
    asset_hash = fn["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    staged = synth.outdir / f"asset.{asset_hash}"
    assert _files(staged) == _files(ROOT / "functions" / name)
    assert "app.py" in _files(staged)


def test_domain_layer_is_the_aios_package(synth: Synth) -> None:
    layer = next(
        v
        for v in synth.of_type("AWS::Lambda::LayerVersion").values()
        if "domain" in v["Properties"]["Description"]
    )
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    staged = synth.outdir / f"asset.{asset_hash}"
    assert (staged / "python" / "aios" / "__init__.py").is_file()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_function_environments_follow_the_runtime_contract(synth: Synth) -> None:
    idempotency_id, _ = _table(synth, "id")
    key_id = next(
        k
        for k, v in synth.of_type("AWS::KMS::Key").items()
        if v["Properties"].get("KeySpec") == "ECC_NIST_P256"
    )
    machine_id = next(iter(synth.of_type("AWS::StepFunctions::StateMachine")))
    env = {n: synth.function(n)[1]["Properties"]["Environment"]["Variables"] for n in FUNCTIONS}

    assert "AIOS_IDEMPOTENCY_TABLE" not in env["api"]
    assert env["api"]["AIOS_STATE_MACHINE_ARN"] == {"Ref": machine_id}

    assert env["decide"]["AIOS_PLAN_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert env["decide"]["AIOS_PLAN_TTL_SECONDS"] == "3600"
    assert env["decide"]["AIOS_MODEL_PROVIDER"] == "offline"
    assert "AIOS_IDEMPOTENCY_TABLE" not in env["decide"]

    assert env["execute"]["AIOS_IDEMPOTENCY_TABLE"] == {"Ref": idempotency_id}
    assert env["execute"]["AIOS_PLAN_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert json.loads(env["execute"]["AIOS_HTTP_TARGETS"]) == {
        "helpdesk": "https://helpdesk.example.com"
    }
    assert 0 < float(env["execute"]["AIOS_HTTP_TIMEOUT_SECONDS"]) < 30
    [secret_id] = [
        k
        for k, v in synth.of_type("AWS::SecretsManager::Secret").items()
        if "GenerateSecretString" not in v["Properties"] and "CapabilityRoles" not in k
    ]
    assert env["execute"]["AIOS_HTTP_SECRET_ARN"] == {"Ref": secret_id}
    assert not any("AIOS_HTTP_SECRET_ARN" in env[n] for n in ("api", "decide", "finalize"))

    assert set(env["finalize"]) == {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "LOG_LEVEL",
        "AIOS_LEDGER_TABLE",
    }


def test_execute_environment_follows_config(synth_variant: Synth) -> None:
    env = synth_variant.function("execute")[1]["Properties"]["Environment"]["Variables"]
    assert json.loads(env["AIOS_HTTP_TARGETS"]) == {"crm": "https://crm.example.com/hook"}


def test_execute_consumes_the_action_queue_with_partial_batch_failures(synth: Synth) -> None:
    execute_id, _ = synth.function("execute")
    (queue_id, _), _ = _queues(synth)
    mappings = [
        m
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": execute_id}
    ]
    assert len(mappings) == 1
    props = mappings[0]["Properties"]
    assert refers_to(props["EventSourceArn"], queue_id)
    assert props["BatchSize"] == 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_case_machine_is_standard_logged_and_traced(synth: Synth) -> None:
    machines = synth.of_type("AWS::StepFunctions::StateMachine")
    assert len(machines) == 1
    props = next(iter(machines.values()))["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    assert len(logging["Destinations"]) == 1


def test_case_machine_substitutions_name_decide_finalize_and_the_queue(synth: Synth) -> None:
    props = next(iter(synth.of_type("AWS::StepFunctions::StateMachine").values()))["Properties"]
    decide_id, _ = synth.function("decide")
    finalize_id, _ = synth.function("finalize")
    (queue_id, _), _ = _queues(synth)
    assert props["DefinitionSubstitutions"] == {
        "DecideFunctionArn": {"Fn::GetAtt": [decide_id, "Arn"]},
        "FinalizeFunctionArn": {"Fn::GetAtt": [finalize_id, "Arn"]},
        "ApprovalRequestFunctionArn": {
            "Fn::GetAtt": [synth.function("approval_request")[0], "Arn"]
        },
        "HandoffFunctionArn": {"Fn::GetAtt": [synth.function("handoff")[0], "Arn"]},
        "ActionQueueUrl": {"Ref": queue_id},
    }  # memory_engine=none (cdk.json): no memory steps, so no memory function to name


def case_machine_definition(synth: Synth) -> tuple[dict[str, Any], dict[str, Any]]:
    props = next(iter(synth.of_type("AWS::StepFunctions::StateMachine").values()))["Properties"]
    if "DefinitionS3Location" in props:
        text = (synth.outdir / f"asset.{props['DefinitionS3Location']['Key']}").read_text()
    else:
        text = props["DefinitionString"]
    return json.loads(text), props


def test_case_machine_definition_is_the_asl_file_with_every_placeholder_substituted(
    synth: Synth,
) -> None:
    """With memory_engine=none the deployed flow is the ASL file without its three memory
    states, every way into them going on to their Next, and a Task or Map going to the Succeed
    state ends instead (one transition less); every placeholder is substituted."""
    deployed, props = case_machine_definition(synth)
    source = json.loads((ROOT / "state_machines" / "case.asl.json").read_text())
    assert deployed == ending_instead_of_succeed(without_states(source, MEMORY_STEPS))
    assert deployed["StartAt"] == "Decide"
    text = json.dumps(deployed)
    assert not any(f'"{name}"' in text for name in MEMORY_STEPS)
    assert deployed["States"]["RecordFailure"] == source["States"]["RecordFailure"]
    assert deployed["States"]["Compensate"]["Next"] == "RecordFailure"
    # The case's SUCCEEDED is recorded on the status change: the Maps end the execution.
    assert deployed["States"]["AutoActions"]["End"] is True
    assert deployed["States"]["Actions"]["End"] is True
    assert "Next" not in deployed["States"]["AutoActions"]
    assert deployed["States"]["ChangeRounds"]["Default"] == "NothingRan"  # results: none ran
    nothing_ran = deployed["States"]["NothingRan"]
    assert nothing_ran.get("End") is True or nothing_ran.get("Next") == "CaseSucceeded"
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(props["DefinitionSubstitutions"])


def test_a_succeeded_execution_of_the_case_machine_is_recorded_by_finalize(
    synth: Synth,
) -> None:
    """No closing Task: one rule on the default bus sends the case machine's SUCCEEDED status
    changes (and nothing else) to finalize, retried for a day; only that rule may invoke it
    this way."""
    [machine] = synth.of_type("AWS::StepFunctions::StateMachine")
    rules = [
        r["Properties"]
        for r in synth.of_type("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    assert len(rules) == 1
    [rule] = rules
    assert "EventBusName" not in rule  # Step Functions sends to the default bus
    assert rule["EventPattern"]["detail-type"] == ["Step Functions Execution Status Change"]
    assert rule["EventPattern"]["detail"] == {
        "status": ["SUCCEEDED"],
        "stateMachineArn": [{"Ref": machine}],
    }
    [target] = rule["Targets"]
    finalize, _ = synth.function("finalize")
    assert target["Arn"] == {"Fn::GetAtt": [finalize, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    permissions = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [finalize, "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]


def test_alarms_cover_cases_dead_letters_functions_and_api(synth: Synth) -> None:
    alarms = [
        a
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] != "AIOS"  # the kit's signals: tests/infra/test_signals.py
    ]
    metrics = sorted((a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms)
    assert metrics == sorted(
        [
            ("AWS/States", "ExecutionsFailed"),
            ("AWS/States", "ExecutionsTimedOut"),
            ("AWS/ApiGateway", "5XXError"),
        ]
        # the action, webhook and case event failure dead-letter queues
        + [("AWS/SQS", "ApproximateNumberOfMessagesVisible")] * 3
        + [("AWS/Lambda", "Errors")] * len(FUNCTIONS)
    )
    topic_id = next(iter(synth.of_type("AWS::SNS::Topic")))
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["Threshold"] == 0
        assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
    synth.assertions.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use_and_enforces_tls(
    synth: Synth,
) -> None:
    topic = next(iter(synth.of_type("AWS::SNS::Topic").values()))["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert any(
        s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        for s in key["KeyPolicy"]["Statement"]
    )
    synth.assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
    synth.assertions.resource_count_is("AWS::SNS::Subscription", 0)


def test_alarm_email_subscribes_to_the_topic(synth_variant: Synth) -> None:
    synth_variant.assertions.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_outputs_name_the_entry_points(synth: Synth) -> None:
    assert set(synth.template["Outputs"]) >= {
        "ApiUrl",
        "StateMachineArn",
        "LedgerTableName",
        "ActionQueueUrl",
        "PlanKeyArn",
    }
