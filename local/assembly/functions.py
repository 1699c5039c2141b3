"""Lambda functions as specs for the in-process runtime: name, ARN, code folder, environment.

Functions are not created in the emulated AWS. A reference to a function resolves to its name
and ARN alone; its environment is resolved afterwards (`function_specs`), so that a function's
ARN can appear in another resource (the state machine) that the function's environment names.
Only functions carrying `aios:function` metadata are emulated; their code is
`functions/<name>/` in the project, and a missing handler module is an `AssemblyError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from local.assembly.cloud_assembly import FUNCTION_METADATA_KEY
from local.assembly.context import ProvisionContext
from local.assembly.errors import AssemblyError
from local.assembly.intrinsics import Resolved
from local.assembly.specs import FunctionSpec


def create_function(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::Lambda::Function, name and ARN only (see the module docstring)."""
    name = _function_name(ctx, logical_id, resource)
    arn = f"arn:aws:lambda:{ctx.region}:{ctx.account}:function:{name}"
    return Resolved(name, {"Arn": arn})


def _function_name(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> str:
    """FunctionName if the template sets one, else the `aios:function` name, else generated."""
    explicit = resource.get("Properties", {}).get("FunctionName")
    if explicit is not None:
        return str(ctx.resolver.resolve(explicit))
    short = (resource.get("Metadata") or {}).get(FUNCTION_METADATA_KEY)
    return str(short) if short else ctx.physical_name(logical_id)


def is_emulated_function(resource: Mapping[str, Any]) -> bool:
    """True for an AWS::Lambda::Function with `aios:function` metadata."""
    return resource.get("Type") == "AWS::Lambda::Function" and FUNCTION_METADATA_KEY in (
        resource.get("Metadata") or {}
    )


def function_specs(ctx: ProvisionContext, resources: Mapping[str, Any]) -> dict[str, FunctionSpec]:
    """Short name -> spec of every emulated function; two functions with one name fail."""
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources.items():
        if not is_emulated_function(resource):
            continue
        spec = function_spec(ctx, logical_id, resource)
        if spec.name in specs:
            raise AssemblyError(f"two functions named {spec.name!r}")
        specs[spec.name] = spec
    return specs


def function_spec(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> FunctionSpec:
    """The spec of one emulated function, its environment resolved to strings."""
    short = resource["Metadata"][FUNCTION_METADATA_KEY]
    props = resource.get("Properties", {})
    env = ctx.resolver.resolve(props.get("Environment", {})).get("Variables", {})
    resolved = ctx.resolver.resource(logical_id)
    folder = ctx.project_root / "functions" / short
    handler = str(props.get("Handler", "app.handler"))
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    if not (folder / f"{module}.py").is_file():
        raise AssemblyError(f"{logical_id}: handler {handler} not found in {folder}")
    return FunctionSpec(
        name=short,
        folder=folder,
        handler=handler,
        environment={k: environment_value(v) for k, v in env.items()},
        function_name=resolved.ref,
        arn=resolved.attributes["Arn"],
        memory_mb=int(props.get("MemorySize", 128)),
        timeout_s=int(props.get("Timeout", 3)),
        logical_id=logical_id,
        role_arn=str(ctx.resolver.resolve(props.get("Role", ""))),
    )


def environment_value(value: Any) -> str:
    """A resolved environment value as Lambda sees it: booleans lower case, JSON for structures."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
