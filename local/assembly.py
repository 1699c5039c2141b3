"""Read the synthesized cloud assembly and stand its resources up in the emulated AWS.

`load_stack` finds the stack template in `cdk.out`; `provision` walks it with a small
CloudFormation resolver (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::If,
conditions and the AWS pseudo parameters) and creates, through ordinary boto3 calls against the
emulated endpoint, the resources the emulation needs: DynamoDB tables (key schema, indexes,
streams, TTL), SQS queues (FIFO attributes, visibility timeout, redrive policy pointing at the
local DLQ), KMS keys (same KeySpec and KeyUsage) and aliases, SNS topics, Secrets Manager
secrets (a locally generated value where the template asks for a generated one) and Step Functions
state machines (definition with its DefinitionSubstitutions applied). Lambda functions, event
source mappings and REST API routes are not created in AWS: they are returned as specs that the
in-process Lambda runtime, the SQS pollers and the API server use.

Resources are created on first reference, so the template's own dependency order is followed
without a separate graph walk. Resource types the emulation does not need (IAM, logs, alarms,
API stages...) resolve to plausible placeholder names and ARNs and are never created.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

FUNCTION_METADATA_KEY = "aios:function"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

_NO_VALUE = object()  # AWS::NoValue: drops the enclosing key or list item


class AssemblyError(RuntimeError):
    """The cloud assembly is missing, ambiguous or uses something the resolver cannot do."""


# --------------------------------------------------------------------------- specs


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


@dataclass
class Deployment:
    """What `provision` created or derived from one stack template."""

    stack_name: str
    region: str
    account: str
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_sources: list[EventSourceMappingSpec] = field(default_factory=list)
    stream_sources: list[Any] = field(default_factory=list)  # local.stream_poller.StreamMappingSpec
    routes: list[Route] = field(default_factory=list)
    api_id: str = ""
    stage: str = ""
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    keys: dict[str, str] = field(default_factory=dict)  # logical id -> key ARN
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic ARN
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> secret ARN


# --------------------------------------------------------------------------- assembly


def load_stack(cdk_out: Path, stack_name: str | None = None) -> tuple[str, dict[str, Any]]:
    """Return (stack name, template) of the CloudFormation stack in a cloud assembly.

    With no name given, the assembly must hold exactly one stack that has `aios:function`
    resources (the kit synthesizes one).
    """
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"no cloud assembly at {cdk_out} (manifest.json missing): synth first")
    manifest = json.loads(manifest_path.read_text())
    stacks: dict[str, dict[str, Any]] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = artifact.get("properties", {}).get("templateFile")
        if not template_file:
            continue
        name = artifact.get("properties", {}).get("stackName") or artifact.get(
            "displayName", artifact_id
        )
        stacks[name] = json.loads((cdk_out / template_file).read_text())
    if stack_name is not None:
        if stack_name not in stacks:
            raise AssemblyError(f"stack {stack_name!r} not in assembly; found {sorted(stacks)}")
        return stack_name, stacks[stack_name]
    candidates = {
        name: tpl
        for name, tpl in stacks.items()
        if any(
            FUNCTION_METADATA_KEY in (res.get("Metadata") or {})
            for res in tpl.get("Resources", {}).values()
        )
    }
    if len(candidates) != 1:
        raise AssemblyError(
            f"expected one stack with {FUNCTION_METADATA_KEY!r} functions, "
            f"found {sorted(candidates)}"
        )
    return next(iter(candidates.items()))


def asset_files(cdk_out: Path) -> dict[str, Path]:
    """Asset object key (as the template names it in S3) -> the file or folder in `cdk_out`."""
    files: dict[str, Path] = {}
    for manifest in sorted(cdk_out.glob("*.assets.json")):
        for asset in json.loads(manifest.read_text()).get("files", {}).values():
            source = Path(asset.get("source", {}).get("path", ""))
            path = source if source.is_absolute() else cdk_out / source
            for destination in asset.get("destinations", {}).values():
                files[destination["objectKey"]] = path
    return files


# --------------------------------------------------------------------------- resolver


@dataclass
class _Resolved:
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    placeholder: bool = False  # not emulated: any attribute resolves to a placeholder


class _Resolver:
    """CloudFormation intrinsic functions over a template, creating resources on demand."""

    def __init__(
        self,
        template: Mapping[str, Any],
        stack_name: str,
        region: str,
        account: str,
        create: Callable[[str, Mapping[str, Any]], _Resolved],
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.parameters: Mapping[str, Any] = template.get("Parameters", {})
        self.conditions: Mapping[str, Any] = template.get("Conditions", {})
        self.stack_name = stack_name
        self.region = region
        self.account = account
        self._create = create
        self._done: dict[str, _Resolved] = {}
        self._in_progress: list[str] = []
        self._condition_values: dict[str, bool] = {}

    # -- pseudo parameters, parameters, resources

    def pseudo(self, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/local"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }
        if name not in values:
            raise AssemblyError(f"unknown pseudo parameter {name}")
        return values[name]

    def resource(self, logical_id: str) -> _Resolved:
        if logical_id in self._done:
            return self._done[logical_id]
        if logical_id not in self.resources:
            raise AssemblyError(f"reference to unknown resource {logical_id}")
        if logical_id in self._in_progress:
            cycle = " -> ".join([*self._in_progress, logical_id])
            raise AssemblyError(f"circular reference: {cycle}")
        self._in_progress.append(logical_id)
        try:
            resolved = self._create(logical_id, self.resources[logical_id])
        finally:
            self._in_progress.pop()
        self._done[logical_id] = resolved
        return resolved

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            param = self.parameters[name]
            if "Default" not in param:
                raise AssemblyError(f"parameter {name} has no default")
            return param["Default"]
        return self.resource(name).ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resolved = self.resource(logical_id)
        if attribute not in resolved.attributes:
            if resolved.placeholder:
                return f"{logical_id}.{attribute}"
            rtype = self.resources[logical_id].get("Type")
            raise AssemblyError(f"{logical_id} ({rtype}) has no emulated attribute {attribute}")
        return resolved.attributes[attribute]

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            self._condition_values[name] = bool(self.resolve(self.conditions[name]))
        return self._condition_values[name]

    # -- intrinsic functions

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not _NO_VALUE:
                out[key] = resolved
        return out

    def _fn_ref(self, arg: Any) -> Any:
        return self.ref(arg)

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, _, attribute = arg.partition(".")
        else:
            logical_id, attribute = arg[0], self.resolve(arg[1])
        return self.get_att(logical_id, attribute)

    def _fn_join(self, arg: Any) -> str:
        delimiter, items = arg
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _fn_select(self, arg: Any) -> Any:
        index, items = self.resolve(arg)
        return items[int(index)]

    def _fn_split(self, arg: Any) -> list[str]:
        delimiter, source = arg
        return str(self.resolve(source)).split(delimiter)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], self.resolve(arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _fn_if(self, arg: Any) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)

    def _fn_equals(self, arg: Any) -> bool:
        left, right = self.resolve(arg)
        return bool(left == right)

    def _fn_not(self, arg: Any) -> bool:
        return not self.resolve(arg[0])

    def _fn_and(self, arg: Any) -> bool:
        return all(self.resolve(item) for item in arg)

    def _fn_or(self, arg: Any) -> bool:
        return any(self.resolve(item) for item in arg)

    def _fn_condition(self, arg: Any) -> bool:
        return self.condition(arg)

    def _fn_get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.region
        return [f"{region}{suffix}" for suffix in "abc"]

    def _fn_base64(self, arg: Any) -> str:
        import base64

        return base64.b64encode(str(self.resolve(arg)).encode()).decode()

    def _fn_unsupported(self, arg: Any) -> Any:
        raise AssemblyError(f"intrinsic not supported by the local emulation: {arg!r}")

    _INTRINSICS: ClassVar[dict[str, Callable[[_Resolver, Any], Any]]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::Sub": _fn_sub,
        "Fn::If": _fn_if,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
        "Condition": _fn_condition,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::Base64": _fn_base64,
        "Fn::ImportValue": _fn_unsupported,
    }


def resolve_value(
    value: Any,
    template: Mapping[str, Any],
    stack_name: str = "Stack",
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    attributes: Mapping[str, tuple[Any, Mapping[str, Any]]] | None = None,
) -> Any:
    """Resolve intrinsics in `value` without creating anything (for tests and inspection).

    `attributes` maps logical id -> (Ref value, {attribute: value}); other resources resolve to
    placeholders.
    """
    known = dict(attributes or {})

    def create(logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        if logical_id in known:
            ref, atts = known[logical_id]
            return _Resolved(ref, dict(atts))
        return _placeholder(logical_id, resource, region, account)

    return _Resolver(template, stack_name, region, account, create).resolve(value)


def _placeholder(
    logical_id: str, resource: Mapping[str, Any], region: str, account: str
) -> _Resolved:
    """Names for resources the emulation does not create (IAM, logs, alarms, stages...)."""
    service = resource.get("Type", "AWS::Unknown::X").split("::")[1].lower()
    arn = f"arn:aws:{service}:{region}:{account}:{logical_id}"
    if resource.get("Type") == "AWS::IAM::Role":
        name = resource.get("Properties", {}).get("RoleName") or logical_id
        arn = f"arn:aws:iam::{account}:role/{name}"
        return _Resolved(name, {"Arn": arn}, placeholder=True)
    return _Resolved(logical_id, {"Arn": arn}, placeholder=True)


# --------------------------------------------------------------------------- provisioning


class _Provisioner:
    """Creates each resource type the emulation needs, on first reference."""

    def __init__(
        self,
        template: Mapping[str, Any],
        stack_name: str,
        clients: Callable[[str], Any],
        project_root: Path,
        region: str,
        account: str,
        assets: Mapping[str, Path],
    ) -> None:
        self.clients = clients
        self.project_root = project_root
        self.assets = assets
        self.deployment = Deployment(stack_name=stack_name, region=region, account=account)
        self.r = _Resolver(template, stack_name, region, account, self._create)
        self._creators: dict[str, Callable[[str, Mapping[str, Any]], _Resolved]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::KMS::Key": self._key,
            "AWS::KMS::Alias": self._alias,
            "AWS::SNS::Topic": self._topic,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::S3::Bucket": self._bucket,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Lambda::Function": self._function,
            "AWS::ApiGateway::RestApi": self._rest_api,
            "AWS::ApiGateway::Stage": self._stage,
        }

    @property
    def region(self) -> str:
        return self.deployment.region

    @property
    def account(self) -> str:
        return self.deployment.account

    def _create(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        creator = self._creators.get(resource.get("Type", ""))
        if creator is None:
            return _placeholder(logical_id, resource, self.region, self.account)
        return creator(logical_id, resource)

    def _props(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        props = self.r.resolve(resource.get("Properties", {}))
        assert isinstance(props, dict)
        return props

    def _physical_name(self, logical_id: str, suffix: str = "") -> str:
        # CloudFormation appends a random suffix; locally the name is stable across runs.
        return f"{self.deployment.stack_name}-{logical_id}{suffix}"

    # -- DynamoDB

    def _table(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        name = p.get("TableName") or self._physical_name(logical_id)
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
        }
        if p.get("BillingMode") == "PAY_PER_REQUEST" or "ProvisionedThroughput" not in p:
            args["BillingMode"] = "PAY_PER_REQUEST"
        else:
            args["ProvisionedThroughput"] = _int_values(p["ProvisionedThroughput"])
        index_keys = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
        for prop in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if p.get(prop):
                args[prop] = [{k: v for k, v in i.items() if k in index_keys} for i in p[prop]]
        if p.get("StreamSpecification"):
            args["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": p["StreamSpecification"]["StreamViewType"],
            }
        ddb = self.clients("dynamodb")
        desc = ddb.create_table(**args)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and _truthy(ttl.get("Enabled", False)):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self.deployment.tables[logical_id] = name
        return _Resolved(
            name, {"Arn": desc["TableArn"], "StreamArn": desc.get("LatestStreamArn", "")}
        )

    # -- SQS

    _QUEUE_ATTRIBUTES = (
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "DelaySeconds",
        "FifoQueue",
        "FifoThroughputLimit",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "RedriveAllowPolicy",
        "RedrivePolicy",
        "VisibilityTimeout",
    )

    def _queue(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        fifo = _truthy(p.get("FifoQueue", False))
        name = p.get("QueueName") or self._physical_name(logical_id, ".fifo" if fifo else "")
        attributes = {}
        for key in self._QUEUE_ATTRIBUTES:
            if key in p:
                value = p[key]
                if isinstance(value, dict):
                    value = json.dumps(value)
                elif isinstance(value, bool):
                    value = str(value).lower()
                attributes[key] = str(value)
        sqs = self.clients("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        self.deployment.queues[logical_id] = url
        return _Resolved(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    # -- KMS

    def _key(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        args: dict[str, Any] = {
            "KeySpec": p.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": p.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "Description": p.get("Description", f"{self.deployment.stack_name}/{logical_id}"),
        }
        # The key policy is IAM's business; the emulation does not enforce IAM.
        meta = self.clients("kms").create_key(**args)["KeyMetadata"]
        self.deployment.keys[logical_id] = meta["Arn"]
        return _Resolved(meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})

    def _alias(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        self.clients("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
        return _Resolved(p["AliasName"], {})

    # -- SNS

    def _topic(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        fifo = _truthy(p.get("FifoTopic", False))
        name = p.get("TopicName") or self._physical_name(logical_id, ".fifo" if fifo else "")
        attributes = {"FifoTopic": "true"} if fifo else {}
        arn = self.clients("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.deployment.topics[logical_id] = arn
        return _Resolved(arn, {"TopicArn": arn, "TopicName": name})

    # -- S3

    def _bucket(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        # Bucket names are global and lowercase; CloudFormation would add a random suffix.
        name = p.get("BucketName") or self._physical_name(logical_id).lower()[:63]
        s3 = self.clients("s3")
        args: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**args)
        if "BucketEncryption" in p:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    # CloudFormation's ServerSideEncryptionByDefault is the API's Apply... key.
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                        for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        arn = f"arn:aws:s3:::{name}"
        return _Resolved(name, {"Arn": arn, "DomainName": f"{name}.s3.amazonaws.com"})

    # -- Secrets Manager

    def _secret(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        name = p.get("Name") or self._physical_name(logical_id)
        value = p.get("SecretString")
        generate = p.get("GenerateSecretString")
        if value is None and generate is not None:
            # A local value in place of the one CloudFormation would generate.
            secret = secrets.token_urlsafe(24)
            if "SecretStringTemplate" in generate:
                template = json.loads(generate["SecretStringTemplate"])
                value = json.dumps({**template, generate["GenerateStringKey"]: secret})
            else:
                value = secret
        arn = self.clients("secretsmanager").create_secret(
            Name=name, SecretString=value if value is not None else "{}"
        )["ARN"]
        self.deployment.secrets[logical_id] = arn
        return _Resolved(arn, {"Id": arn})

    # -- Step Functions

    def _state_machine(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        p = self._props(resource)
        name = p.get("StateMachineName") or self._physical_name(logical_id)
        definition = p.get("DefinitionString")
        if definition is None and "Definition" in p:
            definition = json.dumps(p["Definition"])
        if definition is None and "DefinitionS3Location" in p:
            # CDK's DefinitionBody.fromFile: the ASL file is a cloud assembly asset.
            key = p["DefinitionS3Location"]["Key"]
            if key not in self.assets:
                raise AssemblyError(f"{logical_id}: definition asset {key} not in the assembly")
            definition = self.assets[key].read_text()
        if definition is None:
            raise AssemblyError(f"{logical_id}: no state machine definition")
        for key, value in (p.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        leftover = re.findall(r"\$\{[A-Za-z0-9_]+\}", definition)
        if leftover:
            raise AssemblyError(f"{logical_id}: unresolved substitutions {sorted(set(leftover))}")
        role_arn = p.get("RoleArn") or f"arn:aws:iam::{self.account}:role/{name}-role"
        arn = self.clients("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=role_arn,
            type=p.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        self.deployment.state_machines[logical_id] = arn
        return _Resolved(arn, {"Arn": arn, "Name": name})

    # -- Lambda (specs only: functions run in-process)

    def _function_name(self, logical_id: str, resource: Mapping[str, Any]) -> str:
        explicit = resource.get("Properties", {}).get("FunctionName")
        if explicit is not None:
            return str(self.r.resolve(explicit))
        short = (resource.get("Metadata") or {}).get(FUNCTION_METADATA_KEY)
        return str(short) if short else self._physical_name(logical_id)

    def _function(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        # Name and ARN only: the environment is resolved later, so that a function's ARN can
        # appear in another resource (the state machine) that the function's environment names.
        name = self._function_name(logical_id, resource)
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        return _Resolved(name, {"Arn": arn})

    def function_spec(self, logical_id: str, resource: Mapping[str, Any]) -> FunctionSpec:
        short = resource["Metadata"][FUNCTION_METADATA_KEY]
        props = resource.get("Properties", {})
        env = self.r.resolve(props.get("Environment", {})).get("Variables", {})
        resolved = self.r.resource(logical_id)
        folder = self.project_root / "functions" / short
        handler = str(props.get("Handler", "app.handler"))
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        if not (folder / f"{module}.py").is_file():
            raise AssemblyError(f"{logical_id}: handler {handler} not found in {folder}")
        return FunctionSpec(
            name=short,
            folder=folder,
            handler=handler,
            environment={k: _env_str(v) for k, v in env.items()},
            function_name=resolved.ref,
            arn=resolved.attributes["Arn"],
            memory_mb=int(props.get("MemorySize", 128)),
            timeout_s=int(props.get("Timeout", 3)),
            logical_id=logical_id,
        )

    # -- API Gateway (routes only)

    def _rest_api(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        api_id = re.sub(r"[^a-z0-9]", "", logical_id.lower())[:10] or "local"
        self.deployment.api_id = self.deployment.api_id or api_id
        return _Resolved(api_id, {"RootResourceId": f"{api_id}-root"})

    def _stage(self, logical_id: str, resource: Mapping[str, Any]) -> _Resolved:
        name = str(self.r.resolve(resource.get("Properties", {}).get("StageName", logical_id)))
        self.deployment.stage = self.deployment.stage or name
        return _Resolved(name, {})


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
    pv = _Provisioner(template, stack_name, clients, project_root, region, account, assets or {})
    resources: Mapping[str, Any] = template.get("Resources", {})
    for logical_id, resource in resources.items():
        if resource.get("Type") in pv._creators:
            pv.r.resource(logical_id)
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Lambda::Function" and FUNCTION_METADATA_KEY in (
            resource.get("Metadata") or {}
        ):
            spec = pv.function_spec(logical_id, resource)
            if spec.name in pv.deployment.functions:
                raise AssemblyError(f"two functions named {spec.name!r}")
            pv.deployment.functions[spec.name] = spec
    by_physical = {spec.function_name: spec.name for spec in pv.deployment.functions.values()}
    by_physical.update({spec.arn: spec.name for spec in pv.deployment.functions.values()})
    pv.deployment.event_sources = _event_sources(pv, resources, by_physical)
    pv.deployment.stream_sources = _stream_sources(pv, resources, by_physical)
    pv.deployment.routes = _routes(pv, resources)
    return pv.deployment


def _event_sources(
    pv: _Provisioner, resources: Mapping[str, Any], by_physical: Mapping[str, str]
) -> list[EventSourceMappingSpec]:
    mappings = []
    queue_by_arn = {}
    for logical_id in pv.deployment.queues:
        resolved = pv.r.resource(logical_id)
        queue_by_arn[resolved.attributes["Arn"]] = resolved.ref
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        p = pv._props(resource)
        source = p.get("EventSourceArn", "")
        if source not in queue_by_arn:
            logger.info(
                "skipping event source mapping %s: %s is not an SQS queue", logical_id, source
            )
            continue
        function = by_physical.get(str(p.get("FunctionName")))
        if function is None:
            logger.info("skipping event source mapping %s: no emulated function", logical_id)
            continue
        if not _truthy(p.get("Enabled", True)):
            continue
        mappings.append(
            EventSourceMappingSpec(
                function=function,
                queue_url=queue_by_arn[source],
                queue_arn=source,
                batch_size=int(p.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in (p.get("FunctionResponseTypes") or []),
                maximum_batching_window_s=int(p.get("MaximumBatchingWindowInSeconds", 0)),
                logical_id=logical_id,
            )
        )
    return mappings


def _stream_sources(
    pv: _Provisioner, resources: Mapping[str, Any], by_physical: Mapping[str, str]
) -> list[Any]:
    """Event source mappings whose source is the stream of an emulated DynamoDB table."""
    from local.stream_poller import StreamMappingSpec

    streams = {pv.r.resource(lid).attributes.get("StreamArn") for lid in pv.deployment.tables}
    mappings = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        p = pv._props(resource)
        source = p.get("EventSourceArn", "")
        function = by_physical.get(str(p.get("FunctionName")))
        if not source or source not in streams or function is None:
            continue
        if not _truthy(p.get("Enabled", True)):
            continue
        mappings.append(
            StreamMappingSpec(
                function=function,
                stream_arn=source,
                batch_size=int(p.get("BatchSize", 100)),
                starting_position=str(p.get("StartingPosition", "TRIM_HORIZON")),
                maximum_retry_attempts=int(p.get("MaximumRetryAttempts", -1)),
                logical_id=logical_id,
            )
        )
    return mappings


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids named by Ref / Fn::GetAtt anywhere inside an unresolved value."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _referenced_ids(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item.split(".")[0] if isinstance(item, str) else item[0])
            else:
                found |= _referenced_ids(item)
    return found


def _routes(pv: _Provisioner, resources: Mapping[str, Any]) -> list[Route]:
    """REST API methods with AWS_PROXY integrations to an emulated function."""
    paths: dict[str, str] = {}  # resource id (resolved) -> path

    def path_of(resource_id: str) -> str:
        if resource_id.endswith("-root"):
            return "/"
        return paths[resource_id]

    pending = {
        lid: res for lid, res in resources.items() if res.get("Type") == "AWS::ApiGateway::Resource"
    }
    while pending:
        progressed = False
        for lid, res in list(pending.items()):
            p = pv._props(res)
            parent = p["ParentId"]
            if not parent.endswith("-root") and parent not in paths:
                continue
            base = path_of(parent).rstrip("/")
            paths[lid] = f"{base}/{p['PathPart']}"
            del pending[lid]
            progressed = True
        if not progressed:
            raise AssemblyError(f"API resources with unknown parents: {sorted(pending)}")

    short_by_logical = {spec.logical_id: spec.name for spec in pv.deployment.functions.values()}
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGateway::Method":
            continue
        props = resource.get("Properties", {})
        integration = props.get("Integration") or {}
        if integration.get("Type") != "AWS_PROXY":
            continue
        targets = _referenced_ids(integration.get("Uri")) & short_by_logical.keys()
        if len(targets) != 1:
            raise AssemblyError(f"{logical_id}: cannot tell which function it integrates")
        resource_id = pv.r.resolve(props["ResourceId"])
        routes.append(
            Route(
                path=path_of(resource_id),
                method=str(props["HttpMethod"]).upper(),
                function=short_by_logical[targets.pop()],
                resource_id=resource_id,
            )
        )
    return routes


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _int_values(mapping: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in mapping.items()}


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
