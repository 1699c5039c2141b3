"""Create the template's AWS resources in the emulated endpoint, one creator per type.

Each creator resolves the resource's properties (which creates what they refer to first),
makes ordinary boto3 calls through `context.clients`, records the physical name in the
deployment and returns the resource's Ref and attributes:

- DynamoDB tables: key schema, indexes, billing mode, stream, TTL;
- SQS queues: FIFO attributes, visibility timeout, redrive policy (pointing at the local DLQ);
- KMS keys (same KeySpec and KeyUsage; the key policy is not applied) and aliases;
- SNS topics; S3 buckets (default encryption, versioning, Object Lock with its default
  retention);
- Secrets Manager secrets: a locally generated value where the template asks for a generated one;
- Step Functions state machines: definition (inline, or the ASL asset) with its
  DefinitionSubstitutions applied; a substitution left over is an `AssemblyError`;
- EventBridge buses, and the rules on a custom bus whose targets are all SQS queues (moto
  delivers matching events to them). Schedules and Lambda targets are not created: the
  emulation fires no schedules (tests invoke scheduled functions themselves).
- Cognito user pools (password policy, admin-only sign-up, MFA setting), their app clients
  (explicit auth flows, token validity) and groups.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from local.assembly.context import ProvisionContext, truthy
from local.assembly.errors import AssemblyError
from local.assembly.intrinsics import Resolved, placeholder
from local.assembly.specs import ServiceEventRule
from local.event_filters import parse_patterns

Creator = Callable[[ProvisionContext, str, Mapping[str, Any]], Resolved]
"""(context, logical id, resource as the template declares it) -> its resolved value."""


# -- DynamoDB


def create_table(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::DynamoDB::Table, then its TTL when the template enables one."""
    p = ctx.props(resource)
    name = p.get("TableName") or ctx.physical_name(logical_id)
    ddb = ctx.clients("dynamodb")
    desc = ddb.create_table(**_table_arguments(name, p))["TableDescription"]
    ttl = p.get("TimeToLiveSpecification")
    if ttl and truthy(ttl.get("Enabled", False)):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    ctx.deployment.tables[logical_id] = name
    return Resolved(name, {"Arn": desc["TableArn"], "StreamArn": desc.get("LatestStreamArn", "")})


def _table_arguments(name: str, p: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTable's arguments from the resolved AWS::DynamoDB::Table properties."""
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": p["KeySchema"],
        "AttributeDefinitions": p["AttributeDefinitions"],
    }
    if p.get("BillingMode") == "PAY_PER_REQUEST" or "ProvisionedThroughput" not in p:
        args["BillingMode"] = "PAY_PER_REQUEST"
    else:
        args["ProvisionedThroughput"] = {k: int(v) for k, v in p["ProvisionedThroughput"].items()}
    index_keys = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
    for prop in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(prop):
            args[prop] = [{k: v for k, v in i.items() if k in index_keys} for i in p[prop]]
    if p.get("StreamSpecification"):
        args["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": p["StreamSpecification"]["StreamViewType"],
        }
    return args


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


def create_queue(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::SQS::Queue with its attributes as SQS strings (policies as JSON)."""
    p = ctx.props(resource)
    fifo = truthy(p.get("FifoQueue", False))
    name = p.get("QueueName") or ctx.physical_name(logical_id, ".fifo" if fifo else "")
    attributes = {key: _queue_attribute(p[key]) for key in _QUEUE_ATTRIBUTES if key in p}
    url = ctx.clients("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{ctx.region}:{ctx.account}:{name}"
    ctx.deployment.queues[logical_id] = url
    return Resolved(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _queue_attribute(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# -- KMS


def create_key(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::KMS::Key with the template's KeySpec and KeyUsage."""
    p = ctx.props(resource)
    args: dict[str, Any] = {
        "KeySpec": p.get("KeySpec", "SYMMETRIC_DEFAULT"),
        "KeyUsage": p.get("KeyUsage", "ENCRYPT_DECRYPT"),
        "Description": p.get("Description", f"{ctx.deployment.stack_name}/{logical_id}"),
    }
    # The key policy is IAM's business; the emulation does not enforce IAM.
    meta = ctx.clients("kms").create_key(**args)["KeyMetadata"]
    ctx.deployment.keys[logical_id] = meta["Arn"]
    return Resolved(meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})


