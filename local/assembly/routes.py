"""REST API routes for the local API server: path template and method -> emulated function.

The REST API and its stage are not created in the emulated AWS: the first of each names the
deployment's API id and stage. Gateway responses are recorded by type (the API server answers
an authorizer's refusal with the UNAUTHORIZED one). A COGNITO_USER_POOLS authorizer is recorded as a spec (its user
pools and identity-source header) that the API server enforces on the methods naming it; any
other authorizer type is an `AssemblyError` (the emulation would not enforce it).

Routes come from AWS::ApiGateway::Method resources with an AWS_PROXY integration whose URI
names exactly one emulated function; a proxy method naming none or several, or an API
resource whose parent never resolves, is an `AssemblyError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from local.assembly.context import ProvisionContext
from local.assembly.errors import AssemblyError
from local.assembly.intrinsics import Resolved, referenced_ids
from local.assembly.specs import CognitoAuthorizerSpec, FunctionSpec, GatewayResponseSpec, Route

_ROOT_SUFFIX = "-root"  # the RootResourceId of every emulated REST API ends so
_HEADER_SOURCE = "method.request.header."


def create_rest_api(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::ApiGateway::RestApi: an id derived from the logical id, and its root resource id."""
    api_id = re.sub(r"[^a-z0-9]", "", logical_id.lower())[:10] or "local"
    ctx.deployment.api_id = ctx.deployment.api_id or api_id
    return Resolved(api_id, {"RootResourceId": f"{api_id}{_ROOT_SUFFIX}"})


def create_stage(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::ApiGateway::Stage: its name."""
    props = resource.get("Properties", {})
    name = str(ctx.resolver.resolve(props.get("StageName", logical_id)))
    ctx.deployment.stage = ctx.deployment.stage or name
    return Resolved(name, {})


def create_authorizer(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::ApiGateway::Authorizer (COGNITO_USER_POOLS with a header identity source)."""
    p = ctx.props(resource)
    source = str(p.get("IdentitySource") or "method.request.header.Authorization")
    if p.get("Type") != "COGNITO_USER_POOLS" or not source.startswith(_HEADER_SOURCE):
        raise AssemblyError(f"{logical_id}: only Cognito authorizers reading a header emulate")
    pools = tuple(str(arn).rsplit("/", 1)[-1] for arn in p.get("ProviderARNs") or ())
    authorizer_id = re.sub(r"[^a-z0-9]", "", logical_id.lower())[:10]
    ctx.deployment.authorizers[authorizer_id] = CognitoAuthorizerSpec(
        authorizer_id=authorizer_id, user_pools=pools, header=source[len(_HEADER_SOURCE) :]
    )
    return Resolved(authorizer_id, {"AuthorizerId": authorizer_id})


def create_gateway_response(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::ApiGateway::GatewayResponse: static headers and the first response template."""
    p = ctx.props(resource)
    prefix = "gatewayresponse.header."
    headers = {
        name[len(prefix) :]: str(value).strip("'")
        for name, value in (p.get("ResponseParameters") or {}).items()
        if name.startswith(prefix)
    }
    templates = p.get("ResponseTemplates") or {}
    spec = GatewayResponseSpec(
        response_type=str(p["ResponseType"]),
        status=int(p.get("StatusCode") or 0),
        headers=headers,
        template=str(next(iter(templates.values()), "")),
    )
    ctx.deployment.gateway_responses[spec.response_type] = spec
    return Resolved(logical_id, {})


def routes(
    ctx: ProvisionContext, resources: Mapping[str, Any], functions: Mapping[str, FunctionSpec]
) -> list[Route]:
    """REST API methods with AWS_PROXY integrations to an emulated function."""
    paths = _resource_paths(ctx, resources)
    short_by_logical = {spec.logical_id: spec.name for spec in functions.values()}
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGateway::Method":
            continue
        props = resource.get("Properties", {})
        integration = props.get("Integration") or {}
        if integration.get("Type") != "AWS_PROXY":
            continue
        targets = referenced_ids(integration.get("Uri")) & short_by_logical.keys()
        if len(targets) != 1:
            raise AssemblyError(f"{logical_id}: cannot tell which function it integrates")
        resource_id = ctx.resolver.resolve(props["ResourceId"])
        authorizer = ""
        if props.get("AuthorizationType") == "COGNITO_USER_POOLS":
            authorizer = str(ctx.resolver.resolve(props["AuthorizerId"]))
        elif props.get("AuthorizationType") == "CUSTOM":
            raise AssemblyError(f"{logical_id}: Lambda authorizers are not emulated")
        found.append(
            Route(
                path=_path_of(paths, resource_id),
                method=str(props["HttpMethod"]).upper(),
                function=short_by_logical[targets.pop()],
                resource_id=resource_id,
                authorizer=authorizer,
            )
        )
    return found


def _path_of(paths: Mapping[str, str], resource_id: str) -> str:
    return "/" if resource_id.endswith(_ROOT_SUFFIX) else paths[resource_id]


def _resource_paths(ctx: ProvisionContext, resources: Mapping[str, Any]) -> dict[str, str]:
    """Each AWS::ApiGateway::Resource's id (its logical id, also its local Ref) -> full path."""
    paths: dict[str, str] = {}
    pending = {
        lid: res for lid, res in resources.items() if res.get("Type") == "AWS::ApiGateway::Resource"
    }
    while pending:
        progressed = False
        for lid, res in list(pending.items()):
            p = ctx.props(res)
            parent = p["ParentId"]
            if not parent.endswith(_ROOT_SUFFIX) and parent not in paths:
                continue
            base = _path_of(paths, parent).rstrip("/")
            paths[lid] = f"{base}/{p['PathPart']}"
            del pending[lid]
            progressed = True
        if not progressed:
            raise AssemblyError(f"API resources with unknown parents: {sorted(pending)}")
    return paths
