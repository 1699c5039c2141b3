"""Stand a stack template up in the emulated AWS and derive the specs of what runs locally.

Resources are created on first reference, so the template's own dependency order is followed
without a separate graph walk. Types with a creator (`CREATORS`) are created or named; every
other type (IAM, logs, alarms, API resources...) resolves to a placeholder name and ARN and is
never created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local.assembly.appconfig import CREATORS as APPCONFIG_CREATORS
from local.assembly.context import ProvisionContext
from local.assembly.event_sources import (
    functions_by_physical_name,
    sqs_event_sources,
    stream_event_sources,
)
from local.assembly.functions import create_function, function_specs
from local.assembly.intrinsics import DEFAULT_ACCOUNT, DEFAULT_REGION, Resolved, placeholder
from local.assembly.resources import CREATORS as AWS_CREATORS
from local.assembly.resources import Creator
from local.assembly.routes import (
    create_authorizer,
    create_gateway_response,
    create_rest_api,
    create_stage,
    routes,
)
from local.assembly.specs import Deployment

CREATORS: Mapping[str, Creator] = {
    **AWS_CREATORS,
    **APPCONFIG_CREATORS,
    "AWS::Lambda::Function": create_function,
    "AWS::ApiGateway::RestApi": create_rest_api,
    "AWS::ApiGateway::Stage": create_stage,
    "AWS::ApiGateway::Authorizer": create_authorizer,
    "AWS::ApiGateway::GatewayResponse": create_gateway_response,
}
"""CloudFormation type -> its creator; the types the emulation creates or names."""


def _create(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    creator = CREATORS.get(resource.get("Type", ""))
    if creator is None:
        return placeholder(logical_id, resource, ctx.region, ctx.account)
    return creator(ctx, logical_id, resource)


def provision(
    template: Mapping[str, Any],
    stack_name: str,
    clients: Callable[[str], Any],
    project_root: Path,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    assets: Mapping[str, Path] | None = None,
) -> Deployment:
    """Create the stack's emulated resources and return the specs of the rest.

    `clients(service)` returns a boto3 client for the emulated endpoint; `assets` maps the
    template's asset object keys to files (`asset_files(cdk_out)`). Creation is not
    idempotent: provision a template once per emulated AWS.
    """
    ctx = ProvisionContext(
        template, stack_name, clients, project_root, region, account, assets or {}, _create
    )
    resources: Mapping[str, Any] = template.get("Resources", {})
    for logical_id, resource in resources.items():
        if resource.get("Type") in CREATORS:
            ctx.resolver.resource(logical_id)
    deployment = ctx.deployment
    deployment.functions = function_specs(ctx, resources)
    by_physical = functions_by_physical_name(deployment.functions)
    deployment.event_sources = sqs_event_sources(ctx, resources, by_physical)
    deployment.stream_sources = stream_event_sources(ctx, resources, by_physical)
    deployment.routes = routes(ctx, resources, deployment.functions)
    return deployment