def create_alias(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::KMS::Alias."""
    p = ctx.props(resource)
    ctx.clients("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
    return Resolved(p["AliasName"], {})


# -- SNS


def create_topic(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::SNS::Topic (FIFO when the template says so)."""
    p = ctx.props(resource)
    fifo = truthy(p.get("FifoTopic", False))
    name = p.get("TopicName") or ctx.physical_name(logical_id, ".fifo" if fifo else "")
    attributes = {"FifoTopic": "true"} if fifo else {}
    arn = ctx.clients("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    ctx.deployment.topics[logical_id] = arn
    return Resolved(arn, {"TopicArn": arn, "TopicName": name})


# -- S3


def create_bucket(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::S3::Bucket, with its default encryption, versioning and Object Lock (default
    retention) when the template sets them; access logging is not emulated."""
    p = ctx.props(resource)
    # Bucket names are global and lowercase; CloudFormation would add a random suffix.
    name = p.get("BucketName") or ctx.physical_name(logical_id).lower()[:63]
    s3 = ctx.clients("s3")
    args: dict[str, Any] = {"Bucket": name}
    if ctx.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    if truthy(p.get("ObjectLockEnabled", False)):
        args["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**args)
    _bucket_lock(s3, name, p)
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
    return Resolved(name, {"Arn": arn, "DomainName": f"{name}.s3.amazonaws.com"})


def _bucket_lock(s3: Any, name: str, p: Mapping[str, Any]) -> None:
    """Versioning, then the Object Lock configuration (which needs it), as the template says."""
    versioning = p.get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
        )
    lock = p.get("ObjectLockConfiguration")
    if lock:
        config: dict[str, Any] = {"ObjectLockEnabled": lock.get("ObjectLockEnabled", "Enabled")}
        if lock.get("Rule"):
            retention = lock["Rule"]["DefaultRetention"]
            config["Rule"] = {
                "DefaultRetention": {k: v for k, v in retention.items() if v is not None}
            }
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=config)


# -- Secrets Manager


def create_secret(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::SecretsManager::Secret; a generated secret gets a fresh local random value."""
    p = ctx.props(resource)
    name = p.get("Name") or ctx.physical_name(logical_id)
    value = p.get("SecretString")
    generate = p.get("GenerateSecretString")
    if value is None and generate is not None:
        value = _generated_secret(generate)
    arn = ctx.clients("secretsmanager").create_secret(
        Name=name, SecretString=value if value is not None else "{}"
    )["ARN"]
    ctx.deployment.secrets[logical_id] = arn
    return Resolved(arn, {"Id": arn})


def _generated_secret(generate: Mapping[str, Any]) -> str:
    """A local value in place of the one CloudFormation would generate."""
    secret = secrets.token_urlsafe(24)
    if "SecretStringTemplate" in generate:
        template = json.loads(generate["SecretStringTemplate"])
        return json.dumps({**template, generate["GenerateStringKey"]: secret})
    return secret


# -- Step Functions


def create_state_machine(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::StepFunctions::StateMachine with its definition substitutions applied."""
    p = ctx.props(resource)
    name = p.get("StateMachineName") or ctx.physical_name(logical_id)
    definition = _definition(ctx, logical_id, p)
    role_arn = p.get("RoleArn") or f"arn:aws:iam::{ctx.account}:role/{name}-role"
    arn = ctx.clients("stepfunctions").create_state_machine(
        name=name,
        definition=definition,
        roleArn=role_arn,
        type=p.get("StateMachineType", "STANDARD"),
    )["stateMachineArn"]
    ctx.deployment.state_machines[logical_id] = arn
    return Resolved(arn, {"Arn": arn, "Name": name})


def _definition(ctx: ProvisionContext, logical_id: str, p: Mapping[str, Any]) -> str:
    """The ASL text: DefinitionString, Definition or the DefinitionS3Location asset."""
    definition = p.get("DefinitionString")
    if definition is None and "Definition" in p:
        definition = json.dumps(p["Definition"])
    if definition is None and "DefinitionS3Location" in p:
        # CDK's DefinitionBody.fromFile: the ASL file is a cloud assembly asset.
        key = p["DefinitionS3Location"]["Key"]
        if key not in ctx.assets:
            raise AssemblyError(f"{logical_id}: definition asset {key} not in the assembly")
        definition = ctx.assets[key].read_text()
    if definition is None:
        raise AssemblyError(f"{logical_id}: no state machine definition")
    for key, value in (p.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    leftover = re.findall(r"\$\{[A-Za-z0-9_]+\}", definition)
    if leftover:
        raise AssemblyError(f"{logical_id}: unresolved substitutions {sorted(set(leftover))}")
    return str(definition)


# -- EventBridge


def create_event_bus(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::Events::EventBus."""
    p = ctx.props(resource)
    name = p.get("Name") or ctx.physical_name(logical_id)
    arn = ctx.clients("events").create_event_bus(Name=name)["EventBusArn"]
    ctx.deployment.event_buses[logical_id] = name
    return Resolved(name, {"Arn": arn, "Name": name})


def create_rule(ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]) -> Resolved:
    """AWS::Events::Rule on a custom bus with SQS targets only; any other rule is a placeholder.

    A rule on the default bus for an AWS service's events (`source` aws.*) with Lambda targets
    is recorded as a `ServiceEventRule`: the emulation delivers those events itself."""
    p = ctx.props(resource)
    targets = p.get("Targets") or []
    bus = p.get("EventBusName")
    if not bus and _service_rule(p, targets):
        pattern = json.dumps(p["EventPattern"])
        ctx.deployment.service_event_rules.append(
            ServiceEventRule(
                logical_id=logical_id,
                patterns=parse_patterns({"Filters": [{"Pattern": pattern}]}),
                function_arns=tuple(str(t["Arn"]) for t in targets),
            )
        )
    deliverable = bool(targets) and all(":sqs:" in str(t.get("Arn")) for t in targets)
    if not bus or "ScheduleExpression" in p or "EventPattern" not in p or not deliverable:
        return placeholder(logical_id, resource, ctx.region, ctx.account)
    name = p.get("Name") or ctx.physical_name(logical_id)[:64]
    events = ctx.clients("events")
    arn = events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps(p["EventPattern"]),
        State=p.get("State", "ENABLED"),
    )["RuleArn"]
    events.put_targets(
        Rule=name,
        EventBusName=bus,
        Targets=[{"Id": t["Id"], "Arn": t["Arn"]} for t in targets],
    )
    return Resolved(f"{bus}|{name}", {"Arn": arn})


def _service_rule(props: Mapping[str, Any], targets: list[Any]) -> bool:
    sources = (props.get("EventPattern") or {}).get("source") or []
    return (
        bool(targets)
        and all(":lambda:" in str(t.get("Arn")) for t in targets)
        and bool(sources)
        and all(str(s).startswith("aws.") for s in sources)
        and props.get("State", "ENABLED") == "ENABLED"
    )


# -- Cognito

_POOL_PROPERTIES = (
    "Policies",
    "AdminCreateUserConfig",
    "MfaConfiguration",
    "AutoVerifiedAttributes",
    "UsernameAttributes",
    "AliasAttributes",
    "AccountRecoverySetting",
)
_CLIENT_PROPERTIES = (
    "ExplicitAuthFlows",
    "GenerateSecret",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "IdTokenValidity",
    "AccessTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
)


def create_user_pool(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::Cognito::UserPool with its password policy, sign-up and MFA settings."""
    p = ctx.props(resource)
    name = p.get("UserPoolName") or ctx.physical_name(logical_id)
    args = {key: p[key] for key in _POOL_PROPERTIES if key in p}
    pool = ctx.clients("cognito-idp").create_user_pool(PoolName=name, **args)["UserPool"]
    ctx.deployment.user_pools[logical_id] = pool["Id"]
    provider = f"cognito-idp.{ctx.region}.amazonaws.com/{pool['Id']}"
    return Resolved(
        pool["Id"],
        {"Arn": pool["Arn"], "ProviderName": provider, "ProviderURL": f"https://{provider}"},
    )


def create_user_pool_client(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::Cognito::UserPoolClient with its auth flows and token validity."""
    p = ctx.props(resource)
    args = {key: p[key] for key in _CLIENT_PROPERTIES if key in p}
    client = ctx.clients("cognito-idp").create_user_pool_client(
        UserPoolId=p["UserPoolId"], ClientName=p.get("ClientName") or logical_id, **args
    )["UserPoolClient"]
    ctx.deployment.user_pool_clients[logical_id] = (p["UserPoolId"], client["ClientId"])
    return Resolved(client["ClientId"], {"ClientSecret": client.get("ClientSecret", "")})


def create_user_pool_group(
    ctx: ProvisionContext, logical_id: str, resource: Mapping[str, Any]
) -> Resolved:
    """AWS::Cognito::UserPoolGroup."""
    p = ctx.props(resource)
    name = p.get("GroupName") or ctx.physical_name(logical_id)
    ctx.clients("cognito-idp").create_group(
        GroupName=name, UserPoolId=p["UserPoolId"], Description=p.get("Description", "")
    )
    return Resolved(name, {})


CREATORS: Mapping[str, Creator] = {
    "AWS::DynamoDB::Table": create_table,
    "AWS::SQS::Queue": create_queue,
    "AWS::KMS::Key": create_key,
    "AWS::KMS::Alias": create_alias,
    "AWS::SNS::Topic": create_topic,
    "AWS::SecretsManager::Secret": create_secret,
    "AWS::S3::Bucket": create_bucket,
    "AWS::StepFunctions::StateMachine": create_state_machine,
    "AWS::Events::EventBus": create_event_bus,
    "AWS::Events::Rule": create_rule,
    "AWS::Cognito::UserPool": create_user_pool,
    "AWS::Cognito::UserPoolClient": create_user_pool_client,
    "AWS::Cognito::UserPoolGroup": create_user_pool_group,
}
"""CloudFormation type -> the creator of that type in the emulated AWS."""
