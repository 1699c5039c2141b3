"""The REST API: explicit routes, IAM auth (or API keys), access logs, throttling, tracing."""

from __future__ import annotations

import json

import pytest
from infra_iam import refers_to
from infra_synth import Synth

from stacks.console import PUBLIC_ROUTES as CONSOLE_PUBLIC
from stacks.console import SIGNED_IN_ROUTES as CONSOLE_SIGNED_IN

pytestmark = pytest.mark.slow  # uses the synthesized app

ROUTES = {
    ("GET", "/processes"),
    ("POST", "/processes/{process}/cases"),
    ("GET", "/cases/{case_id}"),
    ("GET", "/cases/{case_id}/audit"),
    ("GET", "/kpis"),
    ("GET", "/openapi.json"),
}
# Public: the approvals function checks the link token or Slack's signature itself.
PUBLIC_ROUTES = {
    ("GET", "/approvals/{approval_id}"),
    ("POST", "/approvals/{approval_id}"),
    ("POST", "/slack/interactions"),
    *CONSOLE_PUBLIC,
}
# Behind the console's Cognito authorizer (tests/infra/test_console.py).
COGNITO_ROUTES = set(CONSOLE_SIGNED_IN)


def path_of(synth: Synth, resource_id: str) -> str:
    parts = []
    while True:
        resource = synth.resources.get(resource_id)
        if resource is None or resource["Type"] != "AWS::ApiGateway::Resource":
            break
        parts.append(resource["Properties"]["PathPart"])
        parent = resource["Properties"]["ParentId"]
        if "Ref" not in parent:
            break
        resource_id = parent["Ref"]
    return "/" + "/".join(reversed(parts))


def routes(synth: Synth) -> dict[tuple[str, str], dict]:
    return {
        (m["Properties"]["HttpMethod"], path_of(synth, m["Properties"]["ResourceId"]["Ref"])): m[
            "Properties"
        ]
        for m in synth.of_type("AWS::ApiGateway::Method").values()
    }


def test_exactly_the_declared_routes_exist_and_none_is_a_proxy(synth: Synth) -> None:
    assert set(routes(synth)) == ROUTES | PUBLIC_ROUTES | COGNITO_ROUTES
    for resource in synth.of_type("AWS::ApiGateway::Resource").values():
        assert "+" not in resource["Properties"]["PathPart"]


def test_every_method_requires_iam_and_proxies_to_the_api_function(synth: Synth) -> None:
    api_id, _ = synth.function("api")
    for route, method in routes(synth).items():
        if route in PUBLIC_ROUTES | COGNITO_ROUTES:
            continue
        assert method["AuthorizationType"] == "AWS_IAM", route
        assert not method.get("ApiKeyRequired", False), route
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY", route
        assert refers_to(integration["Uri"], api_id), route
        assert "RequestValidatorId" in method, route


def test_path_parameters_are_required(synth: Synth) -> None:
    for (verb, path), method in routes(synth).items():
        for part in path.split("/"):
            if part.startswith("{"):
                name = f"method.request.path.{part[1:-1]}"
                assert method["RequestParameters"][name] is True, (verb, path)


def test_api_key_mode_gives_each_tenant_a_key_on_its_own_throttled_usage_plan(
    synth_variant: Synth,
) -> None:
    for route, method in routes(synth_variant).items():
        if route in COGNITO_ROUTES:
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route
            assert method["ApiKeyRequired"] is False, route
            continue
        assert method["AuthorizationType"] == "NONE", route
        assert method["ApiKeyRequired"] is (route not in PUBLIC_ROUTES), route
    keys = synth_variant.of_type("AWS::ApiGateway::ApiKey")
    assert len(keys) == 2
    plans = {
        p["Properties"]["Description"]: p["Properties"]
        for p in synth_variant.of_type("AWS::ApiGateway::UsagePlan").values()
    }
    assert plans["AIOS tenant acme"]["Throttle"] == {"RateLimit": 7, "BurstLimit": 9}
    assert plans["AIOS tenant acme"]["Quota"] == {"Limit": 1000, "Period": "DAY"}
    assert plans["AIOS tenant globex"]["Throttle"] == {"RateLimit": 3, "BurstLimit": 5}
    synth_variant.assertions.resource_count_is("AWS::ApiGateway::UsagePlanKey", 2)
    _, api = synth_variant.function("api")
    env = api["Properties"]["Environment"]["Variables"]
    assert env["AIOS_API_AUTH"] == "api_key"
    parts = env["AIOS_TENANT_API_KEYS"]["Fn::Join"][1]  # {"acme": <key id>, "globex": <key id>}
    text = "".join(p if isinstance(p, str) else f"{p['Ref']}" for p in parts)
    mapping = json.loads(text)
    assert set(mapping) == {"acme", "globex"} and set(mapping.values()) == set(keys)
    for link in synth_variant.of_type("AWS::ApiGateway::UsagePlanKey").values():
        tenant = next(t for t, key in mapping.items() if link["Properties"]["KeyId"]["Ref"] == key)
        plan = synth_variant.resources[link["Properties"]["UsagePlanId"]["Ref"]]
        assert plan["Properties"]["Description"] == f"AIOS tenant {tenant}"


def test_under_iam_the_api_reads_principal_tags_and_nothing_else_of_iam(synth: Synth) -> None:
    _, api = synth.function("api")
    assert api["Properties"]["Environment"]["Variables"]["AIOS_API_AUTH"] == "iam"
    assert "AIOS_TENANT_API_KEYS" not in api["Properties"]["Environment"]["Variables"]
    iam_actions = {
        action
        for policy in synth.of_type("AWS::IAM::Policy").values()
        if refers_to(policy["Properties"]["Roles"], api["Properties"]["Role"]["Fn::GetAtt"][0])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
        if action.startswith("iam:")
    }
    assert iam_actions == {"iam:ListUserTags", "iam:ListRoleTags"}
    synth.assertions.resource_count_is("AWS::ApiGateway::ApiKey", 0)


def test_stage_writes_json_access_logs_is_throttled_and_traced(synth: Synth) -> None:
    stages = synth.of_type("AWS::ApiGateway::Stage")
    assert len(stages) == 1
    stage = next(iter(stages.values()))["Properties"]
    access_logs = next(
        iter(
            k
            for k in synth.of_type("AWS::Logs::LogGroup")
            if refers_to(stage["AccessLogSetting"]["DestinationArn"], k)
        )
    )
    assert access_logs
    fmt = stage["AccessLogSetting"]["Format"]
    assert fmt.startswith("{") and "$context.requestId" in fmt and "$context.status" in fmt
    assert stage["TracingEnabled"] is True
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 50
    assert settings["ThrottlingBurstLimit"] == 100
    assert settings["DataTraceEnabled"] is False


def test_throttling_follows_config(synth_variant: Synth) -> None:
    stage = next(iter(synth_variant.of_type("AWS::ApiGateway::Stage").values()))["Properties"]
    (settings,) = stage["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (7, 9)


def test_only_approval_and_console_sign_in_routes_are_public(synth: Synth) -> None:
    approvals_id, _ = synth.function("approvals")
    for route, method in routes(synth).items():
        public = route in PUBLIC_ROUTES
        assert (method["AuthorizationType"] == "NONE") is public, route
        approval = public and route not in CONSOLE_PUBLIC
        assert refers_to(method["Integration"]["Uri"], approvals_id) is approval, route
