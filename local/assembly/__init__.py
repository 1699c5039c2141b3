"""Read the synthesized cloud assembly and stand its resources up in the emulated AWS.

`load_stack` finds the stack template in `cdk.out`; `provision` walks it with a small
CloudFormation resolver and creates, through ordinary boto3 calls against the emulated endpoint,
the resources the emulation needs. Lambda functions, event source mappings and REST API routes
are not created in AWS: they are returned as specs that the in-process Lambda runtime, the
pollers and the API server use.

One module per seam:

- `cloud_assembly`: the manifest, the stack template and the asset files in `cdk.out`;
- `intrinsics`: the pure resolver (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split,
  Fn::If, conditions, pseudo parameters...) and placeholder names;
- `context`: what creators share while a template is provisioned;
- `resources`: one creator per AWS resource type created in the emulated endpoint;
- `appconfig`: the creators of the AWS AppConfig types (through `local.appconfig`);
- `functions`, `event_sources`, `routes`: the specs of what runs locally;
- `specs`: those spec types and the `Deployment`;
- `provisioning`: `provision`, which ties them together.
"""

from __future__ import annotations

from local.assembly.cloud_assembly import (
    FUNCTION_METADATA_KEY,
    assembly_layer_dirs,
    asset_files,
    load_stack,
)
from local.assembly.errors import AssemblyError
from local.assembly.intrinsics import DEFAULT_ACCOUNT, DEFAULT_REGION, resolve_value
from local.assembly.provisioning import provision
from local.assembly.specs import (
    CognitoAuthorizerSpec,
    Deployment,
    EventSourceMappingSpec,
    FunctionSpec,
    GatewayResponseSpec,
    Route,
)

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "FUNCTION_METADATA_KEY",
    "AssemblyError",
    "CognitoAuthorizerSpec",
    "Deployment",
    "EventSourceMappingSpec",
    "FunctionSpec",
    "GatewayResponseSpec",
    "Route",
    "assembly_layer_dirs",
    "asset_files",
    "load_stack",
    "provision",
    "resolve_value",
]
