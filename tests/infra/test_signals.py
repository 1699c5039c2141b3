"""The kit's own signals on the synthesized template: an alarm per signal with its threshold
from context, the ledger's stream and case index, the event bus and webhook wiring, and the
trust boundaries of the functions that publish, deliver, reconcile and measure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_iam import actions, refers_to, resources_for, role_statements
from infra_synth import Synth

from stacks.config import ALARM_THRESHOLDS
from stacks.observability import SIGNALS

pytestmark = pytest.mark.slow  # uses the synthesized app

UNITS = {"COUNT": "Count", "NONE": "None"}  # CDK enum -> CloudWatch unit
PERIODS = {"5m": 300, "1h": 3600, "1d": 86400, "kpis": 3600}


def role_of(synth: Synth, name: str) -> str:
    return str(synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def signal_alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AIOS"
    }


@pytest.mark.parametrize("variant", [False, True])
def test_each_kit_signal_has_an_alarm_with_its_threshold_from_context(
    synth: Synth, synth_variant: Synth, variant: bool
) -> None:
    s = synth_variant if variant else synth
    thresholds = {
        **ALARM_THRESHOLDS,
        **({"handoff_rate": 0.4, "action_retries": 3} if variant else {}),
    }
    alarms = signal_alarms(s)
    # memory_reconciler is deployed only with a vector engine (tests/infra/test_memory.py).
    expected = [sig for sig in SIGNALS if sig.function != "memory_reconciler"]
    assert set(alarms) == {sig.metric for sig in expected}
    topic_id = next(iter(s.of_type("AWS::SNS::Topic")))
    for sig in expected:
        alarm = alarms[sig.metric]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": f"aios-{sig.function}"}]
        assert alarm["Threshold"] == thresholds[sig.key], sig.key
        assert alarm["Statistic"] == sig.statistic and alarm["Unit"] == UNITS[sig.unit.value]
        assert alarm["ComparisonOperator"] == (
            "LessThanThreshold" if sig.below else "GreaterThanThreshold"
        )
        period = 600 if variant else 300
        assert alarm["Period"] == PERIODS.get(sig.period, period), sig.metric
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_the_ledger_streams_every_change_and_indexes_case_items(synth: Synth) -> None:
    [ledger] = [
        v
        for v in synth.of_type("AWS::DynamoDB::Table").values()
        if "GlobalSecondaryIndexes" in v["Properties"]
    ]
    props = ledger["Properties"]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    [index] = [i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == "ByProcess"]
    assert index["KeySchema"] == [
        {"AttributeName": "process", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["status", "updated_at"],
    }


def test_the_publisher_gets_only_new_audit_items_and_records_what_it_cannot_put(
    synth: Synth,
) -> None:
    publisher, _ = synth.function("case_events")
    [mapping] = [
        m["Properties"]
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": publisher}
    ]
    [pattern] = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert pattern == {
        "eventName": ["INSERT"],
        "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "AUDIT#"}]}}},
    }
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 10
    failures = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert synth.resources[failures["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"


def test_webhook_rule_sends_subscribed_events_to_a_queue_with_a_dead_letter_queue(
    synth: Synth,
) -> None:
    [bus_id] = synth.of_type("AWS::Events::EventBus")
    [rule] = [
        r["Properties"]
        for r in synth.of_type("AWS::Events::Rule").values()
        if "EventBusName" in r["Properties"]
    ]
    assert refers_to(rule["EventBusName"], bus_id)
    assert rule["EventPattern"] == {"source": ["aios.kit"], "detail": {"webhook": [True]}}
    [target] = rule["Targets"]
    queue = synth.resources[target["Arn"]["Fn::GetAtt"][0]]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    webhooks, _ = synth.function("webhooks")
    assert any(
        m["Properties"]["FunctionName"] == {"Ref": webhooks}
        and refers_to(m["Properties"]["EventSourceArn"], target["Arn"]["Fn::GetAtt"][0])
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
    )


def test_the_reconciler_may_fail_tasks_but_never_answer_them_with_success(synth: Synth) -> None:
    role = role_of(synth, "case_reconciler")
    granted = actions(synth.resources, role)
    machine = next(iter(synth.of_type("AWS::StepFunctions::StateMachine")))
    [failure] = resources_for(synth.resources, role, "states:SendTaskFailure")
    assert refers_to(failure, machine)
    assert not granted & {"states:SendTaskSuccess", "states:SendTaskHeartbeat"}
    assert {"states:StartExecution", "states:DescribeExecution"} <= granted
    assert {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"} <= granted
    # It never puts anything on the action queue, signs, invokes models or reads secrets.
    assert "sqs:SendMessage" not in granted
    assert not any(a.startswith(("kms:", "bedrock:", "secretsmanager:")) for a in granted)


def test_the_publisher_kpi_job_and_webhooks_have_only_their_own_jobs(synth: Synth) -> None:
    [bus_id] = synth.of_type("AWS::Events::EventBus")
    publisher = role_of(synth, "case_events")
    [bus] = resources_for(synth.resources, publisher, "events:PutEvents")
    assert refers_to(bus, bus_id)
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    for name in ("case_events", "kpis"):
        granted = actions(synth.resources, role_of(synth, name))
        assert not granted & writes, name
        assert not any(a.startswith(("states:", "kms:", "secretsmanager:")) for a in granted)
    hooks = actions(synth.resources, role_of(synth, "webhooks"))
    assert not any(
        a.startswith(("dynamodb:Put", "dynamodb:Update", "states:", "kms:")) for a in hooks
    )
    assert "secretsmanager:GetSecretValue" in hooks and "sqs:SendMessage" in hooks
    statements = role_statements(synth.resources, role_of(synth, "webhooks"))
    assert all("events:PutEvents" not in json.dumps(s["Action"]) for s in statements)


def test_the_reconciler_and_the_kpi_job_run_on_their_context_rates(
    synth: Synth, synth_variant: Synth
) -> None:
    def rate(s: Synth, name: str) -> str:
        function_id, _ = s.function(name)
        [rule] = [
            r["Properties"]
            for r in s.of_type("AWS::Events::Rule").values()
            if any(refers_to(t["Arn"], function_id) for t in r["Properties"].get("Targets", []))
        ]
        return str(rule["ScheduleExpression"])

    assert (rate(synth, "case_reconciler"), rate(synth, "kpis")) == (
        "rate(5 minutes)",
        "rate(1 hour)",
    )
    assert rate(synth_variant, "case_reconciler") == "rate(10 minutes)"


def test_only_the_api_the_reconciler_and_the_kpi_job_may_query_the_case_index(
    synth: Synth,
) -> None:
    readers = {
        role["Ref"]
        for r in synth.of_type("AWS::IAM::Policy").values()
        if "/index/ByProcess" in json.dumps(r)
        for role in r["Properties"]["Roles"]
    }
    assert readers == {role_of(synth, n) for n in ("api", "case_reconciler", "kpis")}
