"""Memory infrastructure per `memory_engine`: none, serverless (collection + policies) and
managed (domain); the records table, the index custom resource, least-privilege roles, nag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_iam import actions, refers_to, resources_for
from infra_synth import Synth, nag_violations, synthesize

pytestmark = pytest.mark.slow  # synthesizes the app

MEMORY_FUNCTIONS = ("memory", "memory_indexer", "memory_reconciler")


@pytest.fixture(scope="module")
def serverless(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk.out.serverless"), memory_engine="serverless")


@pytest.fixture(scope="module")
def managed(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk.out.managed"), memory_engine="managed")


def _role(synth: Synth, function: str) -> str:
    return str(synth.function(function)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def _only(synth: Synth, type_: str) -> tuple[str, dict[str, Any]]:
    found = synth.of_type(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return next(iter(found.items()))


def _context_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    """The memory's context bucket (the audit anchor's buckets are tests/infra/test_audit_anchor)."""
    [found] = [(k, v) for k, v in synth.of_type("AWS::S3::Bucket").items() if "MemoryContext" in k]
    return found


def _policy(resource: dict[str, Any]) -> Any:
    """A policy document that may be a JSON string or an Fn::Join around role ARNs."""
    policy = resource["Properties"]["Policy"]
    if isinstance(policy, str):
        return json.loads(policy)
    return policy


def _memory_table(synth: Synth) -> tuple[str, dict[str, Any]]:
    table = next(
        iter(
            synth.function("memory_indexer")[1]["Properties"]["Environment"]["Variables"][
                "AIOS_MEMORY_TABLE"
            ].values()
        )
    )
    return table, synth.resources[table]


def test_none_deploys_only_the_memory_function(synth: Synth) -> None:
    env = synth.function("memory")[1]["Properties"]["Environment"]["Variables"]
    assert env["AIOS_MEMORY_ENGINE"] == "none" and "AIOS_MEMORY_TABLE" not in env
    assert not [t for t in synth.resources.values() if t["Type"].startswith("AWS::OpenSearch")]
    assert not synth.of_type("Custom::AiosMemoryIndex")
    for name in ("memory_indexer", "memory_reconciler"):
        with pytest.raises(AssertionError):
            synth.function(name)
    assert not [
        a
        for a in actions(synth.resources, _role(synth, "memory"))
        if a.startswith(("aoss:", "es:", "bedrock:"))
    ]


@pytest.mark.parametrize("engine", ["serverless", "managed"])
def test_the_records_table_streams_both_images_and_expires_by_ttl(
    engine: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(engine)
    _, table = _memory_table(synth)
    props = table["Properties"]
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    mappings = [
        m
        for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
        if refers_to(m["Properties"]["EventSourceArn"], _memory_table(synth)[0])
    ]
    assert len(mappings) == 1
    assert refers_to(mappings[0]["Properties"]["FunctionName"], synth.function("memory_indexer")[0])
    assert mappings[0]["Properties"]["BisectBatchOnFunctionError"] is True


@pytest.mark.parametrize("engine", ["serverless", "managed"])
def test_the_index_is_created_by_a_custom_resource_after_the_engine(
    engine: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(engine)
    _, index = _only(synth, "Custom::AiosMemoryIndex")
    assert refers_to(index["Properties"]["ServiceToken"], synth.function("memory_reconciler")[0])
    assert (
        index["Properties"]["Index"] == "aios-memory" and index["Properties"]["Dimensions"] == 512
    )
    engine_id = _only(
        synth,
        "AWS::OpenSearchServerless::Collection"
        if engine == "serverless"
        else "AWS::OpenSearchService::Domain",
    )[0]
    assert engine_id in index["DependsOn"]
    rules = synth.of_type("AWS::Events::Rule").values()
    assert any(
        refers_to(r["Properties"]["Targets"], synth.function("memory_reconciler")[0])
        and r["Properties"]["ScheduleExpression"] == "rate(1 hour)"
        for r in rules
    )


def test_serverless_collection_has_encryption_network_and_data_policies(serverless: Synth) -> None:
    _, collection = _only(serverless, "AWS::OpenSearchServerless::Collection")
    name = collection["Properties"]["Name"]
    assert collection["Properties"]["Type"] == "VECTORSEARCH"
    policies = {
        p["Properties"]["Type"]: p
        for p in serverless.of_type("AWS::OpenSearchServerless::SecurityPolicy").values()
    }
    assert set(policies) == {"encryption", "network"}
    encryption = _policy(policies["encryption"])
    assert encryption["Rules"] == [
        {"ResourceType": "collection", "Resource": [f"collection/{name}"]}
    ]
    assert encryption["AWSOwnedKey"] is True
    network = _policy(policies["network"])
    assert [r["Resource"] for rule in network for r in rule["Rules"]] == [[f"collection/{name}"]]
    assert set(collection["DependsOn"]) == {
        k for k, v in serverless.of_type("AWS::OpenSearchServerless::SecurityPolicy").items()
    }


def test_serverless_data_access_is_scoped_to_the_memory_roles(serverless: Synth) -> None:
    _, access = _only(serverless, "AWS::OpenSearchServerless::AccessPolicy")
    parts = access["Properties"]["Policy"]["Fn::Join"][1]
    # The document joins literal JSON with one role ARN per principal: rebuild it with markers.
    text = "".join(p if isinstance(p, str) else f"ROLE:{p['Fn::GetAtt'][0]}" for p in parts)
    rules = {
        entry["Principal"][0].removeprefix("ROLE:"): entry["Rules"] for entry in json.loads(text)
    }
    roles = {name: _role(serverless, name) for name in MEMORY_FUNCTIONS}
    assert set(rules) == set(roles.values())  # nobody else, no wildcard principal
    permissions = {role: {p for r in rs for p in r["Permission"]} for role, rs in rules.items()}
    assert permissions[roles["memory"]] == {"aoss:DescribeIndex", "aoss:ReadDocument"}
    assert permissions[roles["memory_indexer"]] == {
        "aoss:DescribeIndex",
        "aoss:ReadDocument",
        "aoss:WriteDocument",
    }
    assert "aoss:CreateIndex" in permissions[roles["memory_reconciler"]]
    assert not any("aoss:DeleteIndex" in p or "aoss:*" in p for p in permissions.values())
    resources = {res for rs in rules.values() for r in rs for res in r["Resource"]}
    assert resources == {"index/aioskit-memory/aios-memory"} and all(
        r["ResourceType"] == "index" for rs in rules.values() for r in rs
    )
    collection = _only(serverless, "AWS::OpenSearchServerless::Collection")[0]
    for name, role in roles.items():
        assert all(
            refers_to(r, collection)
            for r in resources_for(serverless.resources, role, "aoss:APIAccessAll")
        ), name
    for name in ("decide", "execute", "api"):
        assert not [
            a
            for a in actions(serverless.resources, _role(serverless, name))
            if a.startswith("aoss:")
        ]


def test_managed_domain_is_encrypted_https_only_with_fine_grained_access(managed: Synth) -> None:
    _, domain = _only(managed, "AWS::OpenSearchService::Domain")
    props = domain["Properties"]
    assert props["EncryptionAtRestOptions"]["Enabled"] is True
    assert props["NodeToNodeEncryptionOptions"]["Enabled"] is True
    assert props["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert props["DomainEndpointOptions"]["TLSSecurityPolicy"].startswith("Policy-Min-TLS-1-2")
    security = props["AdvancedSecurityOptions"]
    assert security["Enabled"] is True and security["InternalUserDatabaseEnabled"] is False
    assert refers_to(
        security["MasterUserOptions"]["MasterUserARN"], _role(managed, "memory_reconciler")
    )
    assert (
        props["ClusterConfig"]["InstanceType"] == "t3.small.search"
        and props["ClusterConfig"]["InstanceCount"] == 1
    )
    assert props["EBSOptions"]["VolumeType"] == "gp3"


def test_managed_roles_have_least_privilege_http_verbs(managed: Synth) -> None:
    domain = _only(managed, "AWS::OpenSearchService::Domain")[0]
    verbs = {
        name: {a for a in actions(managed.resources, _role(managed, name)) if a.startswith("es:")}
        for name in MEMORY_FUNCTIONS
    }
    assert verbs["memory"] == {"es:ESHttpGet", "es:ESHttpPost"}  # search only: no PUT/DELETE
    assert {"es:ESHttpPut", "es:ESHttpDelete"} <= verbs["memory_indexer"]
    assert "es:ESHttpHead" in verbs["memory_reconciler"]
    assert not any("es:*" in v or "es:ESHttp*" in v for v in verbs.values())
    for name in MEMORY_FUNCTIONS:
        for verb in verbs[name]:
            assert all(
                refers_to(r, domain)
                for r in resources_for(managed.resources, _role(managed, name), verb)
            )
    for name in ("decide", "execute", "api"):
        assert not [
            a for a in actions(managed.resources, _role(managed, name)) if a.startswith("es:")
        ]


@pytest.mark.parametrize("engine", ["serverless", "managed"])
def test_memory_roles_touch_only_their_table_items(
    engine: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(engine)
    table = _memory_table(synth)[0]

    def dynamo(name: str) -> set[str]:
        role = _role(synth, name)
        return {
            a
            for a in actions(synth.resources, role)
            if a.startswith("dynamodb:")
            and any(refers_to(r, table) for r in resources_for(synth.resources, role, a))
        }

    assert dynamo("memory") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    }  # Learn writes, Recall reads
    assert dynamo("memory_reconciler") == {"dynamodb:Scan", "dynamodb:UpdateItem"}
    # The indexer reads the stream only (through the event source mapping's stream grants).
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & dynamo(
        "memory_indexer"
    )
    for name in MEMORY_FUNCTIONS:
        bedrock = resources_for(synth.resources, _role(synth, name), "bedrock:InvokeModel")
        assert bedrock and all("amazon.titan-embed-text-v2:0" in json.dumps(r) for r in bedrock)


@pytest.mark.parametrize("engine", ["serverless", "managed"])
def test_memory_engines_are_nag_clean(engine: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(engine)
    assert nag_violations(synth.outdir) == []


def test_context_bucket_is_private_encrypted_tls_only_and_expires_claims(synth: Synth) -> None:
    bucket_id, bucket = _context_bucket(synth)
    props = bucket["Properties"]
    assert (
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "AES256"
    )
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert [r["ExpirationInDays"] for r in props["LifecycleConfiguration"]["Rules"]] == [7]
    policies = [
        p
        for p in synth.of_type("AWS::S3::BucketPolicy").values()
        if refers_to(p["Properties"]["Bucket"], bucket_id)
    ]
    denies = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
    ]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_only_api_checks_in_and_only_decide_and_recall_redeem_claims(synth: Synth) -> None:
    bucket_id = _context_bucket(synth)[0]

    def s3(name: str) -> set[str]:
        role = _role(synth, name)
        return {g for g in actions(synth.resources, role) if g.startswith("s3:")}

    assert s3("api") == {"s3:PutObject"}
    assert s3("memory") == {"s3:GetObject"}
    assert s3("decide") == {"s3:GetObject", "s3:PutObject"}  # PutObject: bodies/ only (below)
    for name, action in (
        ("api", "s3:PutObject"),
        ("decide", "s3:GetObject"),
        ("memory", "s3:GetObject"),
    ):
        resources = resources_for(synth.resources, _role(synth, name), action)
        assert resources and all(
            refers_to(r, bucket_id) and "/cases/*" in json.dumps(r) for r in resources
        )
        env = synth.function(name)[1]["Properties"]["Environment"]["Variables"]
        assert (
            refers_to(env["AIOS_CONTEXT_BUCKET"], bucket_id)
            and env["AIOS_CONTEXT_MAX_BYTES"] == "65536"
        )
    assert s3("execute") == {"s3:GetObject"}  # bodies/ only (below)
    for name in ("finalize", "approvals", "approval_request", "console"):
        assert not s3(name)


def test_with_memory_the_case_machine_is_the_asl_file_itself(serverless: Synth) -> None:
    """Memory on: Recall before Decide, Learn last, the file as is but for the states that went
    to the Succeed state, which end instead."""
    from test_resources import case_machine_definition

    from stacks.case_machine import CASE_ASL, ending_instead_of_succeed

    deployed, props = case_machine_definition(serverless)
    assert deployed == ending_instead_of_succeed(json.loads(CASE_ASL.read_text()))
    assert deployed["StartAt"] == "Recall"
    assert deployed["States"]["LearnSuccess"]["End"] is True
    assert "MemoryFunctionArn" in props["DefinitionSubstitutions"]
    machine = next(iter(serverless.of_type("AWS::StepFunctions::StateMachine").values()))
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked = resources_for(serverless.resources, role, "lambda:InvokeFunction")
    assert {"Fn::GetAtt": [serverless.function("memory")[0], "Arn"]} in invoked


def test_only_decide_puts_action_bodies_and_only_execute_redeems_them(synth: Synth) -> None:
    """Claim checks of large action bodies: the proposer writes, the executor reads, each under
    `bodies/` only, and neither may touch the other's side."""
    bucket_id = _context_bucket(synth)[0]
    for name, action, other in (
        ("decide", "s3:PutObject", "s3:GetObject"),
        ("execute", "s3:GetObject", "s3:PutObject"),
    ):
        role = _role(synth, name)
        resources = resources_for(synth.resources, role, action)
        bodies = [r for r in resources if "/bodies/*" in json.dumps(r)]
        assert bodies and all(refers_to(r, bucket_id) for r in bodies)
        assert not any(
            "/bodies/*" in json.dumps(r) for r in resources_for(synth.resources, role, other)
        )
        env = synth.function(name)[1]["Properties"]["Environment"]["Variables"]
        assert refers_to(env["AIOS_CONTEXT_BUCKET"], bucket_id)
        assert env["AIOS_BODY_INLINE_MAX_BYTES"] == "8192"
    execute = resources_for(synth.resources, _role(synth, "execute"), "s3:GetObject")
    assert all("/bodies/*" in json.dumps(r) for r in execute)
