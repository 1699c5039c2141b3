"""Creators of the AWS AppConfig resources, through the emulation's AppConfig endpoint (moto
with the stand-in of `local.appconfig` for environments, strategies and deployments).

The references are CloudFormation's: `Ref` of an application, environment, configuration
profile or deployment strategy is its id, of a hosted configuration version its number, of a
deployment its number. A deployment is started (and validated) as CloudFormation would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local.assembly.context import ProvisionContext
from local.assembly.intrinsics import Resolved


def _description(p: Mapping[str, Any]) -> dict[str, str]:
    return {"Description": p["Description"]} if p.get("Description") else {}


def create_application(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    p = ctx.props(resource)
    created = ctx.clients("appconfig").create_application(Name=p["Name"], **_description(p))
    return Resolved(created["Id"], {"ApplicationId": created["Id"]})


def create_environment(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    p = ctx.props(resource)
    created = ctx.clients("appconfig").create_environment(
        ApplicationId=p["ApplicationId"],
        Name=p["Name"],
        Monitors=[
            {k: v for k, v in m.items() if k in ("AlarmArn", "AlarmRoleArn")}
            for m in p.get("Monitors") or []
        ],
        **_description(p),
    )
    return Resolved(created["Id"], {"EnvironmentId": created["Id"]})


def create_configuration_profile(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    p = ctx.props(resource)
    created = ctx.clients("appconfig").create_configuration_profile(
        ApplicationId=p["ApplicationId"],
        Name=p["Name"],
        LocationUri=p.get("LocationUri", "hosted"),
        Type=p.get("Type", "AWS.Freeform"),
        Validators=[
            {"Type": v["Type"], "Content": v["Content"]} for v in p.get("Validators") or []
        ],
        **_description(p),
    )
    return Resolved(created["Id"], {"ConfigurationProfileId": created["Id"]})


def create_hosted_configuration_version(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    p = ctx.props(resource)
    created = ctx.clients("appconfig").create_hosted_configuration_version(
        ApplicationId=p["ApplicationId"],
        ConfigurationProfileId=p["ConfigurationProfileId"],
        Content=str(p["Content"]).encode("utf-8"),
        ContentType=p.get("ContentType", "application/json"),
        **_description(p),
    )
    number = str(created["VersionNumber"])
    return Resolved(number, {"VersionNumber": number})


def create_deployment_strategy(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    p = ctx.props(resource)
    created = ctx.clients("appconfig").create_deployment_strategy(
        Name=p["Name"],
        DeploymentDurationInMinutes=int(p["DeploymentDurationInMinutes"]),
        GrowthFactor=float(p["GrowthFactor"]),
        GrowthType=p.get("GrowthType", "LINEAR"),
        FinalBakeTimeInMinutes=int(p.get("FinalBakeTimeInMinutes", 0)),
        ReplicateTo=p.get("ReplicateTo", "NONE"),
        **_description(p),
    )
    return Resolved(created["Id"], {"Id": created["Id"]})


def create_deployment(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    p = ctx.props(resource)
    started = ctx.clients("appconfig").start_deployment(
        ApplicationId=p["ApplicationId"],
        EnvironmentId=p["EnvironmentId"],
        DeploymentStrategyId=p["DeploymentStrategyId"],
        ConfigurationProfileId=p["ConfigurationProfileId"],
        ConfigurationVersion=str(p["ConfigurationVersion"]),
        **_description(p),
    )
    number = str(started["DeploymentNumber"])
    return Resolved(number, {"DeploymentNumber": number})


CREATORS = {
    "AWS::AppConfig::Application": create_application,
    "AWS::AppConfig::Environment": create_environment,
    "AWS::AppConfig::ConfigurationProfile": create_configuration_profile,
    "AWS::AppConfig::HostedConfigurationVersion": create_hosted_configuration_version,
    "AWS::AppConfig::DeploymentStrategy": create_deployment_strategy,
    "AWS::AppConfig::Deployment": create_deployment,
}
