"""Runtime configuration in the template: the processes as an AppConfig hosted configuration
with a JSON Schema validator, a linear rollout that alarms roll back, and readers that may read
the one profile in the one environment, nothing else of AppConfig."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_iam import actions, grants, refers_to
from infra_synth import Synth

pytestmark = pytest.mark.slow

READERS = {
    "api", "decide", "execute", "approval_request", "approvals", "approval_reminders",
    "handoff", "console", "case_events", "webhooks", "case_reconciler", "kpis",
}  # fmt: skip
ROLLBACK_ALARMS = ("CasesFailed", "ApiErrors", "DecideErrors", "ExecuteErrors")


def _one(synth: Synth, type_: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = synth.of_type(type_).items()
    return logical_id, resource["Properties"]


def test_the_workspace_processes_are_one_validated_hosted_configuration(synth: Synth) -> None:
    from aios.control.config import build_document

    _, app = _one(synth, "AWS::AppConfig::Application")
    assert app["Name"] == "AiosKit-processes"
    profile_id, profile = _one(synth, "AWS::AppConfig::ConfigurationProfile")
    assert (profile["Name"], profile["LocationUri"], profile["Type"]) == (
        "processes",
        "hosted",
        "AWS.Freeform",
    )
    [validator] = profile["Validators"]
    schema = json.loads(validator["Content"])
    assert validator["Type"] == "JSON_SCHEMA" and len(validator["Content"]) <= 32768
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    _, version = _one(synth, "AWS::AppConfig::HostedConfigurationVersion")
    assert refers_to(version["ConfigurationProfileId"], profile_id)
    assert version["ContentType"] == "application/json"
    assert json.loads(version["Content"]) == build_document()


def test_a_linear_rollout_is_rolled_back_by_the_case_and_function_alarms(synth: Synth) -> None:
    strategy_id, strategy = _one(synth, "AWS::AppConfig::DeploymentStrategy")
    assert (strategy["GrowthType"], strategy["GrowthFactor"]) == ("LINEAR", 50)
    assert (strategy["DeploymentDurationInMinutes"], strategy["FinalBakeTimeInMinutes"]) == (2, 5)
    env_id, env = _one(synth, "AWS::AppConfig::Environment")
    alarms = {
        logical_id
        for logical_id in synth.of_type("AWS::CloudWatch::Alarm")
        if any(logical_id.startswith(f"Observability{name}") for name in ROLLBACK_ALARMS)
    }
    assert len(alarms) == len(ROLLBACK_ALARMS)
    watched = {m["AlarmArn"]["Fn::GetAtt"][0] for m in env["Monitors"]}
    assert watched == alarms
    [role] = {m["AlarmRoleArn"]["Fn::GetAtt"][0] for m in env["Monitors"]}
    assert {(g.action, g.resource["Fn::GetAtt"][0]) for g in grants(synth.resources, role)} == {
        ("cloudwatch:DescribeAlarms", alarm) for alarm in alarms
    }
    _, deployment = _one(synth, "AWS::AppConfig::Deployment")
    assert refers_to(deployment["DeploymentStrategyId"], strategy_id)
    assert refers_to(deployment["EnvironmentId"], env_id)


def test_only_the_spec_readers_may_read_and_only_this_profile(synth: Synth) -> None:
    profile_id, _ = _one(synth, "AWS::AppConfig::ConfigurationProfile")
    env_id, _ = _one(synth, "AWS::AppConfig::Environment")
    for logical_id, fn in synth.of_type("AWS::Lambda::Function").items():
        name = fn.get("Metadata", {}).get("aios:function")
        if name is None:
            continue
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        appconfig = [g for g in grants(synth.resources, role) if g.action.startswith("appconfig:")]
        env = fn["Properties"]["Environment"]["Variables"]
        if name not in READERS:
            assert not appconfig and "AIOS_CONFIG_PROFILE" not in env, name
            continue
        assert {g.action for g in appconfig} == {
            "appconfig:StartConfigurationSession",
            "appconfig:GetLatestConfiguration",
        }, name
        for grant in appconfig:
            assert refers_to(grant.resource, profile_id) and refers_to(grant.resource, env_id)
            assert "*" not in json.dumps(grant.resource), name
        assert (env["AIOS_CONFIG_APPLICATION"], env["AIOS_CONFIG_ENVIRONMENT"]) == (
            "AiosKit-processes",
            "live",
        )
        assert (env["AIOS_CONFIG_PROFILE"], env["AIOS_CONFIG_MAX_AGE_SECONDS"]) == (
            "processes",
            "30",
        )
    roles = {r for r in synth.of_type("AWS::IAM::Role")}
    writers = {
        r
        for r in roles
        if any(
            a.startswith("appconfig:")
            and a not in ("appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration")
            for a in actions(synth.resources, r)
        )
    }
    assert writers == set()  # no function may change the configuration


def test_rollout_options_follow_config(synth_variant: Synth) -> None:
    _, strategy = _one(synth_variant, "AWS::AppConfig::DeploymentStrategy")
    assert (strategy["GrowthFactor"], strategy["FinalBakeTimeInMinutes"]) == (25, 1)
    _, api = synth_variant.function("api")
    assert api["Properties"]["Environment"]["Variables"]["AIOS_CONFIG_MAX_AGE_SECONDS"] == "10"
