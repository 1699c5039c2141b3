"""The REST API: explicit routes, IAM auth (or API keys), access logs, throttling, tracing."""

from __future__ import annotations

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


def test_api_key_mode_requires_keys_and_a_throttled_usage_plan(synth_variant: Synth) -> None:
    for route, method in routes(synth_variant).items():
        if route in COGNITO_ROUTES:
            assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route
            assert method["ApiKeyRequired"] is False, route
            continue
        assert method["AuthorizationType"] == "NONE", route
        assert method["ApiKeyRequired"] is (route not in PUBLIC_ROUTES), route
    synth_variant.assertions.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    synth_variant.assertions.has_resource_properties(
        "AWS::ApiGateway::UsagePlan", {"Throttle": {"RateLimit": 7, "BurstLimit": 9}}
    )
    synth_variant.assertions.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


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
