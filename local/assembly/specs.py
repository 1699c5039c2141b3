"""What provisioning hands to the rest of the emulation: function, mapping and route specs.

Lambda functions, event source mappings and REST API routes are not created in the emulated
AWS; the in-process Lambda runtime, the pollers and the API server run them from these specs.
`Deployment` also records the physical names of what was created, by logical id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # local.stream_poller imports local.assembly (through local.sqs_poller)
    from local.stream_poller import StreamMappingSpec


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the emulation runs it: code location plus resolved environment."""

    name: str  # the short name from the `aios:function` metadata, e.g. "decide"
    folder: Path
    handler: str  # "<module>.<function>", relative to `folder`
    environment: Mapping[str, str]
    function_name: str = ""  # physical name: Ref of the function
    arn: str = ""
    memory_mb: int = 128
    timeout_s: int = 3
    logical_id: str = ""
    role_arn: str = ""  # the execution role (its Role property), as its ARN resolves

    def __post_init__(self) -> None:
        if not self.function_name:
            object.__setattr__(self, "function_name", self.name)


@dataclass(frozen=True)
class EventSourceMappingSpec:
    """An SQS event source mapping: which queue feeds which function, and how."""

    function: str  # FunctionSpec.name
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_batching_window_s: int = 0
    logical_id: str = ""


@dataclass(frozen=True)
class Route:
    """A REST API method: path template (e.g. `/cases/{case_id}`) and HTTP method -> function."""

    path: str
    method: str  # upper case; "ANY" matches every method
    function: str  # FunctionSpec.name
    resource_id: str = ""
    authorizer: str = ""  # the id of the method's Cognito authorizer; "" for none


@dataclass(frozen=True)
class CognitoAuthorizerSpec:
    """A COGNITO_USER_POOLS authorizer: which pools' ID tokens it accepts, from which header."""

    authorizer_id: str
    user_pools: tuple[str, ...]  # pool ids
    header: str  # the identity source, e.g. "Cookie" for method.request.header.Cookie


@dataclass(frozen=True)
class GatewayResponseSpec:
    """An AWS::ApiGateway::GatewayResponse: what API Gateway answers for one response type."""

    response_type: str  # e.g. UNAUTHORIZED
    status: int
    headers: Mapping[str, str]  # header name -> static value (quotes removed)
    template: str  # the response template; `$context.path` / `$context.stage` substituted


@dataclass(frozen=True)
class ServiceEventRule:
    """A rule on the default bus for AWS services' own events (e.g. Step Functions' status
    changes), with Lambda targets: the emulation delivers what moto does not send."""

    logical_id: str
    patterns: tuple[dict[str, Any], ...]
    function_arns: tuple[str, ...]


@dataclass
class Deployment:
    """What `provision` created or derived from one stack template."""

    stack_name: str
    region: str
    account: str
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_sources: list[EventSourceMappingSpec] = field(default_factory=list)
    stream_sources: list[StreamMappingSpec] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    api_id: str = ""
    stage: str = ""
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    keys: dict[str, str] = field(default_factory=dict)  # logical id -> key ARN
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic ARN
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> secret ARN
    event_buses: dict[str, str] = field(default_factory=dict)  # logical id -> bus name
    service_event_rules: list[ServiceEventRule] = field(default_factory=list)
    user_pools: dict[str, str] = field(default_factory=dict)  # logical id -> pool id
    # logical id -> (pool id, client id)
    user_pool_clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    authorizers: dict[str, CognitoAuthorizerSpec] = field(default_factory=dict)  # by id
    gateway_responses: dict[str, GatewayResponseSpec] = field(default_factory=dict)  # by type
