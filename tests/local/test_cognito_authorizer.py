"""The emulated Cognito authorizer on its own, against a bare moto server: it accepts only ID
tokens its pools signed for their own app clients, unexpired, and passes the claims as strings."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local.assembly import CognitoAuthorizerSpec
from local.cognito import CognitoAuthorizer, Unauthorized, create_user


def _pool(clients: Callable[[str], Any]) -> tuple[str, str, str, str]:
    cognito = clients("cognito-idp")
    pool = cognito.create_user_pool(PoolName=f"p-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="console", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        ReadAttributes=["email"],
    )["UserPoolClient"]["ClientId"]  # fmt: skip
    cognito.create_group(GroupName="operator", UserPoolId=pool)
    cognito.create_group(GroupName="approver:refund-request", UserPoolId=pool)
    person = create_user(
        cognito, pool, "ana", "ana@example.com", ["operator", "approver:refund-request"]
    )
    tokens = cognito.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ana", "PASSWORD": person.password},
    )["AuthenticationResult"]  # fmt: skip
    return pool, client, tokens["IdToken"], tokens["AccessToken"]


def test_only_id_tokens_of_the_pools_own_clients_pass(
    moto_endpoint: str, aws_clients: Callable[[str], Any]
) -> None:
    pool, client, id_token, access_token = _pool(aws_clients)
    other_pool, other_client, other_token, _ = _pool(aws_clients)
    authorizer = CognitoAuthorizer(
        CognitoAuthorizerSpec(authorizer_id="a", user_pools=(pool,), header="Cookie"),
        region="us-east-1",
        jwks_url=lambda p: f"{moto_endpoint}/{p}/.well-known/jwks.json",
        clients={pool: [client], other_pool: [other_client]},
    )
    claims = authorizer.claims({"cookie": id_token})
    assert claims["cognito:username"] == "ana" and claims["email"] == "ana@example.com"
    assert set(claims["cognito:groups"].split(",")) == {"operator", "approver:refund-request"}
    assert claims["exp"].endswith(" UTC " + claims["exp"][-4:])  # a date, as API Gateway has it
    assert all(isinstance(v, str) for v in claims.values())
    for headers in (
        {},  # no token
        {"Cookie": access_token},  # not an ID token
        {"Cookie": other_token},  # another pool's token
        {"Authorization": id_token},  # not the identity source
        {"Cookie": id_token[:-4] + "AAAA"},  # signature broken
        {"Cookie": id_token + "; other=1"},  # not the token alone
    ):
        with pytest.raises(Unauthorized):
            authorizer.claims(headers)
    # The same pool, but the authorizer knows no client of it: audience refused.
    strict = CognitoAuthorizer(
        CognitoAuthorizerSpec(authorizer_id="b", user_pools=(pool,), header="Cookie"),
        region="us-east-1",
        jwks_url=lambda p: f"{moto_endpoint}/{p}/.well-known/jwks.json",
        clients={pool: ["some-other-client"]},
    )
    with pytest.raises(Unauthorized):
        strict.claims({"Cookie": id_token})
