"""The operator console on the synthesized template: user pool, groups, client, authorizer,
routes and the console role's trust boundary."""

from __future__ import annotations

import pytest
from infra_iam import actions, refers_to, resources_for
from infra_synth import Synth
from test_api import routes

from stacks.console import PUBLIC_ROUTES, ROLES, SIGNED_IN_ROUTES

pytestmark = pytest.mark.slow


def role_of(synth: Synth, name: str) -> str:
    return str(synth.function(name)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_user_pool_has_no_self_sign_up_and_a_strong_password_policy(synth: Synth) -> None:
    [pool] = synth.of_type("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    for flag in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"):
        assert policy[flag] is True, flag
    assert pool["DeletionPolicy"] == "Retain"


def test_roles_are_the_three_groups(synth: Synth) -> None:
    [pool_id] = synth.of_type("AWS::Cognito::UserPool")
    groups = synth.of_type("AWS::Cognito::UserPoolGroup").values()
    assert sorted(g["Properties"]["GroupName"] for g in groups) == sorted(ROLES)
    assert all(g["Properties"]["UserPoolId"] == {"Ref": pool_id} for g in groups)


def test_console_client_signs_in_by_password_without_a_secret_or_hosted_ui(synth: Synth) -> None:
    [client] = synth.of_type("AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert set(props["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert props["GenerateSecret"] is False
    assert "AllowedOAuthFlows" not in props
    assert props["PreventUserExistenceErrors"] == "ENABLED"
    assert props["IdTokenValidity"] == 60 and props["TokenValidityUnits"]["IdToken"] == "minutes"


def test_signed_in_routes_use_the_cognito_authorizer_reading_the_cookie(synth: Synth) -> None:
    [(authorizer_id, authorizer)] = synth.of_type("AWS::ApiGateway::Authorizer").items()
    [pool_id] = synth.of_type("AWS::Cognito::UserPool")
    props = authorizer["Properties"]
    assert props["Type"] == "COGNITO_USER_POOLS"
    assert props["IdentitySource"] == "method.request.header.Cookie"
    assert props["AuthorizerResultTtlInSeconds"] == 0
    assert refers_to(props["ProviderARNs"], pool_id)
    console_id, _ = synth.function("console")
    table = routes(synth)
    for route in SIGNED_IN_ROUTES:
        method = table[route]
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS", route
        assert method["AuthorizerId"] == {"Ref": authorizer_id}, route
        assert refers_to(method["Integration"]["Uri"], console_id), route
    for route in PUBLIC_ROUTES:
        assert table[route]["AuthorizationType"] == "NONE", route
        assert refers_to(table[route]["Integration"]["Uri"], console_id), route


def test_nothing_changes_state_on_get(synth: Synth) -> None:
    # Every state-changing console route is a POST; the GETs are pages and the stylesheet.
    gets = {path for verb, path in SIGNED_IN_ROUTES + PUBLIC_ROUTES if verb == "GET"}
    assert all(
        not path.endswith(("/take", "/release", "/return", "/resolve", "/cancel")) for path in gets
    )


def test_console_role_reads_and_records_but_cannot_sign_execute_or_invoke(synth: Synth) -> None:
    role = role_of(synth, "console")
    granted = actions(synth.resources, role)
    assert not any(a.startswith(("sqs:", "bedrock:", "lambda:", "ses:")) for a in granted)
    # It signs human attestations (a decision made here, an act-by-hand) with the human key
    # alone: never a plan, never a policy attestation.
    assert {a for a in granted if a.startswith("kms:")} == {"kms:Sign"}
    human = next(k for k in synth.of_type("AWS::KMS::Key") if "HumanKey" in k)
    [key] = resources_for(synth.resources, role, "kms:Sign")
    assert refers_to(key, human)
    assert not any("*" in a for a in granted), granted
    assert "states:StartExecution" not in granted
    machine_id = next(iter(synth.of_type("AWS::StepFunctions::StateMachine")))
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure"):
        [resource] = resources_for(synth.resources, role, action)
        assert refers_to(resource, machine_id)
    ledger_id = next(
        k for k, v in synth.of_type("AWS::DynamoDB::Table").items()
        if {"AttributeName": "pk", "KeyType": "HASH"} in v["Properties"]["KeySchema"]
        and "GlobalSecondaryIndexes" in v["Properties"]  # the memory table has none
    )  # fmt: skip
    for action in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"):
        assert any(refers_to(r, ledger_id) for r in resources_for(synth.resources, role, action))
    secret_id = next(
        k for k, v in synth.of_type("AWS::SecretsManager::Secret").items()
        if "console" in v["Properties"].get("Description", "").lower()
    )  # fmt: skip
    [secret] = resources_for(synth.resources, role, "secretsmanager:GetSecretValue")
    assert refers_to(secret, secret_id)


def test_an_authorizer_refusal_offers_to_continue_or_sign_in(synth: Synth) -> None:
    [response] = synth.of_type("AWS::ApiGateway::GatewayResponse").values()
    props = response["Properties"]
    assert props["ResponseType"] == "UNAUTHORIZED" and props["StatusCode"] == "401"
    headers = props["ResponseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'text/html; charset=utf-8'"
    assert headers["gatewayresponse.header.Content-Security-Policy"] == "'sandbox'"
    [page] = props["ResponseTemplates"].values()
    assert 'href="/$context.stage/console/sign-in?next=$context.path"' in page
