"""The decision plane on the synthesized template: its table, decide's grants per provider."""

from __future__ import annotations

import json

import pytest
from infra_iam import actions, grants, refers_to, resources_for, role_statements
from infra_synth import Synth, nag_violations, synthesize

pytestmark = pytest.mark.slow  # uses the synthesized app

MODELS = {
    "small": ["small-model-v1:0"],
    "large": ["us.vendor.large-model-v2:0", "large-model-v1:0"],
}
PROFILE_REGIONS = {"us": ["us-east-1", "us-west-2"]}
PRICES = {m: {"input_per_mtok": 1, "output_per_mtok": 2} for ids in MODELS.values() for m in ids}


def decide_role(synth: Synth) -> str:
    return str(synth.function("decide")[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def decision_table(synth: Synth) -> tuple[str, dict]:
    [(logical_id, table)] = [
        (k, v)
        for k, v in synth.of_type("AWS::DynamoDB::Table").items()
        if v["Properties"]["KeySchema"][0]["AttributeName"] == "item_key"
    ]
    return logical_id, table


@pytest.fixture(scope="module")
def bedrock(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.bedrock"),
        stack_name="AiosKitBedrock",
        model_provider="bedrock",
        model_tiers=json.dumps(MODELS),
        model_prices=json.dumps(PRICES),
        inference_profile_regions=json.dumps(PROFILE_REGIONS),
    )


def test_decision_table_is_on_demand_with_pitr_sse_and_ttl(synth: Synth) -> None:
    _, table = decision_table(synth)
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_only_decide_touches_the_decision_table(synth: Synth) -> None:
    table_id, _ = decision_table(synth)
    env = synth.function("decide")[1]["Properties"]["Environment"]["Variables"]
    assert refers_to(env["AIOS_DECISION_TABLE"], table_id)
    role = decide_role(synth)
    assert {g.action for g in grants(synth.resources, role) if refers_to(g.resource, table_id)} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    for name in ("api", "execute", "finalize"):
        other = str(synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])
        assert not any(refers_to(g.resource, table_id) for g in grants(synth.resources, other))


def test_offline_decide_may_invoke_no_model(synth: Synth) -> None:
    assert not {a for a in actions(synth.resources, decide_role(synth)) if a.startswith("bedrock:")}


def test_decide_gets_tiers_prices_and_cache_ttl_from_context(bedrock: Synth) -> None:
    env = bedrock.function("decide")[1]["Properties"]["Environment"]["Variables"]
    assert json.loads(env["AIOS_MODEL_TIERS"]) == MODELS
    assert json.loads(env["AIOS_MODEL_PRICES"]) == {
        m: {"input_per_mtok": 1.0, "output_per_mtok": 2.0} for m in PRICES
    }
    assert env["AIOS_MODEL_PROVIDER"] == "bedrock"
    assert env["AIOS_MODEL_CACHE_TTL_SECONDS"] == "86400"


def test_bedrock_decide_may_invoke_only_the_configured_models(bedrock: Synth) -> None:
    role = decide_role(bedrock)
    assert {a for a in actions(bedrock.resources, role) if a.startswith("bedrock:")} == {
        "bedrock:InvokeModel"
    }
    arns = json.dumps(resources_for(bedrock.resources, role, "bedrock:InvokeModel"))
    for model_id in ("small-model-v1:0", "large-model-v1:0"):
        assert f":foundation-model/{model_id}" in arns
    assert "*" not in arns
    for name in ("api", "execute", "finalize"):
        other = str(bedrock.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])
        assert not any(a.startswith("bedrock:") for a in actions(bedrock.resources, other))


def _arn(expression: object) -> str:
    """An ARN expression (Fn::Join of literals and pseudo parameters) as one string."""
    if isinstance(expression, dict) and "Fn::Join" in expression:
        sep, parts = expression["Fn::Join"]
        return str(sep).join(_arn(p) for p in parts)
    if isinstance(expression, dict) and "Ref" in expression:
        return "${" + str(expression["Ref"]) + "}"
    return str(expression)


def test_inference_profile_grants_the_profile_and_its_model_in_every_routed_region(
    bedrock: Synth,
) -> None:
    statements = [
        s
        for s in role_statements(bedrock.resources, decide_role(bedrock))
        if s["Action"] == "bedrock:InvokeModel"
    ]
    unconditioned = {_arn(r) for s in statements if "Condition" not in s for r in s["Resource"]}
    profile = (
        "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}"
        ":inference-profile/us.vendor.large-model-v2:0"
    )
    assert profile in unconditioned
    # The profile's foundation model only through the profile, in each Region it routes to.
    [routed] = [s for s in statements if "Condition" in s]
    assert {_arn(r) for r in routed["Resource"]} == {
        f"arn:${{AWS::Partition}}:bedrock:{region}::foundation-model/vendor.large-model-v2:0"
        for region in PROFILE_REGIONS["us"]
    }
    condition = routed["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]
    assert {_arn(c) for c in (condition if isinstance(condition, list) else [condition])} == {
        profile
    }
    # Never the bare model in another Region without the profile, nor the profile's id as a model.
    assert not any("foundation-model/us." in a for a in unconditioned)
    assert not any(
        "vendor.large-model-v2:0" in a and "foundation-model" in a for a in unconditioned
    )


def test_bedrock_variant_is_nag_clean(bedrock: Synth) -> None:
    assert nag_violations(bedrock.outdir) == []


@pytest.fixture(scope="module")
def openai(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out.openai"),
        stack_name="AiosKitOpenAI",
        model_provider="openai",
        openai_base_url="https://models.example.com/v1",
    )


def test_openai_key_lives_in_a_secret_only_decide_reads(openai: Synth) -> None:
    env = openai.function("decide")[1]["Properties"]["Environment"]["Variables"]
    assert env["AIOS_OPENAI_BASE_URL"] == "https://models.example.com/v1"
    [secret_id] = [
        k
        for k, v in openai.of_type("AWS::SecretsManager::Secret").items()
        if "endpoint key" in v["Properties"].get("Description", "")
    ]
    assert refers_to(env["AIOS_OPENAI_SECRET_ARN"], secret_id)
    readers = {
        name
        for name in ("api", "decide", "execute", "finalize")
        if any(
            refers_to(g.resource, secret_id)
            for g in grants(
                openai.resources,
                str(openai.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]),
            )
        )
    }
    assert readers == {"decide"}
    assert not any(a.startswith("bedrock:") for a in actions(openai.resources, decide_role(openai)))
    assert nag_violations(openai.outdir) == []
